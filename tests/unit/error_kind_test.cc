// Errors carry a kind beside their message, so callers can tell a missing file from a malformed
// one without matching text.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "common/atomic_file.h"
#include "common/result.h"
#include "server/config.h"
#include "server/state.h"
#include "wireguard/conf.h"
#include "wireguard/uapi.h"

namespace waypost {
namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/wp-error-kind-XXXXXX";
  return mkdtemp(tmpl);
}

TEST(ErrorKind, ErrnoMapsToKind) {
  EXPECT_EQ(error_kind_from_errno(ENOENT), ErrorKind::kNotFound);
  EXPECT_EQ(error_kind_from_errno(ENODEV), ErrorKind::kNotFound);
  EXPECT_EQ(error_kind_from_errno(EACCES), ErrorKind::kPermission);
  EXPECT_EQ(error_kind_from_errno(EPERM), ErrorKind::kPermission);
  EXPECT_EQ(error_kind_from_errno(EPROTO), ErrorKind::kProtocol);
  EXPECT_EQ(error_kind_from_errno(EIO), ErrorKind::kIo);
  EXPECT_EQ(error_kind_from_errno(ENOSPC), ErrorKind::kIo);
}

TEST(ErrorKind, ContextKeepsKindAndCode) {
  Error e = make_errno_error(ENOENT, "no such thing");
  Error wrapped = e.context("config.yaml");
  EXPECT_EQ(wrapped.message, "config.yaml: no such thing");
  EXPECT_EQ(wrapped.kind, ErrorKind::kNotFound);
  EXPECT_EQ(wrapped.code, ENOENT);
}

TEST(ErrorKind, OrKindOnlyFillsAnUnsetKind) {
  Result<int> plain = make_error("bad");
  EXPECT_EQ(std::move(plain).or_kind(ErrorKind::kParse).error().kind, ErrorKind::kParse);
  Result<int> missing = make_error(ErrorKind::kNotFound, "gone");
  EXPECT_EQ(std::move(missing).or_kind(ErrorKind::kParse).error().kind, ErrorKind::kNotFound);
  Result<int> fine = 3;
  EXPECT_TRUE(std::move(fine).or_kind(ErrorKind::kParse).ok());
}

TEST(ErrorKind, MissingFileIsNotFound) {
  auto r = read_file("/nonexistent/waypost/file");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(r.error().code, ENOENT);
}

TEST(ErrorKind, ReadableSecretFileIsPermission) {
  const std::string dir = temp_dir();
  const std::string path = dir + "/key";
  ASSERT_TRUE(write_file_atomic(path, "secret", 0644).ok());
  auto st = check_private_file(path);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kPermission);
  std::filesystem::remove_all(dir);
}

TEST(ErrorKind, ParsersReportParse) {
  auto conf = wireguard::parse_wg_quick("[Interface]\nPrivateKey = nope\n");
  ASSERT_FALSE(conf.ok());
  EXPECT_EQ(conf.error().kind, ErrorKind::kParse);

  auto yaml = server::parse_server_config("users: [phone\n");
  ASSERT_FALSE(yaml.ok());
  EXPECT_EQ(yaml.error().kind, ErrorKind::kParse);

  auto unknown = server::parse_server_config("no_such_key: 1\n");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().kind, ErrorKind::kParse);

  auto state = server::state_from_json("{not json");
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.error().kind, ErrorKind::kParse);

  auto uapi = wireguard::parse_uapi_set("listen_port=notanumber\n");
  ASSERT_FALSE(uapi.ok());
  EXPECT_EQ(uapi.error().kind, ErrorKind::kParse);
}

// The server's config loader: a missing file says "run init", a malformed one names the file and
// stays a parse error.
TEST(ErrorKind, ServerConfigMissingVersusMalformed) {
  const std::string dir = temp_dir();
  auto missing = server::load_config(dir);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(missing.error().message.find("waypost server init"), std::string::npos);

  ASSERT_TRUE(write_file_atomic(server::config_path(dir), "users: [phone\n", 0600).ok());
  auto malformed = server::load_config(dir);
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.error().kind, ErrorKind::kParse);
  EXPECT_EQ(malformed.error().message.rfind(server::config_path(dir) + ": ", 0), 0u);
  EXPECT_EQ(malformed.error().message.find("waypost server init"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace waypost
