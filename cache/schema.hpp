#pragma once
// The tables of a kernel database, how a file is recognized as one, and the migrations from
// older versions. Everything here throws SqliteError; the store decides what a failure means.
#include <sqlite3.h>

#include <string>

namespace shapejit::cache {

struct SchemaState {
  int version = 0;        // what the file holds (after any migration); 0: empty file
  bool too_new = false;   // written by a newer shapejit: refuse, touch nothing
  bool foreign = false;   // a SQLite database that is not ours: refuse, touch nothing
  std::string detail;     // why a file was judged foreign
};

// Reads the header and the table list; writes nothing. A file that is not SQLite fails here
// (SQLITE_NOTADB).
SchemaState inspect_schema(sqlite3* db);

// Creates the tables in an empty file (auto_vacuum set first) or migrates an older schema, in
// one write transaction. Files that are too new or foreign are only inspected; so is every
// file when read_only.
SchemaState prepare_schema(sqlite3* db, bool read_only);

}  // namespace shapejit::cache
