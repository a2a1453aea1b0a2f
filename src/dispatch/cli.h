// The `dispatch` command line: `dispatch server` and the client commands of the seed
// (create/get/delete/emit/exec/logs). Errors go to stderr with the server's reason and a
// non-zero exit code.
#pragma once

namespace dispatch {

// Parses argv and runs the command. Returns the process exit code.
int RunCli(int argc, char** argv);

}  // namespace dispatch
