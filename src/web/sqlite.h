#pragma once
// A thin layer over the SQLite C API for web.db: owning handles, a prepared statement whose
// binding errors surface at step(), and SQLite result codes turned into errors that tell an
// operator what to do (locked, damaged, disk full) instead of a bare code.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace waypost::web::sql {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;

// An error for SQLite result code `rc` during `what` on the database at `path`.
Error db_error(sqlite3* db, int rc, std::string_view path, std::string_view what);

class Stmt {
 public:
  // `path` only names the database in errors.
  static Result<Stmt> prepare(sqlite3* db, std::string_view path, std::string_view sql);

  // Parameters are numbered from 1, as in SQL's ?1, ?2.
  Stmt& bind(int index, int64_t value);
  Stmt& bind(int index, std::string_view text);
  Stmt& bind_blob(int index, std::span<const uint8_t> bytes);

  // A row (true), done (false), or an error.
  Result<bool> step();
  // Runs a statement that returns no rows.
  Status run();

  int64_t column_int(int col) const;
  std::string column_text(int col) const;
  std::vector<uint8_t> column_blob(int col) const;

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  Stmt(sqlite3* db, std::string_view path, sqlite3_stmt* stmt)
      : db_(db), path_(path), stmt_(stmt) {}
  void note(int rc);

  sqlite3* db_;
  std::string path_;
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
  int bind_rc_ = SQLITE_OK;
};

// Runs SQL text with no parameters (several statements allowed: schema migrations).
Status exec(sqlite3* db, std::string_view path, const std::string& sql);

}  // namespace waypost::web::sql
