#include "common/log_ring.h"

#include <spdlog/spdlog.h>

namespace waypost {

void LogRing::sink_it_(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t formatted;
  formatter_->format(msg, formatted);
  std::string text(formatted.data(), formatted.size());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  const std::lock_guard<std::mutex> lock(ring_mutex_);
  lines_.push_back({next_seq_++, std::move(text)});
  while (lines_.size() > capacity_) lines_.pop_front();
}

std::vector<LogRing::Line> LogRing::read(uint64_t since, std::string_view filter,
                                         size_t max) const {
  std::vector<Line> out;
  const std::lock_guard<std::mutex> lock(ring_mutex_);
  for (const Line& l : lines_) {
    if (out.size() >= max) break;
    if (l.seq < since) continue;
    if (!filter.empty() && l.text.find(filter) == std::string::npos) continue;
    out.push_back(l);
  }
  return out;
}

std::shared_ptr<LogRing> LogRing::attach(size_t capacity) {
  auto ring = std::make_shared<LogRing>(capacity);
  ring->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
  spdlog::default_logger()->sinks().push_back(ring);
  return ring;
}

}  // namespace waypost
