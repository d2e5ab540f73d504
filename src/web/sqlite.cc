#include "web/sqlite.h"

namespace waypost::web::sql {

Error db_error(sqlite3* db, int rc, std::string_view path, std::string_view what) {
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {  // the primary code; extended codes keep it in the low byte
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return make_error(ErrorKind::kIo,
                        "{}: {}: the database is locked by another process; try again, or look "
                        "for a stuck `waypost` command",
                        path, what);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return make_error(ErrorKind::kIo,
                        "{}: {}: the database is damaged or not an SQLite database ({}); move it "
                        "aside and restore it from a backup (the VPN users in config.yaml are "
                        "not affected)",
                        path, what, detail);
    case SQLITE_FULL:
      return make_error(ErrorKind::kIo, "{}: {}: the disk is full", path, what);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return make_error(ErrorKind::kPermission, "{}: {}: not allowed to write ({}); run as root",
                        path, what, detail);
    case SQLITE_CANTOPEN:
      return make_error(ErrorKind::kIo, "{}: {}: cannot open the database ({})", path, what,
                        detail);
    default:
      return make_error(ErrorKind::kIo, "{}: {}: {}", path, what, detail);
  }
}

Result<Stmt> Stmt::prepare(sqlite3* db, std::string_view path, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql.data(), int(sql.size()), &raw, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    return db_error(db, rc, path, "preparing a query");
  }
  return Stmt(db, path, raw);
}

void Stmt::note(int rc) {
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

Stmt& Stmt::bind(int index, int64_t value) {
  note(sqlite3_bind_int64(stmt_.get(), index, value));
  return *this;
}

Stmt& Stmt::bind(int index, std::string_view text) {
  note(sqlite3_bind_text(stmt_.get(), index, text.data(), int(text.size()), SQLITE_TRANSIENT));
  return *this;
}

Stmt& Stmt::bind_blob(int index, std::span<const uint8_t> bytes) {
  // A zero-length blob still binds as a blob, not NULL: the pointer must not be null.
  static const uint8_t kEmpty = 0;
  const void* data = bytes.empty() ? &kEmpty : bytes.data();
  note(sqlite3_bind_blob(stmt_.get(), index, data, int(bytes.size()), SQLITE_TRANSIENT));
  return *this;
}

Result<bool> Stmt::step() {
  if (bind_rc_ != SQLITE_OK) return db_error(db_, bind_rc_, path_, "binding a query parameter");
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_error(db_, rc, path_, "running a query");
}

Status Stmt::run() {
  auto r = step();
  if (!r) return r.take_error();
  return {};
}

int64_t Stmt::column_int(int col) const {
  return sqlite3_column_int64(stmt_.get(), col);
}

std::string Stmt::column_text(int col) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), col));
  if (text == nullptr) return {};
  return {text, size_t(sqlite3_column_bytes(stmt_.get(), col))};
}

std::vector<uint8_t> Stmt::column_blob(int col) const {
  const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_.get(), col));
  const int size = sqlite3_column_bytes(stmt_.get(), col);
  if (data == nullptr || size <= 0) return {};
  return {data, data + size};
}

Status exec(sqlite3* db, std::string_view path, const std::string& sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  sqlite3_free(message);  // db_error reads the same text from sqlite3_errmsg
  if (rc != SQLITE_OK) return db_error(db, rc, path, "updating the database");
  return {};
}

}  // namespace waypost::web::sql
