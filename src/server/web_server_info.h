#pragma once
// The server's side of the web admin's server page (web/server_info.h): the version and uptime,
// the VPN's and the DNS resolver's numbers from the running server's control socket (as
// `waypost server status` reads them), and `waypost doctor` run as a child process of this
// binary, in the background, bounded in time, its JSON kept for the page.

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "web/server_info.h"

namespace waypost::server {

class WebServerInfo final : public web::ServerInfo {
 public:
  // `up_since`: when the server started (unix seconds).
  WebServerInfo(std::string dir, int64_t up_since) : dir_(std::move(dir)), up_since_(up_since) {}
  ~WebServerInfo() override;
  WebServerInfo(const WebServerInfo&) = delete;
  WebServerInfo& operator=(const WebServerInfo&) = delete;

  Result<nlohmann::json> overview() override;
  Status start_doctor() override;
  nlohmann::json doctor() override;

 private:
  void run_doctor();

  std::string dir_;
  int64_t up_since_;
  std::mutex mu_;
  bool running_ = false;
  int64_t ran_at_ = 0;
  nlohmann::json findings_ = nlohmann::json::array();
  std::string error_;
  std::atomic<pid_t> child_{-1};  // the doctor's PID while it runs
  std::thread thread_;
};

}  // namespace waypost::server
