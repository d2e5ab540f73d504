// Who may use the control sockets: the socket's mode and group (control::StreamServer), the
// credentials a session sees, which commands the status group may use (daemon/access.h), and
// dropping capabilities under a bounding set that systemd already narrowed (daemon/privileges).
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include "control/json_session.h"
#include "control/stream_server.h"
#include "daemon/access.h"
#include "daemon/privileges.h"
#include "platform/event_loop.h"

namespace waypost {
namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/waypost-access-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

struct Served {
  std::string answer;  // the client's answer line, as JSON text
  std::optional<control::PeerCredentials> peer;
  mode_t mode = 0;
  gid_t gid = 0;
  std::string group_error;
};

// Listens on a socket in a fresh directory, connects once with the CLI's client and answers
// {"seen": true}; returns what the socket looked like and what the session was told.
Served serve_once(std::optional<gid_t> group) {
  TempDir dir;
  const std::string path = dir.path + "/ctl/wp0.sock";
  auto loop = platform::EventLoop::create();
  EXPECT_TRUE(loop);
  Served out;
  auto server = control::StreamServer::listen(
      path, *loop,
      [&](const control::PeerCredentials& peer) {
        out.peer = peer;
        return control::make_json_session([&](const nlohmann::json&) {
          loop->stop();
          return nlohmann::json{{"seen", true}};
        });
      },
      group);
  EXPECT_TRUE(server) << (server ? "" : server.error().message);
  if (!server) return out;
  out.group_error = (*server)->group_error();
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  out.mode = st.st_mode & 07777;
  out.gid = st.st_gid;
  std::thread client([&] {
    auto r = control::json_request(path, {{"cmd", "show"}});
    if (r) out.answer = r->dump();
  });
  loop->run([] { return kNever; });
  // The answer went out in the same turn of the loop as the handler ran.
  server->reset();
  client.join();
  return out;
}

TEST(ControlSocket, RootOnlyWithoutAGroup) {
  auto s = serve_once(std::nullopt);
  EXPECT_EQ(s.answer, R"({"seen":true})");
  EXPECT_EQ(s.mode, 0600u);
  EXPECT_TRUE(s.group_error.empty());
  ASSERT_TRUE(s.peer);
  EXPECT_EQ(s.peer->uid, ::geteuid());
  EXPECT_EQ(s.peer->pid, ::getpid());
}

TEST(ControlSocket, OpenedToTheGroupItIsGiven) {
  // Our own group: a member may hand a file to it without CAP_CHOWN, so this runs as any user.
  auto s = serve_once(::getegid());
  EXPECT_EQ(s.answer, R"({"seen":true})");
  EXPECT_TRUE(s.group_error.empty()) << s.group_error;
  EXPECT_EQ(s.mode, 0660u);
  EXPECT_EQ(s.gid, ::getegid());
  ASSERT_TRUE(s.peer);
  EXPECT_EQ(s.peer->gid, ::getegid());
}

TEST(ControlAccess, OnlyStatusCommandsAreReadOnly) {
  EXPECT_TRUE(daemon::is_read_only_command("show"));
  EXPECT_TRUE(daemon::is_read_only_command("status"));
  for (const char* cmd : {"down", "sync", "dns_reload", "handshake", "", "Show", "show "}) {
    EXPECT_FALSE(daemon::is_read_only_command(cmd)) << cmd;
  }
}

TEST(ControlAccess, RootAndTheDaemonsOwnUserAreAdmins) {
  EXPECT_TRUE(daemon::is_admin(0));
  EXPECT_TRUE(daemon::is_admin(::geteuid()));
  if (::geteuid() != 65534) {
    EXPECT_FALSE(daemon::is_admin(65534));
  }
}

TEST(ControlAccess, GroupLookup) {
  EXPECT_EQ(daemon::group_id("root"), std::optional<gid_t>(0));
  EXPECT_EQ(daemon::group_id("waypost-no-such-group"), std::nullopt);
}

// Under systemd's CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW the
// process has no CAP_SETPCAP; dropping what is already gone must not fail. Runs in a child,
// which narrows its own bounding set the way systemd does.
TEST(Privileges, DropSucceedsUnderANarrowedBoundingSet) {
  if (prctl(PR_CAPBSET_READ, CAP_SETPCAP, 0, 0, 0) != 1 || ::geteuid() != 0) {
    GTEST_SKIP() << "needs root with CAP_SETPCAP";
  }
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const uint64_t keep = (uint64_t(1) << CAP_NET_ADMIN) | (uint64_t(1) << CAP_NET_BIND_SERVICE) |
                          (uint64_t(1) << CAP_NET_RAW);
    for (int cap = 0; cap <= 63; ++cap) {
      if ((keep >> cap) & 1) continue;
      if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0) break;
      if (cap != CAP_SETPCAP) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    }
    prctl(PR_CAPBSET_DROP, CAP_SETPCAP, 0, 0, 0);  // last: it is what the others need
    if (prctl(PR_CAPBSET_READ, CAP_SETPCAP, 0, 0, 0) != 0) ::_exit(2);
    if (!daemon::drop_privileges()) ::_exit(1);
    ::_exit((daemon::effective_capabilities() & ~keep) == 0 ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: drop_privileges failed, 2: setup failed, 3: caps left";
}

}  // namespace
}  // namespace waypost
