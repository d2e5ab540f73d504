#pragma once
// `waypost debug`: a self-check report to paste into a bug report, like `pivpn -d`. Sections
// of [OK]/[ERR] lines with the evidence under them (version, configuration, state, interfaces,
// firewall, recent log lines, doctor's findings), everything passed through a Redactor first:
// keys, certificates, public addresses, the endpoint and user names never leave the machine.
// This file holds the pure parts (redaction, rendering); cli/cmd_debug.cc gathers the facts.

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace waypost::doctor {

// Replaces what identifies the server or its users with placeholders that keep the report
// readable: the same user is user1 everywhere, keys become <key>, public addresses <ipv4> or
// <ipv6> (private, loopback, link-local and unique-local ones stay: they are the same on every
// Waypost server and often the point of the report).
class Redactor {
 public:
  // `users`: names to hide; `names`: other words to hide with their placeholder (the endpoint
  // host name, the IKEv2 e-mail domain).
  Redactor(const std::vector<std::string>& users, const std::map<std::string, std::string>& names);
  std::string apply(std::string_view text) const;

 private:
  std::vector<std::pair<std::string, std::string>> words_;  // longest first
};

struct ReportItem {
  bool ok = true;
  std::string line;  // one sentence
};

struct ReportSection {
  std::string title;
  std::vector<ReportItem> items;
  std::string evidence;  // text shown under the items, indented; may be empty
};

// The report as text; `redactor` is applied to every line of it.
std::string render_report(const std::vector<ReportSection>& sections, const Redactor& redactor,
                          std::string_view header);

}  // namespace waypost::doctor
