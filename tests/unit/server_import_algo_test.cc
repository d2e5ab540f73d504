// server import-algo: Algo's settings files, its configs/<server>/ tree (built at run time by
// tests/fixtures/import/make_algo_tree.sh, following Algo's templates), and writing the result.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "common/atomic_file.h"
#include "crypto/random.h"
#include "crypto/x509.h"
#include "server/bundles.h"
#include "server/import_algo.h"
#include "server/ipsec_pki.h"
#include "server/state.h"

namespace waypost::server {
namespace {

namespace fs = std::filesystem;

constexpr const char* kServer = "198.51.100.10";

bool has_note(const ImportPlan& plan, const std::string& fragment) {
  return std::any_of(plan.notes.begin(), plan.notes.end(),
                     [&](const std::string& n) { return n.find(fragment) != std::string::npos; });
}

TEST(AlgoSettings, ReadsConfigYmlAndSkipsTemplates) {
  auto s = parse_algo_settings(
      "server: 198.51.100.10\n"
      "algo_ondemand_cellular: False\n"
      "algo_ondemand_wifi: True\n"
      "algo_ondemand_wifi_exclude: home,work\n"
      "IP_subject_alt_name: 198.51.100.10\n"
      "ipsec_enabled: True\n"
      "local_service_ip: 172.23.198.242\n"
      "local_service_ipv6: \"{{ 'fd00::1' | ansible.utils.ipmath(5) }}\"\n"
      "users: [phone, \"123\"]\n"
      "dns_servers: {ipv4: [9.9.9.9], ipv6: ['2620:fe::fe']}\n",
      ".config.yml");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->endpoint, "198.51.100.10");
  EXPECT_EQ(s->ondemand_wifi, true);
  EXPECT_EQ(*s->ondemand_wifi_exclude, (std::vector<std::string>{"home", "work"}));
  EXPECT_EQ(s->local_service_ip->to_string(), "172.23.198.242");
  EXPECT_FALSE(s->local_service_ipv6);  // a template: unset
  EXPECT_EQ(*s->users, (std::vector<std::string>{"phone", "123"}));
  EXPECT_EQ(s->dns_servers_ipv4.at(0).to_string(), "9.9.9.9");
}

TEST(AlgoSettings, ErrorsNameFileAndLine) {
  auto s = parse_algo_settings("users: [a]\nwireguard_port: lots\n", "config.cfg");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message,
            "config.cfg line 2: key 'wireguard_port': expected a number up to 65535");
  auto y = parse_algo_settings("a: [\n", "config.cfg");
  ASSERT_FALSE(y);
  EXPECT_NE(y.error().message.find("config.cfg line"), std::string::npos);
}

class AlgoTree : public ::testing::Test {
 protected:
  void make(const std::string& flags) {
    char tmpl[] = "/tmp/waypost-import-algo-XXXXXX";
    root_ = mkdtemp(tmpl);
    const std::string cmd = std::string("bash ") + WAYPOST_FIXTURES_DIR +
                            "/import/make_algo_tree.sh " + root_ + " " + kServer + " " + flags +
                            " >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    options_.tree = root_ + "/configs/" + kServer + "/";
    options_.server_wg_conf = root_ + "/none";  // never the test machine's /etc/wireguard
    options_.server_ipsec_dir = root_ + "/none";
  }
  void TearDown() override {
    if (!root_.empty()) fs::remove_all(root_);
  }
  std::string text(const std::string& rel) { return read_file(root_ + "/" + rel).value(); }
  std::string line(const std::string& rel) {
    std::string t = text(rel);
    while (!t.empty() && t.back() == '\n') t.pop_back();
    return t;
  }

  std::string root_;
  AlgoImportOptions options_;
};

TEST_F(AlgoTree, KeepsEveryKeyAddressAndCertificate) {
  make("--ipv6");
  options_.ca_password = line("ca_password");
  auto plan = plan_algo_import(options_);
  ASSERT_TRUE(plan) << plan.error().message;
  const ServerConfig& c = plan->config;
  EXPECT_EQ(c.endpoint, kServer);
  EXPECT_EQ(c.users, (std::vector<std::string>{"phone", "laptop", "desktop"}));  // config.cfg
  EXPECT_TRUE(c.ipv6);
  EXPECT_EQ(c.wireguard_network_ipv6.to_string(), "2001:db8:a160::/48");
  EXPECT_TRUE(c.ondemand_wifi);
  EXPECT_EQ(c.ondemand_wifi_exclude, (std::vector<std::string>{"home-wifi"}));
  EXPECT_TRUE(c.dns_force);  // the profiles ask Algo's local resolver
  const std::string tree = "configs/" + std::string(kServer);
  EXPECT_EQ(crypto::key_to_base64(plan->state.public_key),
            line(tree + "/wireguard/.pki/public/" + kServer));
  const UserState& phone = plan->state.users.at("phone");
  EXPECT_EQ(phone.ipv4.to_string(), "10.49.0.3");  // oldphone, removed, had .2
  EXPECT_EQ(phone.ipv6->to_string(), "2001:db8:a160::3");
  EXPECT_EQ(crypto::key_to_base64(phone.public_key), line(tree + "/wireguard/.pki/public/phone"));
  EXPECT_EQ(crypto::key_to_base64(phone.preshared_key.span()),
            line(tree + "/wireguard/.pki/preshared/phone"));
  ASSERT_TRUE(plan->pki);
  EXPECT_FALSE(plan->pki->ca_key_pem.empty());
  EXPECT_EQ(plan->pki->email_domain, line("email_domain"));
  EXPECT_EQ(plan->pki->users.size(), 3u);
  EXPECT_EQ(plan->pki->revoked_serials.size(), 1u);  // oldphone

  // Written out: Algo's CA and certificates in Waypost's layout, profiles for everyone.
  const std::string dir = root_ + "/waypost";
  auto notes = write_import(*plan, dir, false);
  ASSERT_TRUE(notes) << notes.error().message;
  EXPECT_EQ(read_file(dir + "/ipsec/x509ca/cacert.pem").value(),
            text(tree + "/ipsec/.pki/cacert.pem"));
  auto phone_cert = crypto::Certificate::load(dir + "/pki/users/phone.pem").value();
  auto algo_cert = crypto::Certificate::load(root_ + "/" + tree + "/ipsec/.pki/certs/phone.crt");
  EXPECT_EQ(phone_cert.der(), algo_cert->der());
  EXPECT_EQ(user_ike_identity(dir, "phone").value(), "phone@" + line("email_domain"));
  EXPECT_TRUE(check_pki(dir, std::time(nullptr)))
      << check_pki(dir, std::time(nullptr)).error().message;
  EXPECT_TRUE(fs::exists(conf_path(dir, c, "phone")));
  auto state = load_state(dir).value();
  EXPECT_EQ(state.users.at("laptop").ipv4.to_string(), "10.49.0.4");

  // A second import into the same directory is refused; --force moves the old one aside.
  auto again = write_import(*plan, dir, false);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("holds a server already"), std::string::npos);
  ASSERT_TRUE(write_import(*plan, dir, true));
  bool backup = false;
  for (const auto& e : fs::directory_iterator(dir)) {
    backup |= e.path().filename().string().starts_with(".pre-import-");
  }
  EXPECT_TRUE(backup);
}

TEST_F(AlgoTree, WithoutCaPasswordImportsCertificatesAnyway) {
  make("");
  auto plan = plan_algo_import(options_);
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_TRUE(plan->pki);
  EXPECT_TRUE(plan->pki->ca_key_pem.empty());
  EXPECT_TRUE(has_note(*plan, "--ca-password"));
  EXPECT_FALSE(plan->config.ipv6);
  // A new user gets no certificate without the CA key; the others keep theirs.
  plan->config.users.emplace_back("newbie");
  const std::string dir = root_ + "/waypost";
  auto notes = write_import(*plan, dir, false);
  ASSERT_TRUE(notes) << notes.error().message;
  EXPECT_TRUE(std::any_of(notes->begin(), notes->end(), [](const std::string& n) {
    return n.find("no IKEv2 certificate for newbie") != std::string::npos;
  }));
  EXPECT_TRUE(fs::exists(dir + "/pki/users/phone.pem"));
  EXPECT_FALSE(fs::exists(dir + "/pki/ca.key"));
  EXPECT_TRUE(check_pki(dir, std::time(nullptr)));
}

// Without the CA key, Algo's CRL is what IKEv2 checks revocation against: a tree with neither
// is refused (with what to give) rather than imported into a server no IKEv2 client could use.
TEST_F(AlgoTree, WithoutCaPasswordOrCrlIsRefusedWithWhatToGive) {
  make("");
  const std::string tree_pki = options_.tree + "ipsec/.pki/";
  ASSERT_TRUE(fs::exists(tree_pki + "crl.pem"));
  fs::copy_file(tree_pki + "crl.pem", root_ + "/crl.keep");
  fs::remove(tree_pki + "crl.pem");
  auto plan = plan_algo_import(options_);
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("neither its CA key"), std::string::npos)
      << plan.error().message;
  EXPECT_NE(plan.error().message.find("--ca-password-file"), std::string::npos);
  // The Algo server's copy (--ipsec-dir .../crls/crl.pem) will do.
  fs::create_directories(root_ + "/etc-ipsec/crls");
  fs::copy_file(root_ + "/crl.keep", root_ + "/etc-ipsec/crls/crl.pem",
                fs::copy_options::overwrite_existing);
  options_.server_ipsec_dir = root_ + "/etc-ipsec";
  auto again = plan_algo_import(options_);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->pki->crl_pem.empty());
}

TEST_F(AlgoTree, DefaultTreeWithoutPkiNeedsTheServersWgConf) {
  make("--no-pki");
  auto plan = plan_algo_import(options_);
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("--wg-conf"), std::string::npos) << plan.error().message;
  options_.server_wg_conf = root_ + "/server/wg0.conf";
  options_.p12_password = line("p12_password");
  auto with_conf = plan_algo_import(options_);
  ASSERT_TRUE(with_conf) << with_conf.error().message;
  // Keys from the profiles; certificates from the .p12 files; no CA key, no server certificate.
  EXPECT_TRUE(with_conf->state.users.at("phone").private_key);
  EXPECT_FALSE(with_conf->pki);
  EXPECT_TRUE(has_note(*with_conf, "Waypost makes a new CA"));
}

TEST_F(AlgoTree, WithoutConfigCfgUsersComeFromTheTreeMinusRevoked) {
  make("");
  fs::remove(root_ + "/config.cfg");
  options_.ca_password = line("ca_password");
  auto plan = plan_algo_import(options_);
  ASSERT_TRUE(plan) << plan.error().message;
  auto users = plan->config.users;
  std::sort(users.begin(), users.end());
  EXPECT_EQ(users, (std::vector<std::string>{"desktop", "laptop", "phone"}));
  EXPECT_TRUE(has_note(*plan, "oldphone: its certificate is revoked"));
}

TEST_F(AlgoTree, NotAnAlgoTree) {
  make("");
  options_.tree = root_;
  auto plan = plan_algo_import(options_);
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("not an Algo configs/<server>/ directory"),
            std::string::npos);
}

TEST_F(AlgoTree, WrongServerKeyIsRefused) {
  make("");
  const std::string key = root_ + "/configs/" + kServer + "/wireguard/.pki/private/" + kServer;
  ASSERT_TRUE(write_file_atomic(key, "2MwwGnC9ANhCBO/gy/1HSvmGDbLb1lrpRcKyRg1LcUk=\n", 0600));
  auto plan = plan_algo_import(options_);
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("the server's public key is not the one"), std::string::npos)
      << plan.error().message;
}

}  // namespace
}  // namespace waypost::server
