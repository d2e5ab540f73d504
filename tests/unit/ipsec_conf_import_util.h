#pragma once
// Helpers of the ipsec.conf import tests (ipsec_conf_import_test.cc,
// ipsec_conf_import_errors_test.cc): convert text or a fixture, and read the result back with
// Waypost's own swanctl.conf parser.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ike/ipsec_conf_import.h"
#include "ike/ipsec_import_values.h"
#include "ike/swanctl_conf.h"
#include "ike/swanctl_writer.h"

namespace waypost::ike {

inline const std::string kFixtures = WAYPOST_FIXTURES_DIR "/ipsec-conf/";

// A conversion and its result read back.
struct Converted {
  std::string text;
  std::vector<std::string> notes;
  size_t connections = 0;
  size_t skipped = 0;
  IpsecConfig config;

  const Connection& conn(std::string_view name) const {
    for (const Connection& c : config.connections) {
      if (c.name == name) return c;
    }
    ADD_FAILURE() << "no connection " << name << " in\n" << text;
    static const Connection kNone;
    return kNone;
  }
  bool has(std::string_view fragment) const { return text.find(fragment) != std::string::npos; }
};

inline Converted finish(Result<ImportResult> r) {
  Converted out;
  if (!r) {
    ADD_FAILURE() << r.error().message;
    return out;
  }
  out.text = r->text;
  out.notes = r->notes;
  out.connections = r->connections;
  out.skipped = r->skipped;
  EXPECT_TRUE(r->check.ok()) << r->check.error().message << "\n" << r->text;
  auto parsed = parse_swanctl_text(r->text, "out.conf", nullptr);
  if (!parsed) {
    ADD_FAILURE() << parsed.error().message << "\n" << r->text;
    return out;
  }
  out.config = std::move(*parsed);
  EXPECT_EQ(out.config.connections.size(), out.connections);
  return out;
}

inline Converted convert_fixture(const std::string& conf, const std::string& secrets,
                                 const ImportOptions& options = {}) {
  DiskConfFiles files;
  auto c = parse_ipsec_conf_file(kFixtures + conf, files);
  if (!c) {
    ADD_FAILURE() << c.error().message;
    return {};
  }
  auto s = parse_ipsec_secrets_file(kFixtures + secrets, files);
  if (!s) {
    ADD_FAILURE() << s.error().message;
    return {};
  }
  return finish(import_ipsec_conf(*c, &*s, options));
}

// Converts text; `secrets` empty: no ipsec.secrets.
inline Result<ImportResult> import_text(const std::string& conf, const std::string& secrets = "",
                                        const ImportOptions& options = {}) {
  auto c = parse_ipsec_conf_text(conf, "ipsec.conf", nullptr);
  if (!c) return c.take_error();
  std::vector<StrokeSecret> s;
  if (!secrets.empty()) {
    auto parsed = parse_ipsec_secrets_text(secrets, "ipsec.secrets", nullptr);
    if (!parsed) return parsed.take_error();
    s = std::move(*parsed);
  }
  return import_ipsec_conf(*c, secrets.empty() ? nullptr : &s, options);
}

inline Converted convert(const std::string& conf, const std::string& secrets = "") {
  return finish(import_text(conf, secrets));
}

inline std::vector<std::string> texts(const std::vector<TrafficSelectorSpec>& ts) {
  std::vector<std::string> out;
  out.reserve(ts.size());
  for (const auto& t : ts) out.push_back(t.text);
  return out;
}
inline std::vector<std::string> texts(const std::vector<AddressSpec>& a) {
  std::vector<std::string> out;
  out.reserve(a.size());
  for (const auto& x : a) out.push_back(x.text);
  return out;
}
inline std::vector<std::string> ips(const std::vector<net::IpAddress>& a) {
  std::vector<std::string> out;
  out.reserve(a.size());
  for (const auto& x : a) out.push_back(x.to_string());
  return out;
}
using Strings = std::vector<std::string>;

inline std::string secret_text(const Secret& s) {
  return {reinterpret_cast<const char*>(s.secret.data()), s.secret.size()};
}

// --- the fixtures ----------------------------------------------------------------------------

}  // namespace waypost::ike
