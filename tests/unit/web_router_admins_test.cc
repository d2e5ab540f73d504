// /api/v1/admins, /api/v1/tokens and /api/v1/audit through the router: what each role may do,
// CSRF on cookie sessions, bodies refused with the field named, 404 and 409, the last owner, a
// token shown once that then works as a Bearer token until it is revoked, and audit paging.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "web_api_fixture.h"

namespace waypost::web::test_api {
namespace {

using nlohmann::json;

class WebAdminsApi : public RouterFixture {
 protected:
  // The audit entries with this action and target.
  size_t audited(const std::string& action, const std::string& target) {
    auto log = store_->audit_log(1000);
    EXPECT_TRUE(log.ok());
    size_t n = 0;
    for (const auto& e : *log) n += e.action == action && e.target == target ? 1 : 0;
    return n;
  }

  // The admin of that name in GET /api/v1/admins, or null.
  json listed(const Session& s, const std::string& name) {
    auto r = send("GET", "/api/v1/admins", s);
    EXPECT_EQ(r.status, 200) << r.body;
    const json body = body_of(r);  // kept: a loop over a temporary's member would dangle
    for (const json& a : body["admins"]) {
      if (a["name"] == name) return a;
    }
    return nullptr;
  }
};

TEST_F(WebAdminsApi, EveryRoleListsTheAdminsWithTheirState) {
  add("bob", Role::kAdmin);
  add("vera", Role::kViewer);
  ASSERT_TRUE(auth_->add_admin("pat", Role::kViewer, kCliActor).ok());  // no setup yet
  const Session alice = sign_in("alice");
  auto r = send("GET", "/api/v1/admins", alice);
  ASSERT_EQ(r.status, 200) << r.body;
  const json admins = body_of(r)["admins"];
  ASSERT_EQ(admins.size(), 4u);
  EXPECT_EQ(admins[0]["name"], "alice");  // by name
  EXPECT_EQ(admins[0]["role"], "owner");
  EXPECT_EQ(admins[0]["state"], "active");
  EXPECT_GT(admins[0]["created"].get<int64_t>(), 0);
  EXPECT_EQ(admins[0]["last_login"], clock_.wall().sec - 30);  // sign_in steps on after
  EXPECT_EQ(admins[2]["name"], "pat");
  EXPECT_EQ(admins[2]["state"], "setup pending");
  EXPECT_EQ(admins[2]["last_login"], 0);
  EXPECT_EQ(admins[3]["role"], "viewer");
  ASSERT_TRUE(store_->set_disabled("bob", true));
  EXPECT_EQ(listed(alice, "bob")["state"], "disabled");

  const Session vera = sign_in("vera");
  EXPECT_EQ(send("GET", "/api/v1/admins", vera).status, 200);
  EXPECT_EQ(send("GET", "/api/v1/admins", Session{}).status, 401);
  // Nothing secret is in the list.
  EXPECT_EQ(r.body.find("argon2"), std::string::npos);
  EXPECT_EQ(r.body.find(secrets_["alice"]), std::string::npos);
}

TEST_F(WebAdminsApi, AnOwnerAddsAnAdminAndGetsItsSetupLink) {
  const Session alice = sign_in("alice");
  auto r =
      send("POST", "/api/v1/admins", alice, R"({"name":"carol","role":"admin"})", "192.0.2.7:8443");
  ASSERT_EQ(r.status, 201) << r.body;
  const json body = body_of(r);
  EXPECT_EQ(body["admin"]["name"], "carol");
  EXPECT_EQ(body["admin"]["role"], "admin");
  EXPECT_EQ(body["admin"]["state"], "setup pending");
  // The link points where the browser reached the page, and its token works.
  const std::string link = body["setup_link"];
  const std::string prefix = "https://192.0.2.7:8443/setup#";
  ASSERT_TRUE(link.starts_with(prefix)) << link;
  auto info = auth_->begin_setup(link.substr(prefix.size()), "h");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->admin, "carol");
  // Audited once, by Auth, with the owner as the actor.
  EXPECT_EQ(audited("admin.add", "carol"), 1u);
  auto log = store_->audit_log(1);
  EXPECT_EQ((*log)[0].admin, "alice");

  // No usable Host header: the configured address, as the CLI prints it.
  for (const std::string host : {"", "evil.example/x", "a b"}) {
    auto other =
        send("POST", "/api/v1/admins", alice,
             json{{"name", "dan" + std::to_string(host.size())}, {"role", "viewer"}}.dump(), host);
    ASSERT_EQ(other.status, 201) << other.body;
    EXPECT_TRUE(body_of(other)["setup_link"].get<std::string>().starts_with(
        std::string(kPublicBase) + "/setup#"))
        << host;
  }
}

TEST_F(WebAdminsApi, BadAdminBodiesAreRefusedNamingTheField) {
  const Session alice = sign_in("alice");
  struct Case {
    std::string body;
    int status;
    std::string field;
  };
  const Case cases[] = {
      {R"({"role":"admin"})", 400, "name"},
      {R"({"name":5,"role":"admin"})", 400, "name"},
      {R"({"name":"a b","role":"admin"})", 400, "name"},
      {R"({"name":"-x","role":"admin"})", 400, "name"},
      {json{{"name", std::string(65, 'a')}, {"role", "admin"}}.dump(), 400, "name"},
      {R"({"name":"carol"})", 400, "role"},
      {R"({"name":"carol","role":"root"})", 400, "role"},
      {R"({"name":"alice","role":"admin"})", 409, "name"},
      {"{", 400, ""},
      {"[]", 400, ""},
  };
  for (const Case& c : cases) {
    auto r = send("POST", "/api/v1/admins", alice, c.body);
    EXPECT_EQ(r.status, c.status) << c.body << " " << r.body;
    const json body = body_of(r);
    EXPECT_EQ(body.value("field", std::string()), c.field) << c.body;
    if (!c.field.empty() && c.status == 400) {
      EXPECT_TRUE(body["error"].get<std::string>().starts_with(c.field + ": ")) << body;
    }
  }
  HttpRequest form;
  form.method = "POST";
  form.target = "/api/v1/admins";
  form.cookie = alice.cookie;
  form.csrf_token = alice.csrf;
  form.content_type = "application/x-www-form-urlencoded";
  form.body = "name=carol&role=admin";
  EXPECT_EQ(router_->handle(form).status, 415);
  EXPECT_EQ(audited("admin.add", "carol"), 0u);
}

TEST_F(WebAdminsApi, OnlyOwnersChangeAdminsAndCookiesNeedTheCsrfToken) {
  add("bob", Role::kAdmin);
  add("vera", Role::kViewer);
  const std::vector<std::pair<std::string, std::string>> changes = {
      {"POST", "/api/v1/admins"},
      {"PATCH", "/api/v1/admins/vera"},
      {"DELETE", "/api/v1/admins/vera"},
      {"POST", "/api/v1/admins/vera/reset"},
  };
  const std::string body = R"({"name":"carol","role":"owner"})";
  for (const std::string who : {"bob", "vera"}) {
    const Session s = sign_in(who);
    for (const auto& [method, target] : changes) {
      auto r = send(method, target, s, body);
      EXPECT_EQ(r.status, 403) << who << " " << method << " " << target;
      EXPECT_NE(body_of(r)["error"].get<std::string>().find("owners do"), std::string::npos);
    }
  }
  const Session alice = sign_in("alice");
  for (const auto& [method, target] : changes) {
    auto r = send(method, target, Session{alice.cookie, ""}, body);
    EXPECT_EQ(r.status, 403) << method << " " << target;
    EXPECT_EQ(body_of(r)["error"], "missing or wrong X-CSRF-Token header");
  }
  EXPECT_EQ(listed(alice, "vera")["role"], "viewer");
  EXPECT_TRUE(listed(alice, "carol").is_null());
  EXPECT_EQ(audited("admin.reset", "vera"), 0u);
}

TEST_F(WebAdminsApi, AResetGivesANewLinkAndEndsTheAdminsSessions) {
  add("bob", Role::kAdmin);
  const Session bob = sign_in("bob");
  const Session alice = sign_in("alice");
  auto r = send("POST", "/api/v1/admins/bob/reset", alice, "", "vpn.example.com:8443");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_of(r)["admin"], "bob");
  EXPECT_TRUE(body_of(r)["setup_link"].get<std::string>().starts_with(
      "https://vpn.example.com:8443/setup#"));
  EXPECT_EQ(send("GET", "/api/v1/session", bob).status, 401);
  EXPECT_EQ(listed(alice, "bob")["state"], "setup pending");
  EXPECT_EQ(audited("admin.reset", "bob"), 1u);
  EXPECT_EQ(send("POST", "/api/v1/admins/nobody/reset", alice).status, 404);
}

TEST_F(WebAdminsApi, RoleChangesApplyAtOnce) {
  add("bob", Role::kAdmin);
  const Session bob = sign_in("bob");
  const Session alice = sign_in("alice");
  EXPECT_EQ(send("POST", "/api/v1/admins", bob, R"({"name":"x1","role":"viewer"})").status, 403);
  auto r = send("PATCH", "/api/v1/admins/bob", alice, R"({"role":"owner"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_of(r)["admin"]["role"], "owner");
  // bob's running session has the new role.
  EXPECT_EQ(send("POST", "/api/v1/admins", bob, R"({"name":"x1","role":"viewer"})").status, 201);
  EXPECT_EQ(audited("admin.role", "bob"), 1u);
  // The same role again changes nothing and logs nothing.
  EXPECT_EQ(send("PATCH", "/api/v1/admins/bob", alice, R"({"role":"owner"})").status, 200);
  EXPECT_EQ(audited("admin.role", "bob"), 1u);

  auto bad = send("PATCH", "/api/v1/admins/bob", alice, R"({"role":"boss"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(body_of(bad)["field"], "role");
  EXPECT_EQ(body_of(send("PATCH", "/api/v1/admins/bob", alice, "{}"))["field"], "role");
  EXPECT_EQ(send("PATCH", "/api/v1/admins/nobody", alice, R"({"role":"admin"})").status, 404);
}

TEST_F(WebAdminsApi, TheLastOwnerStays) {
  const Session alice = sign_in("alice");
  auto remove = send("DELETE", "/api/v1/admins/alice", alice);
  EXPECT_EQ(remove.status, 409);
  EXPECT_NE(body_of(remove)["error"].get<std::string>().find("last owner"), std::string::npos);
  auto demote = send("PATCH", "/api/v1/admins/alice", alice, R"({"role":"admin"})");
  EXPECT_EQ(demote.status, 409);
  EXPECT_NE(body_of(demote)["error"].get<std::string>().find("last owner"), std::string::npos);
  EXPECT_EQ(listed(alice, "alice")["role"], "owner");
  EXPECT_EQ(audited("admin.remove", "alice"), 0u);

  // With a second owner, an owner may demote or remove itself.
  add("bob", Role::kAdmin);
  ASSERT_EQ(send("PATCH", "/api/v1/admins/bob", alice, R"({"role":"owner"})").status, 200);
  ASSERT_EQ(send("PATCH", "/api/v1/admins/alice", alice, R"({"role":"admin"})").status, 200);
  ASSERT_EQ(send("PATCH", "/api/v1/admins/alice", Session{}, R"({"role":"owner"})").status, 401);
  const Session bob = sign_in("bob");
  EXPECT_EQ(send("DELETE", "/api/v1/admins/bob", bob).status, 409);  // now the last owner
  ASSERT_EQ(send("PATCH", "/api/v1/admins/alice", bob, R"({"role":"owner"})").status, 200);
  auto self = send("DELETE", "/api/v1/admins/alice", alice);
  ASSERT_EQ(self.status, 200) << self.body;
  EXPECT_EQ(body_of(self)["removed"], "alice");
  EXPECT_EQ(send("GET", "/api/v1/session", alice).status, 401);  // its sessions went with it
}

TEST_F(WebAdminsApi, DisablingAnAdminEndsItsSessionsUntilEnabled) {
  add("bob", Role::kAdmin);
  const Session bob = sign_in("bob");
  const Session alice = sign_in("alice");
  EXPECT_EQ(send("POST", "/api/v1/admins/alice/disable", bob).status, 403);  // owners only
  auto r = send("POST", "/api/v1/admins/bob/disable", alice);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_of(r)["admin"]["state"], "disabled");
  EXPECT_EQ(send("GET", "/api/v1/session", bob).status, 401);
  EXPECT_EQ(audited("admin.disable", "bob"), 1u);
  auto last = send("POST", "/api/v1/admins/alice/disable", alice);
  EXPECT_EQ(last.status, 409);
  EXPECT_NE(body_of(last)["error"].get<std::string>().find("last owner"), std::string::npos);
  r = send("POST", "/api/v1/admins/bob/enable", alice);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_of(r)["admin"]["state"], "active");
  EXPECT_EQ(audited("admin.enable", "bob"), 1u);
  EXPECT_EQ(send("GET", "/api/v1/session", sign_in("bob")).status, 200);
  EXPECT_EQ(send("POST", "/api/v1/admins/nobody/enable", alice).status, 404);
  EXPECT_EQ(send("GET", "/api/v1/admins/bob/disable", alice).status, 405);
}

TEST_F(WebAdminsApi, RemovingAnAdminAndPathsThatAreNotOne) {
  add("bob", Role::kAdmin);
  const Session bob = sign_in("bob");
  const Session alice = sign_in("alice");
  ASSERT_EQ(send("DELETE", "/api/v1/admins/bob", alice).status, 200);
  EXPECT_TRUE(listed(alice, "bob").is_null());
  EXPECT_EQ(send("GET", "/api/v1/session", bob).status, 401);
  EXPECT_EQ(audited("admin.remove", "bob"), 1u);
  EXPECT_EQ(send("DELETE", "/api/v1/admins/bob", alice).status, 404);
  EXPECT_EQ(send("DELETE", "/api/v1/admins/%zz", alice).status, 404);
  EXPECT_EQ(send("DELETE", "/api/v1/admins/..", alice).status, 404);
  EXPECT_EQ(send("POST", "/api/v1/admins/alice/nope", alice).status, 404);
  auto get_one = send("GET", "/api/v1/admins/alice", alice);
  EXPECT_EQ(get_one.status, 405);
  EXPECT_EQ(header(get_one, "Allow"), "PATCH, DELETE");
  EXPECT_EQ(header(send("PUT", "/api/v1/admins", alice), "Allow"), "GET, POST");
  // A name with an escaped '@' is found.
  add("ops@home", Role::kViewer);
  EXPECT_EQ(send("DELETE", "/api/v1/admins/ops%40home", alice).status, 200);
}

// --- /api/v1/tokens ------------------------------------------------------------------------

TEST_F(WebAdminsApi, ATokenIsShownOnceWorksAsBearerUntilRevoked) {
  const Session alice = sign_in("alice");
  auto created = send("POST", "/api/v1/tokens", alice, R"({"label":"backup script"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const json t = body_of(created);
  const std::string token = t["token"];
  const int64_t id = t["id"];
  EXPECT_TRUE(token.starts_with("wpat_")) << token;
  EXPECT_EQ(t["label"], "backup script");
  EXPECT_EQ(audited("token.create", "alice"), 1u);

  auto list = send("GET", "/api/v1/tokens", alice);
  ASSERT_EQ(list.status, 200);
  const json tokens = body_of(list)["tokens"];
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0]["id"], id);
  EXPECT_EQ(tokens[0]["label"], "backup script");
  EXPECT_EQ(tokens[0]["revoked"], 0);
  EXPECT_EQ(tokens[0]["last_used"], 0);
  EXPECT_FALSE(tokens[0].contains("token"));
  EXPECT_EQ(list.body.find(token.substr(5)), std::string::npos);  // the secret is never listed

  EXPECT_EQ(bearer("GET", "/api/v1/users", token).status, 200);
  EXPECT_GT(body_of(send("GET", "/api/v1/tokens", alice))["tokens"][0]["last_used"], 0);
  auto revoked = send("DELETE", "/api/v1/tokens/" + std::to_string(id), alice);
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(body_of(revoked)["revoked"], id);
  auto refused = bearer("GET", "/api/v1/users", token);
  EXPECT_EQ(refused.status, 401);
  EXPECT_NE(body_of(refused)["error"].get<std::string>().find("revoked"), std::string::npos);
  EXPECT_GT(body_of(send("GET", "/api/v1/tokens", alice))["tokens"][0]["revoked"], 0);
  EXPECT_EQ(send("DELETE", "/api/v1/tokens/" + std::to_string(id), alice).status, 404);
  EXPECT_EQ(audited("token.revoke", "alice"), 1u);
}

TEST_F(WebAdminsApi, TokensAreMadeAndRevokedOnlyFromASessionAndOnlyOwnOnes) {
  add("bob", Role::kAdmin);
  const Session alice = sign_in("alice");
  const Session bob = sign_in("bob");
  const std::string token =
      body_of(send("POST", "/api/v1/tokens", alice, R"({"label":"a"})"))["token"];
  const int64_t id = body_of(send("GET", "/api/v1/tokens", alice))["tokens"][0]["id"];
  // A token cannot mint another one, nor revoke one.
  auto minted = bearer("POST", "/api/v1/tokens", token, R"({"label":"more"})");
  EXPECT_EQ(minted.status, 403);
  EXPECT_NE(body_of(minted)["error"].get<std::string>().find("signed-in session"),
            std::string::npos);
  EXPECT_EQ(bearer("DELETE", "/api/v1/tokens/" + std::to_string(id), token).status, 403);
  EXPECT_EQ(bearer("GET", "/api/v1/tokens", token).status, 200);  // listing is reading
  // A cookie session needs the CSRF token.
  EXPECT_EQ(send("POST", "/api/v1/tokens", Session{alice.cookie, ""}, R"({"label":"x"})").status,
            403);
  EXPECT_EQ(
      send("DELETE", "/api/v1/tokens/" + std::to_string(id), Session{alice.cookie, "no"}).status,
      403);
  // bob sees none of alice's tokens and cannot revoke them; an owner neither (see router.h).
  EXPECT_TRUE(body_of(send("GET", "/api/v1/tokens", bob))["tokens"].empty());
  EXPECT_EQ(send("DELETE", "/api/v1/tokens/" + std::to_string(id), bob).status, 404);
  EXPECT_EQ(bearer("GET", "/api/v1/users", token).status, 200);
  // Paths that are no token id.
  for (const char* bad : {"abc", "0", "-1", "1x", "99999999999999999999"}) {
    EXPECT_EQ(send("DELETE", std::string("/api/v1/tokens/") + bad, alice).status, 404) << bad;
  }
  EXPECT_EQ(send("GET", "/api/v1/tokens/" + std::to_string(id), alice).status, 405);
}

TEST_F(WebAdminsApi, BadTokenLabelsAreRefusedNamingTheField) {
  const Session alice = sign_in("alice");
  for (const std::string& body :
       {std::string("{}"), std::string(R"({"label":7})"), std::string(R"({"label":""})"),
        std::string(R"({"label":"a\u0001b"})"), json{{"label", std::string(65, 'x')}}.dump()}) {
    auto r = send("POST", "/api/v1/tokens", alice, body);
    EXPECT_EQ(r.status, 400) << body << " " << r.body;
    EXPECT_EQ(body_of(r)["field"], "label") << body;
  }
  EXPECT_TRUE(body_of(send("GET", "/api/v1/tokens", alice))["tokens"].empty());
}

TEST_F(WebAdminsApi, AViewersTokenIsReadOnly) {
  add("vera", Role::kViewer);
  const Session vera = sign_in("vera");
  auto created = send("POST", "/api/v1/tokens", vera, R"({"label":"dashboard"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string token = body_of(created)["token"];
  EXPECT_EQ(bearer("GET", "/api/v1/users", token).status, 200);
  EXPECT_EQ(bearer("POST", "/api/v1/users", token, R"({"name":"x"})").status, 403);
  EXPECT_EQ(bearer("GET", "/api/v1/audit", token).status, 403);
  EXPECT_EQ(bearer("POST", "/api/v1/admins", token, R"({"name":"x","role":"owner"})").status, 403);
}

// --- /api/v1/audit -------------------------------------------------------------------------

TEST_F(WebAdminsApi, TheAuditLogNewestFirstAPageAtATime) {
  const Session alice = sign_in("alice");
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(
        send("POST", "/api/v1/users", alice, json{{"name", "u" + std::to_string(i)}}.dump()).status,
        201);
  }
  auto all = send("GET", "/api/v1/audit", alice);
  ASSERT_EQ(all.status, 200) << all.body;
  const json entries = body_of(all)["entries"];
  ASSERT_GE(entries.size(), 7u);  // setup, login, five user.add
  EXPECT_TRUE(body_of(all)["next_before"].is_null());
  EXPECT_EQ(entries[0]["action"], "user.add");
  EXPECT_EQ(entries[0]["target"], "u4");
  EXPECT_EQ(entries[0]["actor"], "alice");
  for (const char* key : {"id", "time", "actor", "action", "target", "detail"}) {
    EXPECT_TRUE(entries[0].contains(key)) << key;
  }
  for (size_t i = 1; i < entries.size(); ++i) {
    EXPECT_LT(entries[i]["id"].get<int64_t>(), entries[i - 1]["id"].get<int64_t>());
  }

  // Pages of two: u4 u3, then u2 u1, ... to the end, every entry once.
  std::vector<int64_t> seen;
  std::string target = "/api/v1/audit?limit=2";
  for (int page = 0; page < 10; ++page) {
    auto r = send("GET", target, alice);
    ASSERT_EQ(r.status, 200) << target << " " << r.body;
    const json b = body_of(r);
    for (const json& e : b["entries"]) seen.push_back(e["id"]);
    if (b["next_before"].is_null()) break;
    EXPECT_EQ(b["entries"].size(), 2u);
    EXPECT_EQ(b["next_before"], b["entries"][1]["id"]);
    target = "/api/v1/audit?before=" + std::to_string(b["next_before"].get<int64_t>()) + "&limit=2";
  }
  ASSERT_EQ(seen.size(), entries.size());
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], entries[i]["id"]);
  EXPECT_EQ(body_of(send("GET", "/api/v1/audit?limit=500", alice))["entries"].size(),
            entries.size());
}

TEST_F(WebAdminsApi, AuditQueryValuesAreChecked) {
  const Session alice = sign_in("alice");
  for (const std::string q : {"limit=0", "limit=501", "limit=x", "limit=", "limit=-1", "limit",
                              "limit=1e2", "before=0", "before=abc", "x=1&before=", "before=-5"}) {
    auto r = send("GET", "/api/v1/audit?" + q, alice);
    EXPECT_EQ(r.status, 400) << q;
    const std::string field = q.find("before") != std::string::npos ? "before" : "limit";
    EXPECT_EQ(body_of(r)["field"], field) << q;
  }
  EXPECT_EQ(send("GET", "/api/v1/audit?other=1", alice).status, 200);
  EXPECT_EQ(send("POST", "/api/v1/audit", alice).status, 405);
}

TEST_F(WebAdminsApi, ViewersDoNotReadTheAuditLog) {
  add("vera", Role::kViewer);
  add("bob", Role::kAdmin);
  const Session vera = sign_in("vera");
  auto r = send("GET", "/api/v1/audit", vera);
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(body_of(r)["error"].get<std::string>().find("viewer"), std::string::npos);
  EXPECT_EQ(send("GET", "/api/v1/audit", sign_in("bob")).status, 200);
  EXPECT_EQ(send("GET", "/api/v1/audit", Session{}).status, 401);
}

}  // namespace
}  // namespace waypost::web::test_api
