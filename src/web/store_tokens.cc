// web.db's bearer secrets: sessions, API tokens and setup links, each found by the SHA-256 of its
// token and checked once more with a constant-time comparison of the stored hash.
#include "web/store.h"

#include <algorithm>

namespace waypost::web {

namespace {

TokenHash read_hash(const sql::Stmt& s, int col) {
  TokenHash h{};
  const std::vector<uint8_t> blob = s.column_blob(col);
  if (blob.size() == h.size()) std::copy(blob.begin(), blob.end(), h.begin());
  return h;
}

ApiTokenRecord read_token(const sql::Stmt& s) {
  ApiTokenRecord t;
  t.id = s.column_int(0);
  t.token_hash = read_hash(s, 1);
  t.admin = s.column_text(2);
  t.label = s.column_text(3);
  t.created = s.column_int(4);
  t.revoked = s.column_int(5);
  t.last_used = s.column_int(6);
  return t;
}

constexpr const char* kTokenColumns = "id, token_hash, admin, label, created, revoked, last_used";

}  // namespace

Status Store::add_session(const SessionRecord& r) {
  auto s = prepare(
      "INSERT INTO sessions (token_hash, admin, csrf, created, expires, last_seen) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!s) return s.take_error();
  s->bind_blob(1, r.token_hash)
      .bind(2, r.admin)
      .bind(3, r.csrf)
      .bind(4, r.created)
      .bind(5, r.expires)
      .bind(6, r.last_seen);
  return s->run();
}

Result<std::optional<SessionRecord>> Store::find_session(const TokenHash& token_hash) {
  auto s = prepare(
      "SELECT token_hash, admin, csrf, created, expires, last_seen FROM sessions "
      "WHERE token_hash = ?1");
  if (!s) return s.take_error();
  s->bind_blob(1, token_hash);
  auto row = s->step();
  if (!row) return row.take_error();
  if (!*row) return std::optional<SessionRecord>();
  SessionRecord r;
  r.token_hash = read_hash(*s, 0);
  if (!same_hash(r.token_hash, token_hash)) return std::optional<SessionRecord>();
  r.admin = s->column_text(1);
  r.csrf = s->column_text(2);
  r.created = s->column_int(3);
  r.expires = s->column_int(4);
  r.last_seen = s->column_int(5);
  return std::optional<SessionRecord>(std::move(r));
}

Status Store::touch_session(const TokenHash& token_hash, int64_t now) {
  auto s = prepare("UPDATE sessions SET last_seen = ?2 WHERE token_hash = ?1");
  if (!s) return s.take_error();
  s->bind_blob(1, token_hash).bind(2, now);
  return s->run();
}

Status Store::delete_session(const TokenHash& token_hash) {
  auto s = prepare("DELETE FROM sessions WHERE token_hash = ?1");
  if (!s) return s.take_error();
  s->bind_blob(1, token_hash);
  return s->run();
}

Status Store::delete_sessions_of(std::string_view admin) {
  auto s = prepare("DELETE FROM sessions WHERE admin = ?1");
  if (!s) return s.take_error();
  s->bind(1, admin);
  return s->run();
}

Status Store::delete_expired_sessions(int64_t now, int64_t idle_cutoff) {
  auto s = prepare("DELETE FROM sessions WHERE expires <= ?1 OR last_seen < ?2");
  if (!s) return s.take_error();
  s->bind(1, now).bind(2, idle_cutoff);
  return s->run();
}

Result<int64_t> Store::add_api_token(const ApiTokenRecord& t) {
  auto s =
      prepare("INSERT INTO api_tokens (token_hash, admin, label, created) VALUES (?1, ?2, ?3, ?4)");
  if (!s) return s.take_error();
  s->bind_blob(1, t.token_hash).bind(2, t.admin).bind(3, t.label).bind(4, t.created);
  if (auto st = s->run(); !st) return st.take_error();
  return int64_t{sqlite3_last_insert_rowid(db_.get())};
}

Result<std::optional<ApiTokenRecord>> Store::find_api_token(const TokenHash& token_hash) {
  auto s = prepare(fmt::format("SELECT {} FROM api_tokens WHERE token_hash = ?1", kTokenColumns));
  if (!s) return s.take_error();
  s->bind_blob(1, token_hash);
  auto row = s->step();
  if (!row) return row.take_error();
  if (!*row) return std::optional<ApiTokenRecord>();
  ApiTokenRecord t = read_token(*s);
  if (!same_hash(t.token_hash, token_hash)) return std::optional<ApiTokenRecord>();
  return std::optional<ApiTokenRecord>(std::move(t));
}

Result<std::vector<ApiTokenRecord>> Store::list_api_tokens(std::string_view admin) {
  auto s =
      prepare(fmt::format("SELECT {} FROM api_tokens WHERE admin = ?1 ORDER BY id", kTokenColumns));
  if (!s) return s.take_error();
  s->bind(1, admin);
  std::vector<ApiTokenRecord> out;
  while (true) {
    auto row = s->step();
    if (!row) return row.take_error();
    if (!*row) break;
    out.push_back(read_token(*s));
  }
  return out;
}

Result<bool> Store::revoke_api_token(std::string_view admin, int64_t id, int64_t now) {
  auto s =
      prepare("UPDATE api_tokens SET revoked = ?3 WHERE id = ?1 AND admin = ?2 AND revoked = 0");
  if (!s) return s.take_error();
  s->bind(1, id).bind(2, admin).bind(3, std::max<int64_t>(now, 1));
  if (auto st = s->run(); !st) return st.take_error();
  return sqlite3_changes(db_.get()) > 0;
}

Status Store::touch_api_token(int64_t id, int64_t now) {
  auto s = prepare("UPDATE api_tokens SET last_used = ?2 WHERE id = ?1");
  if (!s) return s.take_error();
  s->bind(1, id).bind(2, now);
  return s->run();
}

Status Store::add_setup_link(const SetupLinkRecord& link) {
  auto s =
      prepare("INSERT INTO setup_links (token_hash, admin, expires, used) VALUES (?1, ?2, ?3, ?4)");
  if (!s) return s.take_error();
  s->bind_blob(1, link.token_hash)
      .bind(2, link.admin)
      .bind(3, link.expires)
      .bind(4, int64_t{link.used ? 1 : 0});
  return s->run();
}

Result<std::optional<SetupLinkRecord>> Store::find_setup_link(const TokenHash& token_hash) {
  auto s =
      prepare("SELECT token_hash, admin, expires, used FROM setup_links WHERE token_hash = ?1");
  if (!s) return s.take_error();
  s->bind_blob(1, token_hash);
  auto row = s->step();
  if (!row) return row.take_error();
  if (!*row) return std::optional<SetupLinkRecord>();
  SetupLinkRecord l;
  l.token_hash = read_hash(*s, 0);
  if (!same_hash(l.token_hash, token_hash)) return std::optional<SetupLinkRecord>();
  l.admin = s->column_text(1);
  l.expires = s->column_int(2);
  l.used = s->column_int(3) != 0;
  return std::optional<SetupLinkRecord>(std::move(l));
}

Result<bool> Store::use_setup_link(const TokenHash& token_hash) {
  // One statement, so that of two requests racing with the same link exactly one wins.
  auto s = prepare("UPDATE setup_links SET used = 1 WHERE token_hash = ?1 AND used = 0");
  if (!s) return s.take_error();
  s->bind_blob(1, token_hash);
  if (auto st = s->run(); !st) return st.take_error();
  return sqlite3_changes(db_.get()) > 0;
}

Status Store::delete_setup_links_of(std::string_view admin) {
  auto s = prepare("DELETE FROM setup_links WHERE admin = ?1");
  if (!s) return s.take_error();
  s->bind(1, admin);
  return s->run();
}

}  // namespace waypost::web
