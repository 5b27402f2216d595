#pragma once
// RAII owners for sqlite3 connections and statements, with the few typed helpers the store uses.
#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace shapejit::cache {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;

// A SQLite failure: the (extended) result code and the connection's message. Internal to the
// cache layer: the store turns it into a degradation or a shapejit::Error.
struct SqliteError : std::runtime_error {
  SqliteError(int code, const std::string& message) : std::runtime_error(message), code(code) {}
  int primary() const { return code & 0xff; }
  int code;
};

// Opens (flags as for sqlite3_open_v2) with extended result codes on. Throws SqliteError.
DbHandle open_database(const std::string& path, int flags);

class Statement {
 public:
  Statement(sqlite3* db, const char* sql);
  Statement(sqlite3* db, const std::string& sql) : Statement(db, sql.c_str()) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, const std::string& text);
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, double value);
  Statement& bind_blob(int index, const void* data, std::size_t size);

  bool step();   // true: a row is ready; false: done. Throws SqliteError.
  void reset();  // ready to step again; bindings are kept until rebound
  std::int64_t integer(int column) const;
  double real(int column) const;
  std::string text(int column) const;
  std::vector<std::uint8_t> blob(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

void exec(sqlite3* db, const char* sql);   // throws SqliteError
inline void exec(sqlite3* db, const std::string& sql) { exec(db, sql.c_str()); }

// The first column of the first row of a query (integer or text); throws SqliteError.
std::int64_t query_integer(sqlite3* db, const char* sql);
std::string query_text(sqlite3* db, const char* sql);

// BEGIN IMMEDIATE (the write lock up front, so busy_timeout applies) ... COMMIT, or ROLLBACK
// when destroyed without commit().
class WriteTransaction {
 public:
  explicit WriteTransaction(sqlite3* db);
  ~WriteTransaction();
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  void commit();

 private:
  sqlite3* db_;
  bool done_ = false;
};

// Sets the connection's busy timeout for a scope and restores it afterwards.
class ScopedBusyTimeout {
 public:
  ScopedBusyTimeout(sqlite3* db, int scoped_ms, int restore_ms) : db_(db), restore_ms_(restore_ms) {
    sqlite3_busy_timeout(db_, scoped_ms);
  }
  ~ScopedBusyTimeout() { sqlite3_busy_timeout(db_, restore_ms_); }
  ScopedBusyTimeout(const ScopedBusyTimeout&) = delete;
  ScopedBusyTimeout& operator=(const ScopedBusyTimeout&) = delete;

 private:
  sqlite3* db_;
  int restore_ms_;
};

}  // namespace shapejit::cache
