// Structured log fields: a scope sets them for its thread's lines and restores the outer ones;
// the journal entry carries them, with the user looked up from the peer when only the peer is
// known (lines from the WireGuard and IKE code).
#include "common/log_fields.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "common/log_journal.h"

namespace waypost {
namespace {

std::vector<std::string> fields_of(std::string_view text, spdlog::level::level_enum level) {
  const spdlog::details::log_msg msg("waypost", level, text);
  return journal_fields(msg, current_log_fields());
}

bool has(const std::vector<std::string>& v, const std::string& f) {
  return std::find(v.begin(), v.end(), f) != v.end();
}

TEST(LogFields, ScopesNestAndRestore) {
  EXPECT_TRUE(current_log_fields().user.empty());
  {
    const ScopedLogFields outer({"phone", {}, {}, {}});
    EXPECT_EQ(current_log_fields().user, "phone");
    {
      const ScopedLogFields inner({{}, "KEY=", "wireguard", "192.0.2.1:51820"});
      EXPECT_EQ(current_log_fields().peer, "KEY=");
      EXPECT_TRUE(current_log_fields().user.empty());
    }
    EXPECT_EQ(current_log_fields().user, "phone");
    // Another thread has its own fields.
    std::string other = "unset";
    std::thread([&] { other = current_log_fields().user; }).join();
    EXPECT_EQ(other, "");
  }
  EXPECT_TRUE(current_log_fields().user.empty());
}

TEST(LogFields, JournalEntryCarriesThemWithTheUserOfThePeer) {
  set_log_user_names({{"KEY=", "laptop"}, {"phone@abc.algo", "phone"}});
  {
    const ScopedLogFields f({{}, "KEY=", "wireguard", "192.0.2.1:51820"});
    const auto v =
        fields_of("peer KEY= (192.0.2.1:51820): handshake complete", spdlog::level::info);
    EXPECT_TRUE(has(v, "MESSAGE=peer KEY= (192.0.2.1:51820): handshake complete"));
    EXPECT_TRUE(has(v, "PRIORITY=6"));
    EXPECT_TRUE(has(v, "SYSLOG_IDENTIFIER=waypost"));
    EXPECT_TRUE(has(v, "WAYPOST_USER=laptop"));
    EXPECT_TRUE(has(v, "WAYPOST_PEER=KEY="));
    EXPECT_TRUE(has(v, "WAYPOST_PROTOCOL=wireguard"));
    EXPECT_TRUE(has(v, "WAYPOST_ENDPOINT=192.0.2.1:51820"));
  }
  {
    const ScopedLogFields f({{}, "phone@abc.algo", "ikev2", {}});
    const auto v = fields_of("IKE_SA established", spdlog::level::warn);
    EXPECT_TRUE(has(v, "WAYPOST_USER=phone"));
    EXPECT_TRUE(has(v, "PRIORITY=4"));
  }
  // Outside any scope: only the message, its priority and the identifier.
  EXPECT_EQ(fields_of("x", spdlog::level::err).size(), 3u);
  EXPECT_TRUE(has(fields_of("x", spdlog::level::err), "PRIORITY=3"));
  set_log_user_names({});
  EXPECT_EQ(log_user_of("KEY="), "");
}

TEST(LogFields, StderrIsNotTheJournalWithoutJournalStream) {
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_FALSE(stderr_is_journal());
  ::setenv("JOURNAL_STREAM", "1:2", 1);  // names another stream
  EXPECT_FALSE(stderr_is_journal());
  ::unsetenv("JOURNAL_STREAM");
}

}  // namespace
}  // namespace waypost
