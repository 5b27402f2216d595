#include "cache_open.hpp"

#include <iostream>

#include "shapejit/error.hpp"
#include "shapejit/runtime/runtime.hpp"

namespace shapejit::cli {
namespace fs = std::filesystem;

fs::path cache_path(const std::string& option) {
  return option.empty() ? runtime::default_cache_path() : fs::path(option);
}

std::string recovery_hint(const fs::path& path) {
  return "run `shapejit cache verify --repair --cache " + path.string() +
         "` to move the damaged file aside (it is kept) and start a new cache";
}

std::unique_ptr<cache::KernelStore> open_cache(const fs::path& path, CacheAccess access, bool must_persist) {
  std::string why;
  cache::StoreOptions options;
  options.busy_timeout_ms = 60000;
  options.on_bypass = [&why](const std::string& w) { why = w; };
  options.create = access == CacheAccess::create;
  auto store = std::make_unique<cache::KernelStore>(path, options);
  if (must_persist && !store->persistent())
    fail(Errc::cache, store->damaged() ? why + "\n" + recovery_hint(path) : why);
  if (!why.empty()) std::cerr << why << "\n";
  return store;
}

void with_recovery_hint(const cache::KernelStore& store, const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    if (e.code() != Errc::cache || !store.damaged()) throw;
    throw Error(e.code(), std::string(e.what()) + "\n" + recovery_hint(store.path()));
  }
}

}  // namespace shapejit::cli
