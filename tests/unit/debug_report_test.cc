// `waypost debug`'s report: keys, certificates, public addresses, the endpoint and user names
// are replaced; private and unique-local addresses (the same on every server) stay; [OK]/[ERR]
// lines and indented evidence.
#include "doctor/debug_report.h"

#include <gtest/gtest.h>

#include <string>

namespace waypost::doctor {
namespace {

Redactor redactor() {
  return Redactor({"phone", "john.doe", "phone.work"},
                  {{"vpn.example.com", "<endpoint>"}, {"d41d8cd9.algo", "<id>.algo"}});
}

TEST(DebugRedactor, KeysAndCertificates) {
  const Redactor r = redactor();
  EXPECT_EQ(r.apply("PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="),
            "PrivateKey = <key>");
  EXPECT_EQ(r.apply("peer HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw= (x): handshake"),
            "peer <key> (x): handshake");
  EXPECT_EQ(r.apply("a\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\nb"),
            "a\n<PEM redacted>\nb");
  // Base64 of another length is not a key.
  EXPECT_EQ(r.apply("token abcdefgh="), "token abcdefgh=");
}

TEST(DebugRedactor, PublicAddressesGoPrivateOnesStay) {
  const Redactor r = redactor();
  EXPECT_EQ(r.apply("endpoint 203.0.113.5:51820, tunnel 10.49.0.2/32"),
            "endpoint <ipv4>:51820, tunnel 10.49.0.2/32");
  EXPECT_EQ(r.apply("from [2001:db8::7]:4500 to fd12:3456:789a::1/48 via fe80::1"),
            "from [<ipv6>]:4500 to fd12:3456:789a::1/48 via fe80::1");
  EXPECT_EQ(r.apply("dns 1.1.1.1, 192.168.1.1, 172.16.0.1, 100.64.0.1, 127.0.0.1."),
            "dns <ipv4>, 192.168.1.1, 172.16.0.1, 100.64.0.1, 127.0.0.1.");
  // Times, versions and hex words are not addresses.
  EXPECT_EQ(r.apply("06:55:01.123 waypost 0.1.0 deadbeef"), "06:55:01.123 waypost 0.1.0 deadbeef");
}

TEST(DebugRedactor, NamesAndTheEndpoint) {
  const Redactor r = redactor();
  EXPECT_EQ(r.apply("user phone added; user phone.work; john.doe@d41d8cd9.algo."),
            "user user1 added; user user3; user2@<id>.algo.");
  EXPECT_EQ(r.apply("endpoint: vpn.example.com"), "endpoint: <endpoint>");
  // Part of a longer word is not a name.
  EXPECT_EQ(r.apply("phones microphone headphone"), "phones microphone headphone");
  EXPECT_EQ(r.apply("users:\n  - phone\n  - john.doe\n"), "users:\n  - user1\n  - user2\n");
}

TEST(DebugReport, RendersItemsAndEvidence) {
  const std::string out =
      render_report({{"Version", {{true, "waypost 0.1.0"}}, ""},
                     {"Server", {{false, "not running on 203.0.113.5"}}, "line one\nline two"}},
                    redactor(), "Waypost debug report");
  EXPECT_EQ(out,
            "Waypost debug report\n"
            "\n== Version ==\n[OK]  waypost 0.1.0\n"
            "\n== Server ==\n[ERR] not running on <ipv4>\n      line one\n      line two\n");
}

}  // namespace
}  // namespace waypost::doctor
