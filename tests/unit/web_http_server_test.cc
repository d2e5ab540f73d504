// The HTTPS listener on loopback, spoken to with a plain OpenSSL client: TLS 1.2+ only, requests
// reach the handler with their headers, big bodies are refused, start-up errors are values. And
// the self-signed certificate it uses when none is configured.
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <csignal>
#include <ctime>
#include <filesystem>
#include <mutex>

#include "common/clock.h"
#include "crypto/random.h"
#include "web/auth.h"
#include "web/base32.h"
#include "web/http_server.h"
#include "web/router.h"
#include "web/tls_cert.h"
#include "web/totp.h"
#include "web_fake_users.h"
#include "web_test_dir.h"

namespace waypost::web {
namespace {

// Sends `raw` over TLS to 127.0.0.1:port and returns everything the server sends back; empty if
// the handshake fails. `max_version` caps the client's TLS version (0: no cap).
std::string https_exchange(uint16_t port, const std::string& raw, int max_version = 0) {
  // A server that closes while the client still writes must fail the write, not kill the tests.
  std::signal(SIGPIPE, SIG_IGN);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (max_version != 0) {
    // Security level 0 lets this client really offer TLS 1.0/1.1, so the refusal is the server's.
    SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(ctx, max_version);
  }
  BIO* bio = BIO_new_ssl_connect(ctx);
  const std::string host = "127.0.0.1:" + std::to_string(port);
  BIO_set_conn_hostname(bio, host.c_str());
  std::string out;
  if (BIO_do_connect(bio) > 0 && BIO_do_handshake(bio) > 0) {
    BIO_write(bio, raw.data(), int(raw.size()));
    char buf[4096];
    int n = 0;
    while ((n = BIO_read(bio, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  }
  BIO_free_all(bio);
  SSL_CTX_free(ctx);
  return out;
}

class WebHttpServer : public ::testing::Test {
 protected:
  void SetUp() override {
    auto files = ensure_tls_files(dir_.path(), "", "", "127.0.0.1", std::time(nullptr));
    ASSERT_TRUE(files.ok()) << files.error().message;
    options_.addresses = {"127.0.0.1"};
    options_.port = 0;
    options_.cert_path = files->cert_path;
    options_.key_path = files->key_path;
  }

  std::unique_ptr<HttpServer> start() {
    auto server = HttpServer::start(options_, [this](const HttpRequest& r) {
      // The handler runs on the server's thread; the test reads seen_ on its own.
      const std::lock_guard lock(mutex_);
      seen_ = r;
      HttpResponse response;
      response.status = 418;
      response.headers.emplace_back("Set-Cookie", "a=b; Secure");
      response.body = R"({"ok": true})";
      return response;
    });
    EXPECT_TRUE(server.ok()) << server.error().message;
    return server.ok() ? std::move(*server) : nullptr;
  }

  test::TempDir dir_;
  HttpServerOptions options_;
  std::mutex mutex_;
  HttpRequest seen_;
};

TEST_F(WebHttpServer, AnswersOverTls) {
  auto server = start();
  ASSERT_TRUE(server);
  const std::string answer = https_exchange(
      server->port(),
      "POST /api/v1/login?x=1 HTTP/1.1\r\nHost: h\r\nCookie: waypost_session=abc\r\n"
      "X-CSRF-Token: tok\r\nAuthorization: Bearer wpat_x\r\nContent-Type: application/json\r\n"
      "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 418")) << answer;
  EXPECT_NE(answer.find("Set-Cookie: a=b; Secure\r\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("Content-Type: application/json\r\n"), std::string::npos) << answer;
  EXPECT_TRUE(answer.ends_with(R"({"ok": true})")) << answer;
  const std::lock_guard lock(mutex_);
  EXPECT_EQ(seen_.method, "POST");
  EXPECT_EQ(seen_.target, "/api/v1/login?x=1");
  EXPECT_EQ(seen_.cookie, "waypost_session=abc");
  EXPECT_EQ(seen_.csrf_token, "tok");
  EXPECT_EQ(seen_.authorization, "Bearer wpat_x");
  EXPECT_EQ(seen_.content_type, "application/json");
  EXPECT_EQ(seen_.body, "{}");
  EXPECT_EQ(seen_.remote_address, "127.0.0.1");
}

TEST_F(WebHttpServer, RefusesTls11) {
  auto server = start();
  ASSERT_TRUE(server);
  const std::string request = "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  EXPECT_EQ(https_exchange(server->port(), request, TLS1_1_VERSION), "");
  EXPECT_TRUE(https_exchange(server->port(), request, TLS1_2_VERSION).starts_with("HTTP/1.1 418"));
}

TEST_F(WebHttpServer, RefusesBigBodies) {
  auto server = start();
  ASSERT_TRUE(server);
  // The headers alone: the parser refuses the announced length before any body byte is read
  // (sending the body too would race the server's close with a reset).
  const std::string answer =
      https_exchange(server->port(), "POST /api/v1/login HTTP/1.1\r\nHost: h\r\nContent-Length: " +
                                         std::to_string(kMaxRequestBody + 1) + "\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 413")) << answer.substr(0, 200);
}

TEST_F(WebHttpServer, StartUpErrorsAreValues) {
  auto first = start();
  ASSERT_TRUE(first);
  options_.port = first->port();
  auto taken = HttpServer::start(options_, [](const HttpRequest&) { return HttpResponse{}; });
  ASSERT_FALSE(taken.ok());
  EXPECT_NE(
      taken.error().message.find("cannot listen on 127.0.0.1:" + std::to_string(first->port())),
      std::string::npos)
      << taken.error().message;

  options_.port = 0;
  options_.cert_path = dir_.file("missing.pem");
  auto no_cert = HttpServer::start(options_, [](const HttpRequest&) { return HttpResponse{}; });
  ASSERT_FALSE(no_cert.ok());
  EXPECT_NE(no_cert.error().message.find("missing.pem: cannot use the certificate"),
            std::string::npos)
      << no_cert.error().message;
}

TEST_F(WebHttpServer, StopsCleanly) {
  auto server = start();
  ASSERT_TRUE(server);
  const uint16_t port = server->port();
  server->stop();
  server->stop();
  EXPECT_EQ(https_exchange(port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), "");
}

// The pieces together: the router behind the listener, signed in over TLS with a cookie.
TEST_F(WebHttpServer, SignInAndListUsersOverTls) {
  auto store = Store::open(dir_.file("web.db"), 100);
  ASSERT_TRUE(store.ok());
  ManualClock clock;
  crypto::SeededRandom random(5);
  AuthPolicy policy;
  policy.password = kTestPasswordParams;
  Auth auth(**store, clock, random, policy);
  auto token = auth.add_admin("alice", Role::kOwner, kCliActor);
  auto info = auth.begin_setup(*token, "127.0.0.1");
  auto totp = [&] {
    return hotp_code(*base32_decode(info->totp_secret), totp_step(clock.wall().sec));
  };
  ASSERT_TRUE(
      auth.complete_setup({*token, "a long enough password", info->totp_secret, totp(), "x"}).ok());
  clock.advance(seconds(30));
  const std::string code = totp();  // computed here: the server thread owns auth from now on
  FakeUsers directory;
  Router router(auth, directory, "127.0.0.1");
  auto server = HttpServer::start(options_, [&](const HttpRequest& r) { return router.handle(r); });
  ASSERT_TRUE(server.ok()) << server.error().message;

  const std::string body =
      R"({"name": "alice", "password": "a long enough password", "code": ")" + code + R"("})";
  const std::string login =
      https_exchange((*server)->port(),
                     "POST /api/v1/login HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
                     "Content-Length: " +
                         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  ASSERT_TRUE(login.starts_with("HTTP/1.1 200")) << login;
  const size_t at = login.find("Set-Cookie: ");
  ASSERT_NE(at, std::string::npos);
  const std::string cookie = login.substr(at + 12, login.find(';', at) - at - 12);
  EXPECT_TRUE(cookie.starts_with("waypost_session=")) << cookie;

  const std::string users = https_exchange(
      (*server)->port(), "GET /api/v1/users HTTP/1.1\r\nHost: h\r\nCookie: " + cookie +
                             "\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(users.starts_with("HTTP/1.1 200")) << users;
  EXPECT_NE(users.find(R"("name":"phone")"), std::string::npos) << users;
  const std::string anonymous = https_exchange(
      (*server)->port(), "GET /api/v1/users HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(anonymous.starts_with("HTTP/1.1 401")) << anonymous;
  (*server)->stop();
}

TEST(WebTlsCert, SelfSignedP256MadeOnceWithAPrivateKey) {
  test::TempDir dir;
  auto files = ensure_tls_files(dir.path(), "", "", "vpn.example.com", 1'800'000'000);
  ASSERT_TRUE(files.ok()) << files.error().message;
  EXPECT_TRUE(files->generated);
  EXPECT_EQ(files->cert_path, dir.file("web/cert.pem"));
  struct stat st {};
  ASSERT_EQ(stat(files->key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(dir.file("web").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  FILE* f = std::fopen(files->cert_path.c_str(), "r");
  ASSERT_NE(f, nullptr);
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  ASSERT_NE(cert, nullptr);
  EVP_PKEY* key = X509_get0_pubkey(cert);
  char group[64] = {};
  size_t len = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(key, group, sizeof group, &len), 1);
  EXPECT_STREQ(group, "prime256v1");
  EXPECT_EQ(X509_check_host(cert, "vpn.example.com", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_cmp_time(X509_get0_notAfter(cert), nullptr), 1);  // in the future of now
  X509_free(cert);

  auto again = ensure_tls_files(dir.path(), "", "", "vpn.example.com", 1'800'000'000);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->generated);

  auto ip = ensure_tls_files(dir.file("other"), "", "", "203.0.113.5", 1'800'000'000);
  EXPECT_FALSE(ip.ok());  // <dir> itself must exist
  std::filesystem::create_directory(dir.file("other"));
  ip = ensure_tls_files(dir.file("other"), "", "", "203.0.113.5", 1'800'000'000);
  ASSERT_TRUE(ip.ok()) << ip.error().message;
  f = std::fopen(ip->cert_path.c_str(), "r");
  cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  EXPECT_EQ(X509_check_ip_asc(cert, "203.0.113.5", 0), 1);
  X509_free(cert);

  auto configured = ensure_tls_files(dir.path(), "/etc/a.pem", "/etc/a.key", "h", 0);
  ASSERT_TRUE(configured.ok());
  EXPECT_EQ(configured->cert_path, "/etc/a.pem");
  EXPECT_FALSE(configured->generated);
}

TEST(WebTlsCert, SelfSignedRenewedBeforeExpiryAndForANewEndpoint) {
  test::TempDir dir;
  const time_t made = 1'800'000'000;
  ASSERT_TRUE(ensure_tls_files(dir.path(), "", "", "vpn.example.com", made)->generated);
  // 794 days later it still has 31 days: kept.
  const time_t day = 86400;
  auto kept = ensure_tls_files(dir.path(), "", "", "vpn.example.com", made + 794 * day);
  ASSERT_TRUE(kept.ok());
  EXPECT_FALSE(kept->generated);
  // 796 days later, 29 days are left: made again.
  auto renewed = ensure_tls_files(dir.path(), "", "", "vpn.example.com", made + 796 * day);
  ASSERT_TRUE(renewed.ok()) << renewed.error().message;
  EXPECT_TRUE(renewed->generated);
  EXPECT_EQ(renewed->renewal_reason, "it expires within 30 days");
  // The endpoint moved to an address: a certificate for it.
  auto moved = ensure_tls_files(dir.path(), "", "", "203.0.113.9", made + 797 * day);
  ASSERT_TRUE(moved.ok());
  EXPECT_TRUE(moved->generated);
  EXPECT_EQ(moved->renewal_reason, "it does not name 203.0.113.9");
  EXPECT_FALSE(ensure_tls_files(dir.path(), "", "", "203.0.113.9", made + 798 * day)->generated);
}

}  // namespace
}  // namespace waypost::web
