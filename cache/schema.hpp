#pragma once
#include <sqlite3.h>

namespace shapejit::cache {

struct SchemaState {
  int version = 0;       // what the file holds (after any migration)
  bool too_new = false;  // written by a newer shapejit: refuse, touch nothing
};

// Creates the tables in a new file (auto_vacuum set first) or migrates an older schema, inside
// one write transaction; a read-only file is only inspected. Throws SqliteError.
SchemaState prepare_schema(sqlite3* db, bool read_only);

}  // namespace shapejit::cache
