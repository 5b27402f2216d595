#include "sqlite_handles.hpp"

namespace shapejit::cache {
namespace {
[[noreturn]] void raise(sqlite3* db, int code) {
  throw SqliteError(code, db ? sqlite3_errmsg(db) : sqlite3_errstr(code));
}
}  // namespace

DbHandle open_database(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) {
    const std::string message = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    const int code = raw ? sqlite3_extended_errcode(raw) : rc;
    throw SqliteError(code, message);
  }
  sqlite3_extended_result_codes(db.get(), 1);
  return db;
}

Statement::Statement(sqlite3* db, const char* sql) : db_(db) {
  if (int rc = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); rc != SQLITE_OK) raise(db, rc);
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int i, const std::string& text) {
  if (int rc = sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT))
    raise(db_, rc);
  return *this;
}
Statement& Statement::bind(int i, std::int64_t v) {
  if (int rc = sqlite3_bind_int64(stmt_, i, v)) raise(db_, rc);
  return *this;
}
Statement& Statement::bind(int i, double v) {
  if (int rc = sqlite3_bind_double(stmt_, i, v)) raise(db_, rc);
  return *this;
}
Statement& Statement::bind_blob(int i, const void* data, std::size_t size) {
  // A null pointer would bind NULL; an empty blob is still a blob.
  static const char kEmpty = 0;
  if (int rc = sqlite3_bind_blob64(stmt_, i, data ? data : &kEmpty, size, SQLITE_TRANSIENT)) raise(db_, rc);
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  raise(db_, rc);
}

void Statement::reset() { sqlite3_reset(stmt_); }

std::int64_t Statement::integer(int c) const { return sqlite3_column_int64(stmt_, c); }
double Statement::real(int c) const { return sqlite3_column_double(stmt_, c); }
std::string Statement::text(int c) const {
  const auto* p = sqlite3_column_text(stmt_, c);
  return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, c)) : std::string();
}
std::vector<std::uint8_t> Statement::blob(int c) const {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, c));
  return p ? std::vector<std::uint8_t>(p, p + sqlite3_column_bytes(stmt_, c)) : std::vector<std::uint8_t>();
}

void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string message = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw SqliteError(rc, message);
  }
}

std::int64_t query_integer(sqlite3* db, const char* sql) {
  Statement s(db, sql);
  return s.step() ? s.integer(0) : 0;
}

std::string query_text(sqlite3* db, const char* sql) {
  Statement s(db, sql);
  return s.step() ? s.text(0) : std::string();
}

WriteTransaction::WriteTransaction(sqlite3* db) : db_(db) { exec(db, "BEGIN IMMEDIATE"); }
WriteTransaction::~WriteTransaction() {
  if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}
void WriteTransaction::commit() {
  exec(db_, "COMMIT");
  done_ = true;
}

}  // namespace shapejit::cache
