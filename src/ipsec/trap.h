#pragma once
// start_action = trap (and dpd_action / close_action = trap): the child's remote traffic
// selectors are routed into the instance's TUN device before any SA exists, and the data
// plane's route for them points at a Trap. The first packet that reaches it starts the
// connection; that packet and those that follow while the SAs are negotiated are kept (a few,
// copied: the TUN's buffers are reused) and sent through the CHILD SA once it is up, as
// pfSense's "trap" tunnels behave. An established CHILD SA with the same selectors takes the
// route over; the trap stays underneath for when it goes.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dataplane/path_mtu.h"
#include "dataplane/tunnel.h"
#include "net/ip.h"

namespace waypost::ipsec {

class Trap final : public dataplane::Tunnel {
 public:
  static constexpr size_t kMaxQueued = 32;

  // `trigger` is called with the trap when a packet arrives and no initiation is under way.
  Trap(std::string conn, std::string child, std::vector<net::Prefix> remote, uint32_t mtu,
       std::function<void(Trap&)> trigger);

  // dataplane::Tunnel: packets are queued (up to kMaxQueued; the rest are dropped and counted).
  void send(std::span<dataplane::Packet> packets) override;
  std::string describe() const override;
  dataplane::PathMtu& path() override { return path_; }
  uint32_t overhead() const override;
  bool send_probe(dataplane::Packet /*packet*/) override { return false; }
  void schedule_probe(Nanos /*delay*/) override {}

  // The initiation it triggered is over: a new packet may trigger another.
  void initiation_done() { initiating_ = false; }
  // Hands the queued packets to `sink` (with the data plane's head- and tailroom), calls
  // `send_now` (which must send what `sink` queued: the copies go right after), and forgets them.
  void flush_to(dataplane::Tunnel& sink, const std::function<void()>& send_now);
  void drop_queued() { queued_.clear(); }

  const std::string& conn() const { return conn_; }
  const std::string& child() const { return child_; }
  const std::vector<net::Prefix>& remote() const { return remote_; }
  uint64_t triggered() const { return triggered_; }
  uint64_t dropped() const { return dropped_; }

 private:
  std::string conn_;
  std::string child_;
  std::vector<net::Prefix> remote_;
  dataplane::PathMtu path_;
  std::function<void(Trap&)> trigger_;
  bool initiating_ = false;
  std::vector<std::vector<uint8_t>> queued_;  // slot-sized copies
  uint64_t triggered_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace waypost::ipsec
