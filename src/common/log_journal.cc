#include "common/log_journal.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include <spdlog/sinks/base_sink.h>

namespace waypost {

namespace {

int syslog_priority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return 7;
    case spdlog::level::info:
      return 6;
    case spdlog::level::warn:
      return 4;
    case spdlog::level::err:
      return 3;
    case spdlog::level::critical:
      return 2;
    default:
      return 6;
  }
}

class JournalSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::vector<std::string> fields = journal_fields(msg, current_log_fields());
    std::vector<iovec> iov;
    iov.reserve(fields.size());
    for (const std::string& f : fields) {
      iov.push_back({const_cast<char*>(f.data()), f.size()});  // NOLINT: sendv does not write
    }
    // A journal that went away (journald restarting) must not take the daemon with it.
    (void)sd_journal_sendv(iov.data(), int(iov.size()));
  }
  void flush_() override {}
};

}  // namespace

bool stderr_is_journal() {
  const char* env = std::getenv("JOURNAL_STREAM");
  if (env == nullptr) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(env, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return st.st_dev == dev && st.st_ino == ino;
}

std::shared_ptr<spdlog::sinks::sink> make_journal_sink() {
  return std::make_shared<JournalSink>();
}

std::vector<std::string> journal_fields(const spdlog::details::log_msg& msg,
                                        const LogFields& fields) {
  std::vector<std::string> out;
  out.push_back("MESSAGE=" + std::string(msg.payload.data(), msg.payload.size()));
  out.push_back("PRIORITY=" + std::to_string(syslog_priority(msg.level)));
  out.emplace_back("SYSLOG_IDENTIFIER=waypost");
  std::string user = fields.user;
  if (user.empty()) user = log_user_of(fields.peer);
  if (!user.empty()) out.push_back("WAYPOST_USER=" + user);
  if (!fields.peer.empty()) out.push_back("WAYPOST_PEER=" + fields.peer);
  if (!fields.protocol.empty()) out.push_back("WAYPOST_PROTOCOL=" + fields.protocol);
  if (!fields.endpoint.empty()) out.push_back("WAYPOST_ENDPOINT=" + fields.endpoint);
  return out;
}

}  // namespace waypost
