// `dispatch`: the CLI and, as `dispatch server`, the single-node runtime (src/dispatch).
#include "dispatch/cli.h"

int main(int argc, char** argv) { return dispatch::RunCli(argc, argv); }
