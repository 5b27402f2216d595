#pragma once
// RAII owners for sqlite3 connections and statements, with the few typed helpers the store uses.
#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace shapejit::cache {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;

// A SQLite failure: the result code and the connection's message.
struct SqliteError {
  int code;
  std::string message;
};

class Statement {
 public:
  Statement(sqlite3* db, const char* sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, const std::string& text);
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, double value);
  Statement& bind_blob(int index, const void* data, std::size_t size);

  bool step();   // true: a row is ready; false: done. Throws SqliteError.
  std::int64_t integer(int column) const;
  double real(int column) const;
  std::string text(int column) const;
  std::vector<std::uint8_t> blob(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

void exec(sqlite3* db, const char* sql);   // throws SqliteError

// BEGIN IMMEDIATE (the write lock up front, so busy_timeout applies) ... COMMIT, or ROLLBACK
// when destroyed without commit().
class WriteTransaction {
 public:
  explicit WriteTransaction(sqlite3* db);
  ~WriteTransaction();
  void commit();

 private:
  sqlite3* db_;
  bool done_ = false;
};

}  // namespace shapejit::cache
