#include "common/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "common/time.h"

namespace common {
namespace {

// Formats each record as one JSON object: {"time","level","program","msg"}.
class JsonFormatter : public spdlog::formatter {
 public:
  explicit JsonFormatter(std::string program) : program_(std::move(program)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::json j;
    j["time"] = FormatIso8601Millis(msg.time);
    j["level"] = std::string(spdlog::level::to_string_view(msg.level).data(),
                             spdlog::level::to_string_view(msg.level).size());
    j["program"] = program_;
    j["msg"] = std::string(msg.payload.data(), msg.payload.size());
    std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    s.push_back('\n');
    dest.append(s.data(), s.data() + s.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>(program_);
  }

 private:
  std::string program_;
};

}  // namespace

bool InitLogging(const LogOptions& options) {
  auto logger = spdlog::stderr_logger_mt(options.program.empty() ? "main" : options.program);
  spdlog::set_default_logger(logger);
  if (options.json) {
    logger->set_formatter(std::make_unique<JsonFormatter>(options.program));
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ " + options.program + ": %v",
                        spdlog::pattern_time_type::utc);
  }
  auto level = spdlog::level::from_str(options.level);
  bool known = !(level == spdlog::level::off && options.level != "off");
  logger->set_level(known ? level : spdlog::level::info);
  logger->flush_on(spdlog::level::trace);
  return known;
}

}  // namespace common
