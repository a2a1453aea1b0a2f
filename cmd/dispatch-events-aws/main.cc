// dispatch-events-aws: relays AWS events from SQS to Dispatch or any CloudEvents sink.
#include <cstdio>
#include <string>

#include "driver/driver.h"
#include "driver/options.h"

int main(int argc, char** argv) {
  driver::DriverOptions options;
  std::string help;
  common::Status parsed = driver::ParseCommandLine(argc, argv, &options, &help);
  if (!help.empty()) {
    std::fputs(help.c_str(), stdout);
    return 0;
  }
  if (!parsed.ok()) {
    std::fprintf(stderr, "dispatch-events-aws: %s\n", parsed.message().c_str());
    return 2;
  }
  return driver::RunDriver(options);
}
