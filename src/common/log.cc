#include "common/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "common/log_journal.h"

namespace waypost {

void init_logging(const std::string& level, const std::string& file_path) {
  spdlog::sink_ptr sink;
  bool journal = false;
  if (file_path.empty()) {
    journal = stderr_is_journal();
    if (journal) {
      sink = make_journal_sink();
    } else {
      sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    }
  } else {
    // Logs name peers' keys and addresses: not for every user on the machine, and neither are
    // the files rotation creates later (hence the umask for the rest of the process).
    const mode_t old = ::umask(0);
    ::umask(old | 027);
    const int fd = ::open(file_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd >= 0) {
      ::fchmod(fd, 0640);
      ::close(fd);
    }
    // Rotated by size: <name>.log, then <name>.1.log ... <name>.5.log, at most ~60 MiB in all.
    sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(file_path, kLogFileBytes,
                                                                  kLogFilesKept);
  }
  auto logger = std::make_shared<spdlog::logger>("waypost", sink);
  // The journal has its own time stamps and priorities: its lines are the message alone.
  logger->set_pattern(journal ? "%v" : "%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  if (!file_path.empty()) logger->flush_on(spdlog::level::info);
  logger->set_level(spdlog::level::from_str(level.empty() ? "info" : level));
  spdlog::set_default_logger(logger);
}

}  // namespace waypost
