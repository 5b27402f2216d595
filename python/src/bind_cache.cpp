// The kernel database from Python: stats, ls, verify (what `shapejit cache` shows). Each call
// opens the file for its own use, so it sees what other processes stored.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "bindings.hpp"
#include "shapejit/cache/kernel_store.hpp"
#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/runtime.hpp"

namespace shapejit::python {
namespace {

std::filesystem::path path_or_default(const std::optional<std::string>& path) {
  return path ? std::filesystem::path(*path) : runtime::default_cache_path();
}

// An existing database, never created; maintenance needs the file itself, so a store that fell
// back to memory is an error naming why.
std::unique_ptr<cache::KernelStore> open_existing(const std::filesystem::path& path) {
  cache::StoreOptions o;
  o.create = false;
  o.on_bypass = [](const std::string&) {};   // the reason is reported by the error below
  auto store = std::make_unique<cache::KernelStore>(path, o);
  if (!store->persistent())
    fail(Errc::cache, "cannot use the kernel database " + path.string() + ": " + store->status());
  return store;
}

template <typename Map>
nb::dict to_dict(const Map& map) {
  nb::dict d;
  for (const auto& [k, v] : map) d[k.c_str()] = v;
  return d;
}

}  // namespace

void bind_cache(nb::module_& m) {
  m.def("cache_stats",
        [](std::optional<std::string> path) {
          const auto p = path_or_default(path);
          cache::StoreStats s;
          {
            nb::gil_scoped_release unlocked;
            s = open_existing(p)->stats();
          }
          nb::dict d;
          d["path"] = s.path;
          d["status"] = s.status;
          d["journal_mode"] = s.journal_mode;
          d["schema_version"] = s.schema_version;
          d["entries"] = s.entries;
          d["bytes"] = s.bytes;
          d["file_bytes"] = s.file_bytes;
          d["families"] = to_dict(s.entries_per_family);
          d["bytes_per_family"] = to_dict(s.bytes_per_family);
          d["writable"] = s.writable;
          d["bypass_reason"] = s.bypass_reason;
          d["tuning_records"] = s.tuning_records;
          d["profiles"] = s.profiles;
          return d;
        },
        nb::arg("path") = nb::none(),
        "What `shapejit cache stats --json` shows, as a dict. Raises CacheError when the file does not exist or "
        "cannot be used.");
  m.def("cache_ls",
        [](std::optional<std::string> path, const std::string& family, const std::string& arch) {
          const auto p = path_or_default(path);
          std::vector<cache::KernelRecord> records;
          {
            nb::gil_scoped_release unlocked;
            records = open_existing(p)->list(family, arch);
          }
          nb::list out;
          for (const auto& r : records) {
            nb::dict d;
            d["key"] = r.key;
            d["spec"] = r.spec;
            d["named"] = jit::describe_spec(r.spec);
            d["family"] = r.family;
            d["arch"] = r.arch;
            d["bytes"] = r.bytes;
            d["registers"] = r.registers;
            d["spill_bytes"] = r.spill_store_bytes;
            d["compile_ms"] = r.compile_ms;
            d["created"] = r.created;
            d["last_used"] = r.last_used;
            out.append(d);
          }
          return out;
        },
        nb::arg("path") = nb::none(), nb::arg("family") = "", nb::arg("arch") = "",
        "The kernels in the database (filters ignored when empty), one dict each, as `shapejit cache ls --json`.");
  m.def("cache_verify",
        [](std::optional<std::string> path, bool repair) {
          const auto p = path_or_default(path);
          nb::gil_scoped_release unlocked;
          return open_existing(p)->verify(repair);
        },
        nb::arg("path") = nb::none(), nb::arg("repair") = false,
        "Keys of the kernels whose checksum fails (repair=True deletes them). Structural damage raises CacheError.");
}

}  // namespace shapejit::python
