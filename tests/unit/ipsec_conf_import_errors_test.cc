// The ipsec.conf import: errors with file and line, and the value translations (split from
// ipsec_conf_import_test.cc).
#include "ike/ipsec_conf_import.h"

#include <gtest/gtest.h>

#include "ipsec_conf_import_util.h"

namespace waypost::ike {
namespace {

TEST(IpsecImportErrors, IpsecConfSyntax) {
  const struct {
    const char* text;
    const char* message;
  } cases[] = {
      {"conn a\n\tleft=\"192.0.2.1\n", "ipsec.conf:2: unterminated string"},
      {"\tleft=1.2.3.4\n", "ipsec.conf:1: setting 'left' before any section"},
      {"conn a\nleft=1.2.3.4\n", "ipsec.conf:2: unexpected 'left' in the first column"},
      {"# c\nconn\n", "ipsec.conf:2: 'conn' without a section name"},
      {"conn a b\n", "ipsec.conf:1: 'conn a' is followed by 'b'"},
      {"conn a\n\tleft\n", "ipsec.conf:2: 'left' is not a setting"},
      {"conn a\n\t=x\n", "ipsec.conf:2: a setting without a name"},
      {"config\n", "ipsec.conf:1: expected 'config setup'"},
      {"conn a\n\tleft=192.0.2.1\x01\n", "ipsec.conf:2: control character 0x01 in the text"},
      {"conn a\n\tleft=1.2.3.4\ninclude other.conf\n",
       "ipsec.conf:3: include 'other.conf': "
       "includes are disabled"},
  };
  for (const auto& tc : cases) {
    auto r = import_text(tc.text);
    ASSERT_FALSE(r.ok()) << tc.text;
    EXPECT_EQ(r.error().message.rfind(tc.message, 0), 0u) << r.error().message;
    EXPECT_EQ(r.error().kind, ErrorKind::kParse);
  }
}

TEST(IpsecImportErrors, IpsecSecretsSyntax) {
  const struct {
    const char* text;
    const char* message;
  } cases[] = {
      {"# c\n@a @b PSK \"x\"\n", "ipsec.secrets:2: missing ' : '"},
      {"\n: PSK \"x\n", "ipsec.secrets:2: a '\"' without its closing '\"'"},
      {": FOO bar\n", "ipsec.secrets:1: unknown type of secret 'FOO'"},
      {": PSK 0xzz\n", "ipsec.secrets:1: PSK: invalid hex (0x) secret"},
      {": PSK\n", "ipsec.secrets:1: PSK without a secret"},
      {": RSA\n", "ipsec.secrets:1: RSA without a file name"},
      {": RSA {\n Modulus: 0x00\n", "ipsec.secrets:1: '{' of an RSA key without its '}'"},
      {"\n\n: PSK \"a\x1b[0m\"\n", "ipsec.secrets:3: control character 0x1b in the text"},
  };
  for (const auto& tc : cases) {
    auto r = parse_ipsec_secrets_text(tc.text, "ipsec.secrets", nullptr);
    ASSERT_FALSE(r.ok()) << tc.text;
    EXPECT_EQ(r.error().message.rfind(tc.message, 0), 0u) << r.error().message;
  }
}

TEST(IpsecImportErrors, IncludesAndUnreadableFiles) {
  MemoryConfFiles files;
  files.add("etc/ipsec.conf", "conn a\n\tleft=1.2.3.4\ninclude ipsec.d/*.conf\ninclude x.conf\n");
  files.add("etc/ipsec.d/b.conf", "conn b\n\tright=5.6.7.8\n");
  auto r = parse_ipsec_conf_file("etc/ipsec.conf", files);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("etc/ipsec.conf:4: include 'x.conf': ", 0), 0u)
      << r.error().message;
  files.add("etc/x.conf", "conn c\n\tauto=add\n\tbroken\n");
  r = parse_ipsec_conf_file("etc/ipsec.conf", files);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("etc/x.conf:3: 'broken' is not a setting", 0), 0u)
      << r.error().message;
  files.add("etc/x.conf", "include ipsec.conf\n");
  r = parse_ipsec_conf_file("etc/ipsec.conf", files);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("includes itself"), std::string::npos) << r.error().message;
  files.add("etc/x.conf", "conn c\n\tauto=add\n");
  r = parse_ipsec_conf_file("etc/ipsec.conf", files);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->conns.size(), 3u);
  EXPECT_EQ(r->conns[1].where.file, "etc/ipsec.d/b.conf");

  DiskConfFiles disk;
  auto missing = parse_ipsec_conf_file("/nonexistent/ipsec.conf", disk);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/ipsec.conf"), std::string::npos);
  auto missing_secrets = parse_ipsec_secrets_file("/nonexistent/ipsec.secrets", disk);
  ASSERT_FALSE(missing_secrets.ok());
  EXPECT_NE(missing_secrets.error().message.find("/nonexistent/ipsec.secrets"), std::string::npos);
}

// --- values --------------------------------------------------------------------------------------

TEST(IpsecImportValues, LibreswanProposalSpellings) {
  const auto p = import_proposals("aes_gcm-128-sha2;dh20,aes-256-sha2_512;modp4096, 3des-md5",
                                  ProposalProtocol::kIke, true);
  EXPECT_EQ(p.kept, (Strings{"aes128gcm16-sha256-ecp384", "aes256-sha512-modp4096"}));
  ASSERT_EQ(p.dropped.size(), 1u);
  EXPECT_EQ(p.dropped[0].rfind("3des-md5: ", 0), 0u);
  EXPECT_FALSE(p.strict);
  const auto esp =
      import_proposals("chacha20_poly1305,aes_gcm_c256,aes_gcm16!", ProposalProtocol::kEsp, true);
  EXPECT_EQ(esp.kept, (Strings{"chacha20poly1305", "aes256gcm16", "aes128gcm16"}));
  EXPECT_TRUE(esp.strict);
}

TEST(IpsecImportValues, TimesAndProtoports) {
  EXPECT_EQ(format_time(Seconds(3 * 3600)), "3h");
  EXPECT_EQ(format_time(Seconds(171 * 60)), "171m");
  EXPECT_EQ(format_time(Seconds(86400)), "1d");
  EXPECT_EQ(format_time(Seconds(450)), "450s");
  EXPECT_EQ(format_time(Seconds(0)), "0s");
  EXPECT_EQ(*parse_stroke_time("20"), Seconds(20));
  EXPECT_EQ(*import_protoport("tcp/https"), "[6/443]");
  EXPECT_EQ(*import_protoport("%any"), "");
  EXPECT_FALSE(import_protoport("frob/1").ok());
}

TEST(IpsecImportValues, SwanctlQuoting) {
  EXPECT_EQ(swanctl_value_text("10.0.0.0/24, fd00::/64"), "10.0.0.0/24, fd00::/64");
  EXPECT_EQ(swanctl_value_text("C=CH, O=x, CN=y"), "C=CH, O=x, CN=y");
  EXPECT_EQ(swanctl_value_text("a#b"), "\"a#b\"");
  EXPECT_EQ(swanctl_value_text("a}b"), "\"a}b\"");
  EXPECT_EQ(swanctl_value_text("say \"hi\"\\"), "\"say \\\"hi\\\"\\\\\"");
  EXPECT_EQ(swanctl_value_text("two  blanks"), "\"two  blanks\"");
  EXPECT_EQ(swanctl_value_text(""), "\"\"");
  EXPECT_EQ(swanctl_name("algovpn-vpn.example.org"), "algovpn-vpn-example-org");
  EXPECT_EQ(swanctl_name(""), "unnamed");
}

}  // namespace
}  // namespace waypost::ike
