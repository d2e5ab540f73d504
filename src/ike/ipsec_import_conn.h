#pragma once
// One ipsec.conf conn, with %default and also= applied, as a swanctl.conf connection: the
// importer's core (ipsec_conf_import.h is the entry point). ipsec_import_conn.cc maps the two
// ends (addresses, subnets, identities, authentication, certificates, virtual IPs, pools);
// ipsec_import_pools.cc virtual IPs, pools and their DNS servers; ipsec_import_options.cc the rest
// (proposals, lifetimes, DPD, actions, flags) and the comments for whatever is left.
//
// Every setting of the conn is either used or commented ("# not carried over: ...") in the
// block it belongs to: Settings marks what was read, and what no step read ends up commented.

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "ike/ipsec_conf.h"
#include "ike/ipsec_conf_import.h"
#include "ike/swanctl_writer.h"

namespace waypost::ike {

// pools { } from rightsourceip= (Libreswan: rightaddresspool=). strongSwan's stroke plugin
// shares a pool between conns that name the same range; so does this.
class PoolSet {
 public:
  // The pool holding `range` (a subnet, a range or one address, already checked), named
  // "<conn>-pool" (then "-pool-2", ...) when it is new.
  std::string add(const std::string& range, const std::string& conn);
  // DNS servers handed out with the pool's addresses; false if it already has others.
  bool set_dns(const std::string& pool, const std::vector<std::string>& dns);
  bool empty() const { return pools_.empty(); }
  void render(SwanctlBlock& pools) const;

 private:
  struct Pool {
    std::string name;
    std::string range;
    std::vector<std::string> dns;
  };
  std::vector<Pool> pools_;
};

// What every conn shares: the options, config setup's settings, the pools.
struct ImportContext {
  bool libreswan = false;
  LocalEnd local = LocalEnd::kAuto;
  const std::vector<net::IpAddress>* host_addresses = nullptr;
  std::string unique;      // swanctl's unique for every connection (from uniqueids)
  std::string revocation;  // from strictcrlpolicy: "strict", "ifuri" or "" (the default)
  std::vector<std::string> taken_names;  // swanctl connection names used so far
  PoolSet pools;
};

// The settings of one resolved conn; get() marks a key as read.
class Settings {
 public:
  explicit Settings(const ResolvedSection& conn);
  const StrokeSetting* get(std::string_view key);
  bool has(std::string_view key) const;
  // Settings no step has read, in the order written.
  std::vector<const StrokeSetting*> unread() const;

 private:
  const ResolvedSection& conn_;
  std::vector<bool> read_;
};

struct ConnImport {
  std::string name;  // the swanctl.conf connection name
  bool skipped = false;
  std::string why_skipped;  // "keyexchange=ikev1 [ipsec.conf:12]: Waypost speaks IKEv2 only"
  SwanctlBlock block{""};
  std::vector<std::string> notes;  // for stderr
};

// A list value's items: split on commas (and, inside Libreswan's {a b} lists, blanks).
std::vector<std::string> list_items(std::string_view value);
// "a, b, c".
std::string comma_list(const std::vector<std::string>& items);

// "# not carried over: key=value (why) [file:line]".
void not_carried(SwanctlBlock& block, const StrokeSetting& s, std::string_view why);
// key=value as written, for messages: quoted when it holds blanks.
std::string shown(const StrokeSetting& s);

class ConnBuilder {
 public:
  ConnBuilder(const ResolvedSection& conn, ImportContext& ctx);
  ConnImport build();

 private:
  // ipsec_import_conn.cc
  bool skip_checks();
  void choose_local_end();
  void addresses();
  void traffic_selectors();
  void authentication(bool local);
  void virtual_ips_and_pools();
  // ipsec_import_options.cc
  void version();
  void proposals();
  void lifetimes();
  void dead_peer_detection();
  void actions();
  void flags();
  void leftovers();
  void skip(const StrokeSetting& s, std::string_view why);
  // The first of several names for one setting ("lifetime", "keylife"); the others commented.
  const StrokeSetting* first_of(std::initializer_list<std::string_view> aliases);

  // "left<suffix>" or "right<suffix>" for this host's end (local) or the peer's.
  std::string end_key(bool local, std::string_view suffix) const;
  const StrokeSetting* end(bool local, std::string_view suffix) {
    return settings_.get(end_key(local, suffix));
  }
  SwanctlBlock& round(bool local) { return out_.block.block(local ? "local" : "remote"); }
  SwanctlBlock& child();

  const ResolvedSection& conn_;
  ImportContext& ctx_;
  Settings settings_;
  ConnImport out_;
  bool local_is_left_ = true;
  bool remote_specific_ = false;      // remote_addrs has an address or name to initiate to
  bool remote_ts_ipv6_only_ = false;  // for %config: the tunnel's family
};

}  // namespace waypost::ike
