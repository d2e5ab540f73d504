#pragma once
// An in-memory UserDirectory for the router's tests and fuzz target: the server's real one
// (server/web_users.h) is covered by the namespace tests against a running server.

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "web/user_directory.h"

namespace waypost::web {

class FakeUsers final : public UserDirectory {
 public:
  FakeUsers() {
    users_.push_back({"phone", "10.49.0.2", "fd00::2", true, true});
    users_.push_back({"laptop", "10.49.0.3", "", true, false});
  }
  bool fail = false;  // every call answers a server-side error

  Result<std::vector<UserView>> list() override {
    if (fail) return make_error(ErrorKind::kIo, "state.json: cannot read");
    return users_;  // in config.yaml's order
  }
  Result<UserView> add(const std::string& name) override {
    if (fail) return make_error(ErrorKind::kIo, "config.yaml: cannot write");
    if (name.empty() || name.size() > 64 || name.find(' ') != std::string::npos) {
      return make_error(ErrorKind::kParse, "a user name is 1-64 letters, digits and _ . @ -");
    }
    if (find(name) != users_.end()) {
      Error e = make_error(ErrorKind::kParse, "user '{}' already exists", name);
      e.code = EEXIST;
      return e;
    }
    UserView u;
    u.name = name;
    u.ipv4 = "10.49.0." + std::to_string(2 + users_.size());
    users_.push_back(u);
    return u;
  }
  Status remove(const std::string& name) override {
    auto it = find(name);
    if (it == users_.end()) return make_error(ErrorKind::kNotFound, "no user named '{}'", name);
    users_.erase(it);
    return {};
  }
  Result<UserView> set_enabled(const std::string& name, bool enabled) override {
    auto it = find(name);
    if (it == users_.end()) return make_error(ErrorKind::kNotFound, "no user named '{}'", name);
    it->enabled = enabled;
    it->disabled_reason = enabled ? "" : "disabled by an admin";
    return *it;
  }
  Result<UserView> rename(const std::string& name, const std::string& new_name) override {
    auto it = find(name);
    if (it == users_.end()) return make_error(ErrorKind::kNotFound, "no user named '{}'", name);
    if (new_name.empty() || new_name.find(' ') != std::string::npos) {
      return make_error(ErrorKind::kParse, "a user name is 1-64 letters, digits and _ . @ -");
    }
    if (find(new_name) != users_.end()) {
      Error e = make_error(ErrorKind::kParse, "user '{}' already exists", new_name);
      e.code = EEXIST;
      return e;
    }
    it->name = new_name;
    return *it;
  }
  // Sets a user's counters as the running server would report them.
  void set_counters(const std::string& name, uint64_t rx, uint64_t tx, bool live = true) {
    auto it = find(name);
    if (it == users_.end()) return;
    it->rx_bytes = rx;
    it->tx_bytes = tx;
    it->live = live;
  }
  // The same by source (a WireGuard peer, CHILD SAs); the totals are their sums.
  void set_sources(const std::string& name, std::vector<UserView::Source> sources) {
    auto it = find(name);
    if (it == users_.end()) return;
    it->rx_bytes = 0;
    it->tx_bytes = 0;
    for (const auto& s : sources) {
      it->rx_bytes += s.rx_bytes;
      it->tx_bytes += s.tx_bytes;
    }
    it->sources = std::move(sources);
    it->live = true;
  }
  Result<std::vector<ProfileFile>> files(const std::string& name) override {
    if (find(name) == users_.end()) return make_error(ErrorKind::kNotFound, "no user '{}'", name);
    return std::vector<ProfileFile>{{name + ".conf", conf(name).size()}};
  }
  Result<std::string> file(const std::string& name, const std::string& file_name) override {
    if (find(name) == users_.end() || file_name != name + ".conf") {
      return make_error(ErrorKind::kNotFound, "no such file");
    }
    return conf(name);
  }
  Result<std::string> qr_svg(const std::string& name) override {
    if (find(name) == users_.end()) return make_error(ErrorKind::kNotFound, "no user '{}'", name);
    return std::string("<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
  }

 private:
  static std::string conf(const std::string& name) { return "[Interface]\n# " + name + "\n"; }
  std::vector<UserView>::iterator find(const std::string& name) {
    return std::find_if(users_.begin(), users_.end(),
                        [&](const UserView& u) { return u.name == name; });
  }
  std::vector<UserView> users_;
};

}  // namespace waypost::web
