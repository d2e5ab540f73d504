#include "common/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace waypost {

void init_logging(const std::string& level, const std::string& file_path) {
  std::shared_ptr<spdlog::logger> logger;
  if (file_path.empty()) {
    logger = spdlog::stderr_logger_st("waypost");
  } else {
    // Logs name peers' keys and addresses: not for every user on the machine.
    int fd = ::open(file_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd >= 0) {
      ::fchmod(fd, 0640);
      ::close(fd);
    }
    logger = spdlog::basic_logger_st("waypost", file_path);
    logger->flush_on(spdlog::level::info);
  }
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(level.empty() ? "info" : level));
  spdlog::set_default_logger(logger);
}

}  // namespace waypost
