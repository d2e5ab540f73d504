#include "control/uapi_session.h"

#include "common/log.h"
#include "wireguard/uapi.h"

namespace waypost::control {

namespace {

class UapiSession final : public Session {
 public:
  UapiSession(wireguard::Device& device, std::function<void()> after_set)
      : device_(device), after_set_(std::move(after_set)) {}

  bool on_bytes(std::string_view bytes, std::string& out) override {
    reader_.feed(bytes);
    while (auto next = reader_.next()) {
      if (!next->ok()) {
        spdlog::info("UAPI: {}", next->error().message);
        out += wireguard::format_uapi_errno(
            next->error().code != 0 ? next->error().code : wireguard::kUapiErrorProtocol);
        return false;
      }
      const auto& req = next->value();
      if (req.kind == wireguard::UapiRequestReader::Kind::kGet) {
        out += wireguard::format_uapi_get(device_.uapi_state());
        continue;
      }
      auto set = wireguard::parse_uapi_set(req.body);
      if (!set) {
        spdlog::info("UAPI set rejected: {}", set.error().message);
        out += wireguard::format_uapi_errno(set.error().code != 0 ? set.error().code
                                                                  : wireguard::kUapiErrorInvalid);
        continue;
      }
      auto st = device_.apply(*set);
      if (!st) {
        spdlog::info("UAPI set failed: {}", st.error().message);
        out += wireguard::format_uapi_errno(st.error().code != 0 ? st.error().code
                                                                 : wireguard::kUapiErrorInvalid);
        continue;
      }
      if (after_set_) after_set_();
      out += wireguard::format_uapi_errno(0);
    }
    return true;
  }

 private:
  wireguard::Device& device_;
  std::function<void()> after_set_;
  wireguard::UapiRequestReader reader_;
};

}  // namespace

std::unique_ptr<Session> make_uapi_session(wireguard::Device& device,
                                           std::function<void()> after_set) {
  return std::make_unique<UapiSession>(device, std::move(after_set));
}

}  // namespace waypost::control
