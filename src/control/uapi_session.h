#pragma once
// The UAPI protocol on a stream connection: frames requests, answers get from the device state
// and applies set to the device.

#include <functional>
#include <memory>

#include "control/stream_server.h"
#include "wireguard/device.h"

namespace waypost::control {

// `after_set` runs after every successful set (e.g. to re-resolve MTU or log the change).
std::unique_ptr<Session> make_uapi_session(wireguard::Device& device,
                                           std::function<void()> after_set = {});

}  // namespace waypost::control
