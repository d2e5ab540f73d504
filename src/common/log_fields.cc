#include "common/log_fields.h"

#include <mutex>
#include <utility>

namespace waypost {

namespace {

thread_local LogFields current;

std::mutex& names_mutex() {
  static std::mutex m;
  return m;
}

std::map<std::string, std::string>& names() {
  static std::map<std::string, std::string> table;
  return table;
}

}  // namespace

const LogFields& current_log_fields() {
  return current;
}

ScopedLogFields::ScopedLogFields(LogFields fields) : saved_(std::move(current)) {
  current = std::move(fields);
}

ScopedLogFields::~ScopedLogFields() {
  current = std::move(saved_);
}

void set_log_user_names(std::map<std::string, std::string> table) {
  const std::lock_guard<std::mutex> lock(names_mutex());
  names() = std::move(table);
}

std::string log_user_of(const std::string& peer) {
  if (peer.empty()) return {};
  const std::lock_guard<std::mutex> lock(names_mutex());
  auto it = names().find(peer);
  return it == names().end() ? std::string() : it->second;
}

}  // namespace waypost
