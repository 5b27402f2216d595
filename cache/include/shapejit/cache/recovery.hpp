#pragma once
// Recovery from a database file that cannot be used at all (not a SQLite file, damaged pages).
#include <filesystem>

namespace shapejit::cache {

// Renames the database and its -wal, -shm and -journal files to <path>.unusable-<UTC time>[-N]
// (never over an existing file), so that the next open starts a fresh database. Nothing is
// deleted: what can still be read stays there. Returns the new name of the database file.
// Throws Error(io) when a rename fails.
std::filesystem::path set_aside_database(const std::filesystem::path& path);

}  // namespace shapejit::cache
