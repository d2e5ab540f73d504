#pragma once
// One IKE SA (RFC 7296) in either role, and the CHILD SAs it negotiated.
//
// The exchanges live in their own files, as strongSwan keeps its tasks apart:
//   ike_sa_init.cc     IKE_SA_INIT: proposals, key exchange (with INVALID_KE_PAYLOAD retry),
//                      nonces, NAT detection, COOKIE retry; derives the IKE SA's keys
//   ike_auth.cc        IKE_AUTH: identities, PSK authentication, the configuration payload
//                      (virtual IPs, DNS) and the first CHILD SA (child_negotiation.cc)
//   create_child_sa.cc CREATE_CHILD_SA: further CHILD SAs (add_child) and CHILD SA rekeys
//   informational.cc   INFORMATIONAL: liveness checks (DPD) and DELETE
// This file owns what every exchange shares: the message IDs, the window of one outstanding
// request with its retransmissions, the last response (answered again to a retransmitted
// request), encryption of SK payloads and the state.
//
// States, as strongSwan names them (status shows these):
//
//   CREATED --initiate()--> CONNECTING --IKE_AUTH done--> ESTABLISHED --delete--> DELETING
//      |                        |                             |                      |
//      +-- respond(): INIT answered, waits for IKE_AUTH       +-- peer deleted,      |
//                               |                             |   DPD gave up        v
//                               +--- failure / timeout -------+----------------> DESTROYING
//                                                             |                      ^
//                                  IKE SA rekeyed (successor) +--> REKEYED ----------+
//                                                              (old SA, until its DELETE)
//
// DESTROYING is final: the host is told (IkeSaHost::ike_sa_down) and drops the object.
//
// Not thread-safe: one event loop drives all IKE SAs of an instance.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/log_fields.h"
#include "common/result.h"
#include "crypto/random.h"
#include "ike/algorithms.h"
#include "ike/diagnosis.h"
#include "ike/fragments.h"
#include "ike/keymat.h"
#include "ike/message.h"
#include "ike/payloads.h"
#include "ike/proposal_match.h"
#include "ike/sk_cipher.h"
#include "ike/swanctl_conf.h"
#include "net/ip.h"

namespace waypost::ike {

enum class IkeSaState : uint8_t {
  kCreated,
  kConnecting,
  kEstablished,
  kRekeyed,  // replaced by a successor after a rekey; waits for the old SA's DELETE
  kDeleting,
  kDestroying,
};
std::string_view to_string(IkeSaState state);

// Why an IKE SA ended, for what the instance does next (dpd_action, close_action, keyingtries).
enum class IkeSaEnd : uint8_t {
  kNone,         // not ended
  kLocal,        // we deleted it (terminate, shutdown)
  kPeerDeleted,  // the peer deleted it
  kDeadPeer,     // the peer stopped answering an established SA
  kFailed,       // it never got established, or a negotiation failed
  kRekeyed,      // a successor took over
  kReplaced,     // a newer SA of the same peer took its place (INITIAL_CONTACT, unique)
};

// A negotiated CHILD SA, as the host installs it in the data plane.
struct ChildSaInfo {
  std::string name;      // the child's name in the configuration
  uint32_t spi_in = 0;   // ours: the peer sends with it
  uint32_t spi_out = 0;  // the peer's
  NegotiatedAlgorithms algorithms;
  bool esn = false;
  std::vector<TrafficSelector> local_ts;
  std::vector<TrafficSelector> remote_ts;
  // KEYMAT split in RFC 7296 2.17's order, "initiator" meaning the initiator of the exchange
  // that made this CHILD SA (IKE_AUTH, or the CREATE_CHILD_SA of a rekey, whoever started it):
  // inbound_keys()/outbound_keys() pick the halves.
  ChildSaKeys keys;
  bool we_initiated = false;
  Nanos installed_at = 0;
  Nanos rekey_at = kNever;   // we start a rekey then (rekey_time less up to rand_time)
  Nanos expire_at = kNever;  // life_time: deleted then if no rekey succeeded

  // (encryption, integrity) for traffic we receive / send.
  std::pair<const SecretBytes*, const SecretBytes*> inbound_keys() const;
  std::pair<const SecretBytes*, const SecretBytes*> outbound_keys() const;
};

class IkeSa;

// What an IKE SA needs from its surroundings.
class IkeSaHost {
 public:
  virtual ~IkeSaHost() = default;
  // One IKE message. The host adds the four-zero non-ESP marker when either port is 4500.
  virtual void send_ike(const net::Endpoint& local, const net::Endpoint& remote,
                        std::span<const uint8_t> message) = 0;
  // A fresh inbound ESP SPI, unique among this instance's SAs (never 0 or 1-255).
  virtual uint32_t allocate_spi() = 0;
  // A rekey replaced `old` with `successor` (RFC 7296 2.18), which now holds the CHILD SAs; the
  // host keeps the successor. The old SA goes later (ike_sa_down) without its children.
  virtual void ike_sa_rekeyed(IkeSa& old, std::unique_ptr<IkeSa> successor) = 0;
  // An address from a pool for a peer that asked for one; nullopt when the pool is exhausted.
  virtual std::optional<net::IpAddress> lease_address(const Pool& pool, const std::string& peer_id,
                                                      net::Family family) = 0;
  virtual void child_sa_up(IkeSa& ike, const ChildSaInfo& child) = 0;
  virtual void child_sa_down(IkeSa& ike, const ChildSaInfo& child) = 0;
  // A CHILD SA this SA asked for with a CREATE_CHILD_SA of its own was not created (the IKE SA
  // stays up); `reason` says why.
  virtual void child_sa_failed(IkeSa& /*ike*/, const std::string& /*child*/,
                               std::string_view /*reason*/) {}
  // `ike`'s reauth_time has come: the host starts a new IKE SA for the same connection (make
  // before break) and deletes `ike` once the new one is up.
  virtual void reauth_due(IkeSa& /*ike*/) {}
  // `ike` has just authenticated its peer (`initial_contact`: the peer said it holds no other
  // SA with us, RFC 7296 2.4). The host applies `unique` and INITIAL_CONTACT to the peer's older
  // SAs; false refuses this one (unique = keep while another exists).
  virtual bool admit_peer(IkeSa& /*ike*/, bool /*initial_contact*/) { return true; }
  // The IKE SA reached DESTROYING; `reason` says why for the log. The host may destroy it once
  // this call returns.
  virtual void ike_sa_down(IkeSa& ike, std::string_view reason) = 0;
  // `ike` found what is wrong with its connection (diagnosis.h); also in the log.
  virtual void diagnosed(IkeSa& /*ike*/, const Diagnosis& /*d*/) {}
};

struct IkeSaEnv {
  const Clock& clock;
  crypto::Random& random;
  IkeSaHost& host;
  const IpsecConfig& config;
};

// Retransmission of an unanswered request (strongSwan's defaults: 4 s, times 1.8 each try, 5
// tries, so about 165 s in all). A connection's dpd_timeout, when set, bounds the total for
// liveness checks.
// How long a responder waits for IKE_AUTH after answering IKE_SA_INIT (strongSwan: 30 s).
constexpr Nanos kHalfOpenTimeout = seconds(30);

// Unanswered IKE_SA_INIT transmissions (about 11 s with the default policy) before `diagnose`
// says so, long before the SA gives up.
constexpr int kTriesBeforeEarlyDiagnosis = 3;

struct RetransmitPolicy {
  Nanos first = seconds(4);
  double base = 1.8;
  int tries = 5;
};

class IkeSa {
 public:
  // Starts an IKE SA to `remote` for `conn`, with `child` (may be null) as its first CHILD SA:
  // sends the IKE_SA_INIT request.
  static Result<std::unique_ptr<IkeSa>> initiate(IkeSaEnv env, const Connection& conn,
                                                 const Child* child, const net::Endpoint& local,
                                                 const net::Endpoint& remote);
  // Answers an IKE_SA_INIT request. `candidates` are the connections whose addresses fit, in
  // order of preference; the one whose proposals match is used (IKE_AUTH may still move to
  // another candidate with the same proposals, chosen by identity). Returns null when the
  // request was refused (the refusal, such as NO_PROPOSAL_CHOSEN, has been sent).
  static std::unique_ptr<IkeSa> respond(IkeSaEnv env, std::vector<const Connection*> candidates,
                                        const Message& request, std::span<const uint8_t> raw,
                                        const net::Endpoint& local, const net::Endpoint& remote);
  IkeSa(const IkeSa&) = delete;
  IkeSa& operator=(const IkeSa&) = delete;
  ~IkeSa();

  // A message for this SA (its SPIs matched); `raw` is the datagram without the non-ESP marker.
  void receive(const Message& message, std::span<const uint8_t> raw, const net::Endpoint& local,
               const net::Endpoint& remote);
  // Timers: retransmission, liveness check. on_timer() does what is due.
  Nanos next_timer() const;
  void on_timer();
  // Sends a DELETE for the IKE SA (and with it every CHILD SA); DESTROYING when answered or
  // given up on.
  void terminate(std::string_view reason);
  // Drops the SA without telling the peer (which restarted and knows nothing of it).
  void abandon(std::string_view reason) { end(IkeSaEnd::kReplaced, reason); }
  IkeSaEnd end_cause() const { return end_; }
  // Whether IKE_AUTH carries INITIAL_CONTACT (not when reauthenticating: the old SA must live
  // until the new one is up). Set before IKE_AUTH is sent.
  void set_initial_contact(bool send) { initial_contact_ = send; }
  // Sets up `child` with a CREATE_CHILD_SA of its own once the SA is established and no other
  // exchange is under way (a connection's further start children: only the first rides in
  // IKE_AUTH). Children queue in order. False when the SA is going away.
  bool add_child(const Child& child);
  // The children this SA was asked to set up (and has not yet), carries, or carried when it
  // ended: what dpd_action, close_action and keyingtries bring back. Each name once, in order.
  std::vector<std::string> child_names() const;
  // Whether child `name` is up on this SA, being set up, or queued for it.
  bool has_or_wants_child(const std::string& name) const;
  // Rekeys the CHILD SA with inbound SPI `spi_in` now (make-before-break: the new SA is
  // installed before the old one is deleted). False if there is no such child or another
  // exchange is under way (the rekey then happens at its next timer).
  bool rekey_child(uint32_t spi_in);
  // MOBIKE (RFC 4555) as the SA's original initiator: this host now reaches the peer from
  // `address` (an interface or network went, another came). The SA moves there and tells the
  // peer with an UPDATE_SA_ADDRESSES (with fresh NAT detection), so the IKE and CHILD SAs carry
  // on without renegotiation. False, changing nothing, when MOBIKE was not negotiated, we are not
  // the original initiator, the SA is not established or the address is the one it has.
  bool move_local(const net::IpAddress& address);
  bool original_initiator() const { return original_initiator_; }
  bool mobike() const { return mobike_; }
  // Rekeys the IKE SA itself now (a new SA with fresh keys takes over the CHILD SAs, and the old
  // one is deleted). False if another exchange is under way.
  bool rekey_ike();

  IkeSaState state() const { return state_; }
  // A successor SA took over its CHILD SAs and virtual IPs (an IKE SA rekey).
  bool rekeyed() const { return rekeyed_; }
  // Unique per process, as strongSwan's IKE SA unique id (status output, `initiate` results).
  uint32_t unique_id() const { return unique_id_; }
  bool initiator() const { return initiator_; }
  uint64_t spi_i() const { return spi_i_; }
  uint64_t spi_r() const { return spi_r_; }
  uint64_t own_spi() const { return initiator_ ? spi_i_ : spi_r_; }
  const std::string& name() const;  // the connection's name
  const Connection& connection() const { return *conn_; }
  const net::Endpoint& local() const { return local_; }
  const net::Endpoint& remote() const { return remote_; }
  const std::string& local_id() const { return local_id_text_; }
  const std::string& remote_id() const { return remote_id_text_; }
  bool nat_detected() const { return nat_local_ || nat_remote_; }
  // This side is behind a NAT: it sends NAT-T keepalives to keep the mapping open.
  bool behind_nat() const { return nat_local_; }
  const ChosenProposal& proposal() const { return ike_proposal_; }
  const std::vector<ChildSaInfo>& children() const { return children_; }
  const std::vector<net::IpAddress>& virtual_ips() const { return vips_; }
  // Initiator: the DNS servers the peer's configuration payload named (with our virtual IPs).
  const std::vector<net::IpAddress>& dns_servers() const { return dns_; }
  Nanos established_at() const { return established_at_; }
  // Why the SA failed or went, for status and logs ("AUTHENTICATION_FAILED from peer").
  const std::string& failure() const { return failure_; }
  // "conn[3]": a name for logs, as strongSwan prints it.
  std::string describe() const;

 private:
  struct InitState;  // IKE_SA_INIT's ephemeral data (ike_sa_init.cc)
  struct AuthState;  // IKE_AUTH's (ike_auth.cc)

  IkeSa(IkeSaEnv env, bool initiator, const Connection& conn, const net::Endpoint& local,
        const net::Endpoint& remote);

  // --- plumbing (ike_sa.cc) ---
  void send_request(ExchangeType exchange, const Payloads& payloads, bool encrypted);
  void send_response(const Header& request, const Payloads& payloads, bool encrypted);
  // A message as it goes out: one datagram, or its IKE fragments (RFC 7383) when fragmentation
  // was negotiated and the message is larger than a fragment; `header` and `inner` are kept to
  // fragment it again smaller if the peer does not answer.
  struct Sealed {
    std::vector<uint8_t> bytes;
    std::vector<std::vector<uint8_t>> fragments;
    Header header;
    Payloads inner;
    bool small = false;  // fragmented for a 576-byte path already
  };
  void transmit(std::span<const uint8_t> bytes);
  std::vector<uint8_t> seal(const Header& header, const Payloads& inner);
  // The SKF messages carrying `inner`, none larger than `max_message` bytes.
  std::vector<std::vector<uint8_t>> seal_fragments(const Header& header, const Payloads& inner,
                                                   size_t max_message);
  // seal(), then fragments if negotiated and needed.
  Sealed seal_message(const Header& header, const Payloads& inner);
  void transmit(const Sealed& sealed);
  void transmit_response(const Sealed& sealed);
  // Fragments a message again for the smallest path (RFC 7383 2.5.2), once.
  void refragment_small(Sealed& sealed);
  // Authenticates and decrypts an SK payload, or one SKF fragment (RFC 7383): a fragment is
  // stored until its message is complete, and until then open() says so as an error.
  Result<Payloads> open(const Message& message, std::span<const uint8_t> raw);
  void handle_request(const Message& message, std::span<const uint8_t> raw);
  void handle_response(const Message& message, std::span<const uint8_t> raw);
  void fail(std::string reason);
  void destroy(std::string_view reason);
  // destroy(), recording why (the first cause recorded stays).
  void end(IkeSaEnd cause, std::string_view reason);
  void become_established();
  void schedule_liveness();

  // --- IKE_SA_INIT (ike_sa_init.cc) ---
  Status start_init();
  Status send_init_request();
  bool process_init_request(const Message& request, std::span<const uint8_t> raw,
                            const std::vector<const Connection*>& candidates);
  void process_init_response(const Message& response, std::span<const uint8_t> raw);
  Status derive_keys(std::span<const uint8_t> peer_ke);
  Payloads nat_detection_payloads(bool fake_source);
  void detect_nat(const Payloads& payloads);
  // nat_local_ / nat_remote_ from the NAT_DETECTION payloads in `payloads`, hashed with SPIs
  // spi_i_ and `spi_r`; false (nothing changed) when the peer sent none.
  bool update_nat_state(const Payloads& payloads, uint64_t spi_r);

  // --- IKE_AUTH (ike_auth.cc) ---
  void send_auth_request();
  // Our ID payload, CERT payloads (certificate rounds) and AUTH payload for `round`, over our
  // IKE_SA_INIT message and the peer's nonce; `peer` is the identity the PSK is looked up for.
  struct OwnAuth {
    IdPayload id;
    Payloads certs;
    AuthPayload auth;
  };
  Result<OwnAuth> authenticate_self(const AuthRound& round, const Identity& peer,
                                    const std::vector<uint8_t>& sa_init,
                                    const std::vector<uint8_t>& peer_nonce,
                                    const SecretBytes& sk_p);
  // Checks the peer's AUTH (and certificate) against the `remote` round; the error says why.
  Status check_peer_auth(const AuthRound& remote, const AuthRound& local, const Payloads& inner,
                         const IdPayload& id, const AuthPayload& auth,
                         const std::vector<uint8_t>& sa_init, const std::vector<uint8_t>& our_nonce,
                         const SecretBytes& sk_p);
  void process_auth_request(const Message& request, const Payloads& inner);
  void process_auth_response(const Payloads& inner);

  // --- CREATE_CHILD_SA (create_child_sa.cc) ---
  struct RekeyState;
  struct ChildExchange;
  // Starts the first queued child when the SA is established and its window free.
  void start_queued_child();
  // The CREATE_CHILD_SA request for a new CHILD SA; false if it could not be made.
  bool request_new_child(const Child& config);
  // Our nonce (and KE, when the child's ESP proposals name a group) into `st` and `p`.
  Status add_nonce_and_ke(RekeyState& st, const Child& config, Payloads& p);
  // The responder's answer to our CREATE_CHILD_SA: its choice, the keys and the selectors.
  Result<ChildExchange> complete_child_exchange(const RekeyState& st, const Payloads& inner) const;
  void process_new_child_response(const RekeyState& st, const Payloads& inner);
  void process_create_child_request(const Message& request, const Payloads& inner);
  void process_create_child_response(const Payloads& inner);
  void delete_child(uint32_t spi_in);
  void schedule_child_rekey(ChildSaInfo& child, const Child* config);
  void install_child(ChildSaInfo child);
  const Child* child_config(const std::string& name) const;
  bool children_have(uint32_t spi_in) const;

  // --- rekeying the IKE SA (ike_rekey.cc) ---
  struct IkeRekeyState;
  void process_ike_rekey_request(const Message& request, const Payloads& inner);
  void process_ike_rekey_response(const Payloads& inner);
  std::unique_ptr<IkeSa> make_successor(bool we_initiated, uint64_t spi_i, uint64_t spi_r,
                                        ChosenProposal proposal, const IkeSaKeys& keys);
  void schedule_ike_rekey();
  void schedule_hard_expiry();
  // Logs `d` and hands it to the host (diagnosis.h).
  void diagnose(Diagnosis d);
  // Our request `exchange` got no answer after `tries`.
  void diagnose_no_answer(ExchangeType exchange, int tries);
  // The diagnosis for a failed check_peer_auth (its Error::code is a Cause when known).
  void diagnose_peer_auth(const Error& e);
  // A CHILD SA we could not create as responder (select_child's error), and one the peer
  // refused with `refusal`.
  void diagnose_child_mismatch(const SaPayload& sa, const TsPayload& tsi, const TsPayload& tsr,
                               const Error& e);
  void diagnose_child_refusal(const Child& child, NotifyType refusal);
  // For the journal's fields (common/log_fields.h): the remote identity and address.
  LogFields log_fields() const;

  // --- INFORMATIONAL (informational.cc) ---
  void process_informational_request(const Message& request, const Payloads& inner);
  void process_informational_response(const Payloads& inner);
  // An UPDATE_SA_ADDRESSES request (RFC 4555 3.5): the SA moves to where it came from; appends
  // the NAT detection payloads the answer carries.
  void move_to_request_addresses(const Payloads& inner, Payloads& out);
  void send_liveness_check();
  // The UPDATE_SA_ADDRESSES that move_local() asked for, once the window of one is free.
  void send_address_update();
  void process_address_update_response(const Payloads& inner);

  IkeSaEnv env_;
  bool initiator_;
  const Connection* conn_;
  const Child* first_child_ = nullptr;  // initiator: the CHILD SA to set up in IKE_AUTH
  IkeSaState state_ = IkeSaState::kCreated;
  uint64_t spi_i_ = 0;
  uint64_t spi_r_ = 0;
  net::Endpoint local_;
  net::Endpoint remote_;
  bool nat_local_ = false;
  bool nat_remote_ = false;
  // The peer's fragmented message being reassembled (one request and one response at most).
  struct Reassembly {
    bool response = false;
    uint32_t message_id = 0;
    FragmentReassembler fragments;
  };
  std::optional<Reassembly> reassembly_;
  bool fragmentation_ = false;  // both sides announced IKEV2_FRAGMENTATION_SUPPORTED
  bool mobike_ = false;         // both sides announced MOBIKE_SUPPORTED (RFC 4555)
  // We initiated the first IKE SA of this line (rekeys keep it): only that side moves the SA
  // with MOBIKE (RFC 4555 3.1).
  bool original_initiator_ = false;
  bool address_update_due_ = false;   // move_local() happened; UPDATE_SA_ADDRESSES to send
  bool address_update_sent_ = false;  // our UPDATE_SA_ADDRESSES is the outstanding request
  // Where the request being processed came from and went to (MOBIKE's address update).
  net::Endpoint request_from_;
  net::Endpoint request_to_;
  bool rekeyed_ = false;
  IkeSaEnd end_ = IkeSaEnd::kNone;
  bool initial_contact_ = true;
  Nanos reauth_at_ = kNever;  // reauth_time (SAs we initiated); kNever once under way
  // The hard lifetime (over_time past rekeying or reauthentication, or over_time alone when
  // neither is configured): the SA is deleted then, whoever was meant to renew it.
  Nanos expire_at_ = kNever;
  uint32_t unique_id_ = 0;

  ChosenProposal ike_proposal_;
  std::optional<Prf> prf_;
  SecretBytes sk_d_;
  std::optional<SkCipherPair> ciphers_;
  std::unique_ptr<InitState> init_;
  std::unique_ptr<AuthState> auth_;
  std::unique_ptr<RekeyState> rekey_;         // our CREATE_CHILD_SA under way
  std::unique_ptr<IkeRekeyState> ike_rekey_;  // our IKE SA rekey under way
  Nanos ike_rekey_at_ = kNever;
  Nanos retire_at_ = kNever;     // REKEYED: gone then even if the peer never deletes it
  uint32_t deleting_child_ = 0;  // our INFORMATIONAL deleting this CHILD SA (inbound SPI)

  // Message IDs and the window of one (RFC 7296 2.3).
  uint32_t next_request_id_ = 0;   // our next request
  uint32_t expected_peer_id_ = 0;  // the peer's next request
  struct Outstanding {
    uint32_t message_id = 0;
    ExchangeType exchange = ExchangeType::kIkeSaInit;
    std::vector<uint8_t> bytes;
    Sealed sealed;
    int sent = 0;
    Nanos next_at = kNever;
    Nanos give_up_at = kNever;  // liveness checks bounded by dpd_timeout
  };
  std::optional<Outstanding> request_;
  struct LastResponse {
    uint32_t message_id = 0;
    std::vector<uint8_t> bytes;
    Sealed sealed;
  };
  std::optional<LastResponse> last_response_;
  RetransmitPolicy retransmit_;

  std::string local_id_text_;
  std::string remote_id_text_;
  std::vector<ChildSaInfo> children_;
  // add_child's queue (children's names) and when its head may go (after TEMPORARY_FAILURE).
  std::vector<std::string> queued_children_;
  Nanos queued_child_at_ = 0;
  std::vector<std::string> ended_with_;  // children_'s names when the SA ended
  std::vector<net::IpAddress> vips_;
  std::vector<net::IpAddress> dns_;
  Nanos established_at_ = 0;
  Nanos last_inbound_ = 0;  // for DPD: any authenticated message from the peer
  Nanos liveness_at_ = kNever;
  Nanos half_open_until_ = kNever;  // responder: IKE_AUTH must come before this
  std::string failure_;
};

}  // namespace waypost::ike
