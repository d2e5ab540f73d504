#include "server/wg_easy.h"

#include <sqlite3.h>

#include <ctime>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/secret.h"

namespace waypost::server {

namespace {

// JSON values are the user's data: every read checks the type, nothing throws.
std::optional<std::string> string_at(const nlohmann::json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

struct ClientFields {
  std::string where;
  std::optional<std::string> private_key, public_key, preshared_key, ipv4, ipv6;
};

// The keys and addresses of one client, checked; shared by the JSON and SQLite readers.
Status fill_client(const ClientFields& f, WgEasyClient& c) {
  if (!f.public_key) return make_error("{}: no public key", f.where);
  auto pub = crypto::public_key_from_base64(*f.public_key);
  if (!pub) return make_error("{}: public key: {}", f.where, pub.error().message);
  c.public_key = *pub;
  if (f.private_key && !f.private_key->empty()) {
    auto k = crypto::private_key_from_base64(*f.private_key);
    if (!k) return make_error("{}: private key: {}", f.where, k.error().message);
    c.private_key = *k;
  }
  if (f.preshared_key && !f.preshared_key->empty()) {
    auto k = crypto::private_key_from_base64(*f.preshared_key);
    if (!k) return make_error("{}: preshared key: {}", f.where, k.error().message);
    c.preshared_key = *k;
  }
  if (f.ipv4 && !f.ipv4->empty()) {
    auto a = net::IpAddress::parse(*f.ipv4);
    if (!a || !a->is_v4()) return make_error("{}: invalid IPv4 address '{}'", f.where, *f.ipv4);
    c.ipv4 = *a;
  }
  if (f.ipv6 && !f.ipv6->empty()) {
    auto a = net::IpAddress::parse(*f.ipv6);
    if (!a || a->is_v4()) return make_error("{}: invalid IPv6 address '{}'", f.where, *f.ipv6);
    c.ipv6 = *a;
  }
  return {};
}

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

std::optional<std::string> column_text(sqlite3_stmt* s, int i) {
  if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return text == nullptr ? std::string() : std::string(text);
}

Result<Stmt> prepare(sqlite3* db, const std::string& path, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
    return make_error(ErrorKind::kParse, "{}: not a wg-easy v15 database ({})", path,
                      sqlite3_errmsg(db));
  }
  return Stmt(raw);
}

}  // namespace

int64_t parse_wg_easy_time(std::string_view t) {
  // YYYY-MM-DD?HH:MM:SS, the rest (fraction, zone) ignored: wg-easy writes UTC.
  if (t.size() < 19) return 0;
  auto num = [&](size_t at, size_t n) -> int {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return -1;
      v = v * 10 + (t[i] - '0');
    }
    return v;
  };
  tm parts{};
  parts.tm_year = num(0, 4) - 1900;
  parts.tm_mon = num(5, 2) - 1;
  parts.tm_mday = num(8, 2);
  parts.tm_hour = num(11, 2);
  parts.tm_min = num(14, 2);
  parts.tm_sec = num(17, 2);
  if (t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != ' ') || t[13] != ':' ||
      t[16] != ':' || parts.tm_year < 70 || parts.tm_mon < 0 || parts.tm_mon > 11 ||
      parts.tm_mday < 1 || parts.tm_mday > 31 || parts.tm_hour < 0 || parts.tm_hour > 23 ||
      parts.tm_min < 0 || parts.tm_min > 59 || parts.tm_sec < 0 || parts.tm_sec > 60) {
    return 0;
  }
  return int64_t(timegm(&parts));
}

Result<WgEasyData> parse_wg_easy_json(std::string_view text, const std::string& file) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorKind::kParse, "{}: not valid JSON", file);
  }
  WgEasyData d;
  d.file = file;
  auto server = j.find("server");
  if (server == j.end() || !server->is_object()) {
    return make_error(ErrorKind::kParse, "{}: no \"server\" object (not a wg-easy wg0.json)", file);
  }
  if (auto pk = string_at(*server, "privateKey")) {
    auto k = crypto::private_key_from_base64(*pk);
    if (!k) {
      return make_error(ErrorKind::kParse, "{}: server.privateKey: {}", file, k.error().message);
    }
    d.server_private_key = *k;
  }
  auto clients = j.find("clients");
  if (clients == j.end()) return d;
  if (!clients->is_object()) {
    return make_error(ErrorKind::kParse, "{}: \"clients\" must be an object", file);
  }
  for (auto it = clients->begin(); it != clients->end(); ++it) {
    const auto& cj = it.value();
    ClientFields f;
    f.where = fmt::format("{}: client {}", file, it.key());
    if (!cj.is_object()) return make_error(ErrorKind::kParse, "{} is not an object", f.where);
    WgEasyClient c;
    c.id = it.key();
    c.name = string_at(cj, "name").value_or("");
    f.private_key = string_at(cj, "privateKey");
    f.public_key = string_at(cj, "publicKey");
    f.preshared_key = string_at(cj, "preSharedKey");
    f.ipv4 = string_at(cj, "address");
    if (auto st = fill_client(f, c); !st) {
      return make_error(ErrorKind::kParse, "{}", st.error().message);
    }
    if (auto e = cj.find("enabled"); e != cj.end() && e->is_boolean()) c.enabled = e->get<bool>();
    c.created = parse_wg_easy_time(string_at(cj, "createdAt").value_or(""));
    d.clients.push_back(std::move(c));
  }
  return d;
}

Result<WgEasyData> read_wg_easy_sqlite(const std::string& path) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    return make_error("{}: cannot open: {}", path, db ? sqlite3_errmsg(db.get()) : "out of memory");
  }
  WgEasyData d;
  d.file = path;
  // The first interface (wg-easy has one, "wg0").
  auto iface = prepare(db.get(), path,
                       "SELECT name, port, private_key, ipv4_cidr, ipv6_cidr FROM interfaces_table "
                       "ORDER BY name LIMIT 1");
  if (!iface) return iface.take_error();
  if (sqlite3_step(iface->get()) != SQLITE_ROW) {
    return make_error(ErrorKind::kParse, "{}: interfaces_table is empty", path);
  }
  const std::string name = column_text(iface->get(), 0).value_or("");
  const int port = sqlite3_column_int(iface->get(), 1);
  if (port > 0 && port <= 65535) d.port = uint16_t(port);
  if (auto pk = column_text(iface->get(), 2)) {
    auto k = crypto::private_key_from_base64(*pk);
    if (!k) {
      return make_error(ErrorKind::kParse, "{}: interface {}: private key: {}", path, name,
                        k.error().message);
    }
    d.server_private_key = *k;
  }
  for (int col : {3, 4}) {
    if (auto cidr = column_text(iface->get(), col)) {
      auto p = net::Prefix::parse(*cidr);
      if (!p) return make_error(ErrorKind::kParse, "{}: interface {}: '{}'", path, name, *cidr);
      (col == 3 ? d.ipv4_cidr : d.ipv6_cidr) = *p;
    }
  }
  auto uc = prepare(db.get(), path, "SELECT host, port FROM user_configs_table WHERE id = ?1");
  if (uc) {
    sqlite3_bind_text(uc->get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(uc->get()) == SQLITE_ROW) {
      d.host = column_text(uc->get(), 0).value_or("");
      const int p = sqlite3_column_int(uc->get(), 1);
      if (p > 0 && p <= 65535) d.client_port = uint16_t(p);
    }
  }
  auto clients = prepare(db.get(), path,
                         "SELECT id, name, private_key, public_key, pre_shared_key, ipv4_address, "
                         "ipv6_address, enabled, created_at FROM clients_table "
                         "WHERE interface_id = ?1 ORDER BY id");
  if (!clients) return clients.take_error();
  sqlite3_bind_text(clients->get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  int step = 0;
  while ((step = sqlite3_step(clients->get())) == SQLITE_ROW) {
    sqlite3_stmt* s = clients->get();
    WgEasyClient c;
    c.id = column_text(s, 0).value_or("");
    c.name = column_text(s, 1).value_or("");
    ClientFields f;
    f.where = fmt::format("{}: client {} ({})", path, c.id, c.name);
    f.private_key = column_text(s, 2);
    f.public_key = column_text(s, 3);
    f.preshared_key = column_text(s, 4);
    f.ipv4 = column_text(s, 5);
    f.ipv6 = column_text(s, 6);
    if (auto st = fill_client(f, c); !st) return st.take_error();
    c.enabled = sqlite3_column_int(s, 7) != 0;
    c.created = parse_wg_easy_time(column_text(s, 8).value_or(""));
    d.clients.push_back(std::move(c));
  }
  if (step != SQLITE_DONE) return make_error("{}: {}", path, sqlite3_errmsg(db.get()));
  return d;
}

Result<WgEasyData> read_wg_easy(const std::string& path) {
  auto text = read_file(path);
  if (!text) return text.take_error();
  Result<WgEasyData> out = text->starts_with("SQLite format 3") ? read_wg_easy_sqlite(path)
                                                                : parse_wg_easy_json(*text, path);
  // The file holds private keys.
  secure_wipe(text->data(), text->size());
  return out;
}

}  // namespace waypost::server
