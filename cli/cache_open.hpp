#pragma once
// Opening the kernel database for the `cache` commands, and the advice they give when it is
// damaged.
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "shapejit/cache/kernel_store.hpp"

namespace shapejit::cli {

enum class CacheAccess {
  existing,   // a missing file is an error; nothing is created
  create,     // the file and its folders are created when missing
};

// The --cache path, else the default cache.
std::filesystem::path cache_path(const std::string& option);

// must_persist: fail (Error(cache)) unless the file is in use; the message says how to recover
// when the file is damaged.
std::unique_ptr<cache::KernelStore> open_cache(const std::filesystem::path& path, CacheAccess access,
                                               bool must_persist = true);

// Runs a maintenance call; a failure on a damaged file gets the recovery advice appended.
void with_recovery_hint(const cache::KernelStore& store, const std::function<void()>& body);

// "run `shapejit cache verify --repair --cache PATH` to ..."
std::string recovery_hint(const std::filesystem::path& path);

}  // namespace shapejit::cli
