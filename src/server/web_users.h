#pragma once
// The server's side of the web admin's user list (web/user_directory.h): reads config.yaml,
// state.json and the client files, asks the running server for its sessions over the control
// socket, and changes users through server/user_changes.h, exactly as `waypost users ...` does.
// It runs on the web listener's thread and shares no memory with the daemon's event loop.

#include <string>
#include <vector>

#include "web/user_directory.h"

namespace waypost::server {

class WebUsers final : public web::UserDirectory {
 public:
  explicit WebUsers(std::string dir) : dir_(std::move(dir)) {}

  Result<std::vector<web::UserView>> list() override;
  Result<web::UserView> add(const std::string& name) override;
  Status remove(const std::string& name) override;
  Result<web::UserView> set_enabled(const std::string& name, bool enabled) override;
  Result<web::UserView> rename(const std::string& name, const std::string& new_name) override;
  Result<std::vector<web::ProfileFile>> files(const std::string& name) override;
  Result<std::string> file(const std::string& name, const std::string& file_name) override;
  Result<std::string> qr_svg(const std::string& name) override;

 private:
  Result<web::UserView> one(const std::string& name);
  std::string dir_;
};

}  // namespace waypost::server
