#include "server/plist.h"

#include <openssl/evp.h>

#include <cstring>

#include <fmt/format.h>

#include "common/encoding.h"
#include "common/secret.h"

namespace waypost::server {

namespace {

// Apple's captive-portal check page: it answers 200 without a redirect only on an open network.
constexpr std::string_view kCaptiveProbeUrl = "http://captive.apple.com/hotspot-detect.html";

constexpr size_t kDataLineChars = 64;

void on_demand_rule(Plist& p, bool connect, std::string_view interface_type) {
  p.open("dict");
  p.string("Action", connect ? "Connect" : "Disconnect");
  p.string("InterfaceTypeMatch", interface_type);
  if (connect) {
    // A Connect rule only matches once the probe gets through, so behind a captive portal the
    // device falls through to the catch-all Disconnect and the user can still log in.
    p.string("URLStringProbe", kCaptiveProbeUrl);
  }
  p.close("dict");
}

}  // namespace

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string stable_uuid(std::initializer_list<std::string_view> parts) {
  // NUL separators keep ("ab", "c") and ("a", "bc") apart.
  std::string input = "waypost mobileconfig";
  for (std::string_view part : parts) {
    input += '\0';
    input += part;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &digest_len, EVP_sha256(), nullptr) != 1 ||
      digest_len < 16) {
    // SHA-256 does not fail on a working OpenSSL; fall back to a fixed value so the profile
    // stays well-formed rather than carrying an empty identifier.
    std::memset(digest, 0, sizeof(digest));
  }
  // RFC 9562 version 8 (application-defined) with the RFC 4122 variant.
  digest[6] = uint8_t((digest[6] & 0x0f) | 0x80);
  digest[8] = uint8_t((digest[8] & 0x3f) | 0x80);
  std::string hex;
  for (int i = 0; i < 16; ++i) {
    hex += fmt::format("{:02X}", digest[i]);
  }
  return fmt::format("{}-{}-{}-{}-{}", hex.substr(0, 8), hex.substr(8, 4), hex.substr(12, 4),
                     hex.substr(16, 4), hex.substr(20, 12));
}

void Plist::begin() {
  line(R"(<?xml version="1.0" encoding="UTF-8"?>)");
  line(
      "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
      "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">");
  line("<plist version=\"1.0\">");
}

void Plist::end() {
  line("</plist>");
}

void Plist::key(std::string_view k) {
  line(fmt::format("<key>{}</key>", xml_escape(k)));
}

void Plist::string(std::string_view k, std::string_view v) {
  key(k);
  line(fmt::format("<string>{}</string>", xml_escape(v)));
}

void Plist::integer(std::string_view k, int v) {
  key(k);
  line(fmt::format("<integer>{}</integer>", v));
}

void Plist::boolean(std::string_view k, bool v) {
  key(k);
  line(v ? "<true/>" : "<false/>");
}

void Plist::data(std::string_view k, std::span<const uint8_t> bytes) {
  key(k);
  open("data");
  // The payloads are PKCS#12 files: do not leave their base64 behind in freed memory.
  std::string b64 = to_base64(bytes);
  for (size_t at = 0; at < b64.size(); at += kDataLineChars) {
    line(std::string_view(b64).substr(at, kDataLineChars));
  }
  secure_wipe(b64.data(), b64.size());
  close("data");
}

void Plist::open(std::string_view tag) {
  line(fmt::format("<{}>", tag));
  ++depth_;
}

void Plist::close(std::string_view tag) {
  --depth_;
  line(fmt::format("</{}>", tag));
}

void Plist::line(std::string_view text) {
  out_.append(size_t(depth_), '\t');
  out_ += text;
  out_ += '\n';
}

void on_demand_rules(Plist& p, bool wifi, bool cellular,
                     const std::vector<std::string>& wifi_exclude) {
  const bool on_demand = wifi || cellular;
  p.integer("OnDemandEnabled", on_demand ? 1 : 0);
  p.key("OnDemandRules");
  p.open("array");
  if (on_demand) {
    // Rules are tried in order and the first match wins, so the excluded networks come first.
    if (!wifi_exclude.empty()) {
      p.open("dict");
      p.string("Action", "Disconnect");
      p.string("InterfaceTypeMatch", "WiFi");
      p.key("SSIDMatch");
      p.open("array");
      for (const auto& ssid : wifi_exclude) {
        p.line(fmt::format("<string>{}</string>", xml_escape(ssid)));
      }
      p.close("array");
      p.close("dict");
    }
    on_demand_rule(p, wifi, "WiFi");
    on_demand_rule(p, cellular, "Cellular");
  }
  // The catch-all: with on-demand on, other interfaces (Ethernet) stay as they are; with it
  // off the rules are not consulted, and Connect documents the intent.
  p.open("dict");
  p.string("Action", on_demand ? "Disconnect" : "Connect");
  p.close("dict");
  p.close("array");
}

}  // namespace waypost::server
