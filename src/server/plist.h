#pragma once
// What the Apple configuration profiles (the WireGuard app's in bundles.cc, the built-in IKEv2
// client's in ipsec_profiles.cc) share: a plist XML writer, stable payload UUIDs and the
// on-demand rules from config.yaml's ondemand_* keys, so that both profiles of a user behave the
// same on the same networks.

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace waypost::server {

// The five XML special characters as entities.
std::string xml_escape(std::string_view s);

// A UUID that stays the same for the same parts (role, endpoint, user, profile kind), so that
// installing a regenerated profile replaces the old one instead of adding a second VPN next to it.
// Upper-case hex, RFC 9562 version 8, from SHA-256 of the parts.
std::string stable_uuid(std::initializer_list<std::string_view> parts);

// Plist building: one line per element, tab-indented as Apple's tools write them.
class Plist {
 public:
  // The XML declaration, the DOCTYPE and <plist version="1.0">; end() closes the plist.
  void begin();
  void end();

  void key(std::string_view k);
  void string(std::string_view k, std::string_view v);
  void integer(std::string_view k, int v);
  void boolean(std::string_view k, bool v);
  // <data>: base64 in lines of 64 characters (plist readers skip whitespace inside <data>).
  void data(std::string_view k, std::span<const uint8_t> bytes);
  void open(std::string_view tag);
  void close(std::string_view tag);
  void line(std::string_view text);
  std::string& text() { return out_; }

 private:
  std::string out_;
  int depth_ = 0;
};

// Writes the OnDemandEnabled and OnDemandRules keys of a VPN (or IKEv2) dictionary. Rules are
// tried in order and the first match wins: the excluded Wi-Fi networks (Disconnect), Wi-Fi,
// cellular, then a catch-all. A Connect rule carries Apple's captive-portal probe.
void on_demand_rules(Plist& p, bool wifi, bool cellular,
                     const std::vector<std::string>& wifi_exclude);

}  // namespace waypost::server
