#pragma once
// Every IKE SA of one instance (strongSwan's ike_sa_manager): finds the SA an IKE datagram
// belongs to by its SPIs, answers a new IKE_SA_INIT request with the connections whose addresses
// fit, starts SAs for `initiate`, runs their timers and drops them once they are gone.
//
// Sockets are the caller's: it hands in each IKE message (without the non-ESP marker of port
// 4500) with the addresses it came from and went to, and sends what IkeManagerHost::send_ike
// gives it.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "crypto/random.h"
#include "ike/cookies.h"
#include "ike/ike_sa.h"

namespace waypost::ike {

// What the instance provides (sockets, SPIs, pools, the data plane): IkeSaHost's calls, less
// the rekeyed IKE SAs' successors, which the manager keeps itself.
class IkeManagerHost {
 public:
  virtual ~IkeManagerHost() = default;
  virtual void send_ike(const net::Endpoint& local, const net::Endpoint& remote,
                        std::span<const uint8_t> message) = 0;
  virtual uint32_t allocate_spi() = 0;
  virtual std::optional<net::IpAddress> lease_address(const Pool& pool, const std::string& peer_id,
                                                      net::Family family) = 0;
  virtual void child_sa_up(IkeSa& ike, const ChildSaInfo& child) = 0;
  virtual void child_sa_down(IkeSa& ike, const ChildSaInfo& child) = 0;
  virtual void ike_sa_down(IkeSa& ike, std::string_view reason) = 0;
  virtual void child_sa_failed(IkeSa& /*ike*/, const std::string& /*child*/,
                               std::string_view /*reason*/) {}
  virtual void diagnosed(IkeSa& /*ike*/, const Diagnosis& /*d*/) {}
  // A finding about a peer that has no IKE SA (it speaks IKEv1, say), for connection `conn`.
  virtual void diagnosed_without_sa(const Connection& /*conn*/, const net::Endpoint& /*remote*/,
                                    const Diagnosis& /*d*/) {}
};

struct IkeCounters {
  uint64_t malformed = 0;       // datagrams that did not parse as IKE
  uint64_t unknown_sa = 0;      // SPIs of no SA of ours
  uint64_t no_connection = 0;   // IKE_SA_INIT requests no connection's addresses fit
  uint64_t cookies_sent = 0;    // IKE_SA_INIT requests answered with a COOKIE, statelessly
  uint64_t half_open_full = 0;  // IKE_SA_INIT requests dropped: the half-open table is full
};

// Limits on SAs that answered IKE_SA_INIT but have not been authenticated (half-open): above
// `cookie_threshold` a request must carry a valid COOKIE; at `max_half_open` new requests are
// dropped, so a flood from forged addresses cannot grow memory without bound. Half-open SAs
// go after kHalfOpenTimeout (ike_sa.h).
struct HalfOpenLimits {
  size_t cookie_threshold = 10;  // strongSwan's default
  size_t max_half_open = 2000;
};

class IkeManager final : private IkeSaHost {
 public:
  IkeManager(const Clock& clock, crypto::Random& random, IkeManagerHost& host,
             const IpsecConfig& config, HalfOpenLimits limits = {});
  ~IkeManager() override;
  IkeManager(const IkeManager&) = delete;
  IkeManager& operator=(const IkeManager&) = delete;

  void receive(std::span<const uint8_t> message, const net::Endpoint& local,
               const net::Endpoint& remote);

  // Starts connection `conn` with its child `child` (the first child if empty) from `local` to
  // `remote`.
  Result<IkeSa*> initiate(const std::string& conn, const std::string& child,
                          const net::Endpoint& local, const net::Endpoint& remote);
  // The same with several children: the first rides in IKE_AUTH, each further one gets a
  // CREATE_CHILD_SA of its own once the IKE SA is up. None: the connection's first child.
  Result<IkeSa*> initiate_children(const std::string& conn, std::span<const std::string> children,
                                   const net::Endpoint& local, const net::Endpoint& remote);
  // Adds `children` of `conn` (none: its first child) to the connection's IKE SA that is up or
  // coming up, as strongSwan reuses an IKE SA for `swanctl --initiate --child`: each child not
  // already there gets a CREATE_CHILD_SA of its own. Null when the connection has no such SA;
  // an error for unknown names.
  Result<IkeSa*> add_children(const std::string& conn, std::span<const std::string> children);
  // MOBIKE as initiator, after this host's addresses or routes changed: each established SA we
  // originally initiated with MOBIKE whose address toward its peer (`local_toward`; nullopt: no
  // route now, so it waits for the next change) is another one now, and one its connection's
  // local_addrs allow, moves there (IkeSa::move_local). Returns how many moved.
  size_t roam(
      const std::function<std::optional<net::IpAddress>(const net::IpAddress&)>& local_toward);
  // Deletes every IKE SA of connection `conn`; returns how many.
  size_t terminate(const std::string& conn, std::string_view reason);
  // Deletes every IKE SA whose peer authenticated as `remote_id` (as IkeSa::remote_id() prints
  // it), of any connection; returns how many.
  size_t terminate_remote(const std::string& remote_id, std::string_view reason);

  Nanos next_timer() const;
  void on_timer();

  const std::vector<std::unique_ptr<IkeSa>>& sas() const { return sas_; }
  size_t half_open() const;
  const IkeCounters& counters() const { return counters_; }

 private:
  // IkeSaHost: forwarded to the instance; ike_sa_down also marks the SA for removal.
  void send_ike(const net::Endpoint& local, const net::Endpoint& remote,
                std::span<const uint8_t> message) override;
  uint32_t allocate_spi() override;
  std::optional<net::IpAddress> lease_address(const Pool& pool, const std::string& peer_id,
                                              net::Family family) override;
  void child_sa_up(IkeSa& ike, const ChildSaInfo& child) override;
  void child_sa_down(IkeSa& ike, const ChildSaInfo& child) override;
  void ike_sa_down(IkeSa& ike, std::string_view reason) override;
  void child_sa_failed(IkeSa& ike, const std::string& child, std::string_view reason) override {
    host_.child_sa_failed(ike, child, reason);
  }
  void ike_sa_rekeyed(IkeSa& old, std::unique_ptr<IkeSa> successor) override;
  bool admit_peer(IkeSa& ike, bool initial_contact) override;
  void reauth_due(IkeSa& ike) override;
  void diagnosed(IkeSa& ike, const Diagnosis& d) override { host_.diagnosed(ike, d); }

  IkeSa* find(const Header& h, const net::Endpoint& remote);
  // The connection and its children by name (none: the first), each once; errors name the
  // unknown one.
  Result<std::pair<const Connection*, std::vector<const Child*>>> resolve_children(
      const std::string& conn, std::span<const std::string> children) const;
  // Deletes every IKE SA `match` selects (not those already going); returns how many.
  size_t terminate_matching(const std::function<bool(const IkeSa&)>& match,
                            std::string_view reason);
  std::vector<const Connection*> candidates(const net::Endpoint& local,
                                            const net::Endpoint& remote) const;
  // Whether a new IKE_SA_INIT request may make an SA; otherwise it has been answered with a
  // COOKIE or dropped.
  bool admit(const Message& request, const net::Endpoint& local, const net::Endpoint& remote);
  // Drops SAs that reached DESTROYING; called only between SA method calls.
  void sweep();
  // An IKEv1 message: a finding for the connections its addresses fit, once a minute per peer.
  void diagnose_ikev1(const net::Endpoint& local, const net::Endpoint& remote);

  const Clock& clock_;
  crypto::Random& random_;
  IkeManagerHost& host_;
  const IpsecConfig& config_;
  std::vector<std::unique_ptr<IkeSa>> sas_;
  std::vector<std::unique_ptr<IkeSa>> successors_;  // added to sas_ by sweep()
  HalfOpenLimits limits_;
  CookieJar cookies_;
  // Reauthentications under way: the new SA's unique id -> the old SA's.
  std::map<uint32_t, uint32_t> reauth_of_;
  IkeCounters counters_;
  // When each IKEv1 peer was last told about (its retransmissions are not news).
  std::map<net::IpAddress, Nanos> ikev1_said_;
};

}  // namespace waypost::ike
