#include "common/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace waypost {

void init_logging(const std::string& level, const std::string& file_path) {
  std::shared_ptr<spdlog::logger> logger;
  if (file_path.empty()) {
    logger = spdlog::stderr_logger_st("waypost");
  } else {
    logger = spdlog::basic_logger_st("waypost", file_path);
    logger->flush_on(spdlog::level::info);
  }
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(level.empty() ? "info" : level));
  spdlog::set_default_logger(logger);
}

}  // namespace waypost
