// The driver as a whole: resolve AWS configuration and credentials, provision, relay until
// told to stop, clean up if asked. cmd/dispatch-events-aws/main.cc is a thin wrapper.
#pragma once

#include "common/status.h"
#include "driver/options.h"

namespace driver {

// Runs the driver until SIGTERM/SIGINT. Returns the process exit code: 0 after a clean stop,
// 1 when provisioning or configuration failed (the reason is logged on stderr).
// Must be called from the main thread before any other thread starts (it blocks the stop
// signals in every thread and waits for them here).
int RunDriver(const DriverOptions& options);

}  // namespace driver
