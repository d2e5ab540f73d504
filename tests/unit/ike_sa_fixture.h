#pragma once
// The in-memory pair of IKE endpoints that the IkeSa tests share (ike_sa_test.cc,
// ike_diagnosis_test.cc): two sides on a virtual clock, a wire between them, and the
// configurations of carol (initiator) and moon (responder).
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "crypto/random.h"
#include "ike/ike_sa.h"
#include "ike/ts_narrowing.h"

namespace waypost::ike::testing {

struct Datagram {
  net::Endpoint from;
  net::Endpoint to;
  std::vector<uint8_t> bytes;
};

// One side: its configuration and what the IKE SA told it.
struct Side final : IkeSaHost {
  explicit Side(const std::string& text, std::deque<Datagram>& wire) : wire_(wire) {
    auto parsed = parse_swanctl_text(text, "test.conf", nullptr);
    EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message);
    if (parsed.ok()) config = std::move(*parsed);
  }
  void send_ike(const net::Endpoint& local, const net::Endpoint& remote,
                std::span<const uint8_t> message) override {
    ++sent;
    if (drop_next > 0) {
      --drop_next;
      return;
    }
    if (mute) return;
    wire_.push_back({local, remote, std::vector<uint8_t>(message.begin(), message.end())});
  }
  uint32_t allocate_spi() override { return next_spi++; }
  std::optional<net::IpAddress> lease_address(const Pool& pool, const std::string& peer_id,
                                              net::Family /*family*/) override {
    leases.push_back(peer_id);
    net::IpAddress a = pool.addrs.first;
    a.bytes[a.byte_length() - 1] = uint8_t(a.bytes[a.byte_length() - 1] + leases.size());
    return a;
  }
  void child_sa_up(IkeSa& /*ike*/, const ChildSaInfo& child) override { up.push_back(child); }
  void child_sa_down(IkeSa& /*ike*/, const ChildSaInfo& child) override {
    down.push_back(child.name);
  }
  void ike_sa_down(IkeSa& /*ike*/, std::string_view reason) override {
    gone_reason = std::string(reason);
  }
  void ike_sa_rekeyed(IkeSa& /*old*/, std::unique_ptr<IkeSa> successor) override {
    successors.push_back(std::move(successor));
  }
  void diagnosed(IkeSa& /*ike*/, const Diagnosis& d) override { diagnoses.push_back(d); }
  std::vector<Diagnosis> diagnoses;
  std::vector<std::unique_ptr<IkeSa>> successors;

  IpsecConfig config;
  std::deque<Datagram>& wire_;
  uint32_t next_spi = 0xc1000001;
  std::vector<std::string> leases;
  std::vector<ChildSaInfo> up;
  std::vector<std::string> down;
  std::optional<std::string> gone_reason;
  int drop_next = 0;
  bool mute = false;
  int sent = 0;
};

inline constexpr const char* kSecrets = R"(
secrets {
  ike-1 {
    id-moon = moon.example.org
    id-carol = carol@example.org
    secret = 0sv+NkxY9LLZvwj4qCC2o/gGrWDF2d21jL
  }
}
)";

inline std::string responder_conf(const std::string& extra = "",
                                  const std::string& secrets = kSecrets) {
  return R"(
connections {
  rw {
    local_addrs = 192.0.2.1
    pools = v4
    dpd_delay = 30s
    )" + extra +
         R"(
    local { auth = psk
            id = moon.example.org }
    remote { auth = psk }
    children {
      net { local_ts = 10.1.0.0/16
            esp_proposals = aes128gcm16, aes256-sha256 }
    }
  }
}
pools { v4 { addrs = 10.3.0.0/28
             dns = 10.3.0.1 } }
)" + secrets;
}

inline std::string initiator_conf(const std::string& extra = "",
                                  const std::string& secrets = kSecrets) {
  return R"(
connections {
  home {
    remote_addrs = 192.0.2.1
    vips = 0.0.0.0
    )" + extra +
         R"(
    local { auth = psk
            id = carol@example.org }
    remote { auth = psk
             id = moon.example.org }
    children {
      home { remote_ts = 10.1.0.0/16
             start_action = start }
    }
  }
}
)" + secrets;
}

class IkeSaTest : public ::testing::Test {
 protected:
  void SetUp() override {}

  void make(const std::string& init_text, const std::string& resp_text) {
    carol = std::make_unique<Side>(init_text, wire);
    moon = std::make_unique<Side>(resp_text, wire);
  }

  void start() {
    const Connection& conn = carol->config.connections.at(0);
    auto sa = IkeSa::initiate({clock, random_i, *carol, carol->config}, conn, &conn.children.at(0),
                              carol_ep, moon_ep);
    ASSERT_TRUE(sa.ok()) << sa.error().message;
    initiator = std::move(*sa);
  }

  // Delivers datagrams until the wire is empty (bounded).
  void pump() {
    for (int i = 0; i < 100 && !wire.empty(); ++i) {
      Datagram d = std::move(wire.front());
      wire.pop_front();
      auto m = parse_message(d.bytes);
      ASSERT_TRUE(m.ok()) << m.error().message;
      if (d.to.ip() == moon_ep.ip()) {
        ++to_moon;
        if (!responder) {
          if (m->header.exchange != ExchangeType::kIkeSaInit || m->header.response) continue;
          std::vector<const Connection*> candidates;
          for (const auto& c : moon->config.connections) candidates.push_back(&c);
          responder = IkeSa::respond({clock, random_r, *moon, moon->config}, candidates, *m,
                                     d.bytes, d.to, d.from);
        } else {
          responder->receive(*m, d.bytes, d.to, d.from);
        }
      } else {
        ++to_carol;
        if (initiator) initiator->receive(*m, d.bytes, d.to, d.from);
      }
    }
  }

  // Runs the timers of both SAs until `until`, pumping in between.
  void run_until(Nanos until) {
    for (int i = 0; i < 10000; ++i) {
      Nanos next = until;
      if (initiator) next = std::min(next, initiator->next_timer());
      if (responder) next = std::min(next, responder->next_timer());
      if (next > until) break;
      clock.set(std::max(clock.now(), next));
      if (initiator && initiator->next_timer() <= clock.now()) initiator->on_timer();
      if (responder && responder->next_timer() <= clock.now()) responder->on_timer();
      pump();
      if (next == until) break;
    }
    clock.set(std::max(clock.now(), until));
  }

  ManualClock clock;
  crypto::SeededRandom random_i{1};
  crypto::SeededRandom random_r{2};
  std::deque<Datagram> wire;
  std::unique_ptr<Side> carol, moon;
  std::unique_ptr<IkeSa> initiator, responder;
  net::Endpoint carol_ep = net::Endpoint::parse("198.51.100.7:500").value();
  net::Endpoint moon_ep = net::Endpoint::parse("192.0.2.1:500").value();
  int to_moon = 0;
  int to_carol = 0;
};

}  // namespace waypost::ike::testing
