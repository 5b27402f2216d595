// shapejit cache ls|stats|verify|gc|export|import|clear: inspect and maintain the kernel database.
#include <iomanip>
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "cache_open.hpp"
#include "commands.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/cache/kernel_store.hpp"
#include "shapejit/cache/recovery.hpp"
#include "shapejit/error.hpp"
#include "tuning_summary.hpp"

namespace shapejit::cli {
namespace {
namespace fs = std::filesystem;

struct CacheArgs {
  std::string cache;
  std::string family, arch, file;
  long long max_bytes = -1;
  bool json = false, repair = false, force = false;
};

void cmd_ls(const CacheArgs& a) {
  auto store = open_cache(cache_path(a.cache), CacheAccess::existing);
  std::vector<cache::KernelRecord> records;
  with_recovery_hint(*store, [&] { records = store->list(a.family, a.arch); });
  const std::set<std::string> tuned = tuned_specs(*store);   // winners of tuning sessions
  if (a.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : records)
      out.push_back({{"key", r.key}, {"spec", r.spec}, {"named", jit::describe_spec(r.spec)},
                     {"family", r.family}, {"arch", r.arch}, {"tuned", tuned.count(r.spec) > 0},
                     {"bytes", r.bytes}, {"registers", r.registers}, {"spill_bytes", r.spill_store_bytes},
                     {"compile_ms", r.compile_ms}, {"created", r.created}, {"last_used", r.last_used}});
    std::cout << out.dump() << "\n";
    return;
  }
  for (const auto& r : records)
    std::cout << r.key.substr(0, 12) << "  " << std::setw(8) << r.bytes << " B  " << std::setw(4)
              << r.registers << " regs  " << std::fixed << std::setprecision(0) << std::setw(6)
              << r.compile_ms << " ms  " << (tuned.count(r.spec) ? "[tuned] " : "") << jit::describe_spec(r.spec)
              << "\n";
  std::cout << records.size() << " kernels\n";
}

void cmd_stats(const CacheArgs& a) {
  auto store = open_cache(cache_path(a.cache), CacheAccess::existing, false);
  cache::StoreStats s;
  with_recovery_hint(*store, [&] { s = store->stats(); });
  nlohmann::json j = {{"path", s.path}, {"status", s.status}, {"journal_mode", s.journal_mode},
                      {"schema_version", s.schema_version}, {"entries", s.entries},
                      {"bytes", s.bytes}, {"file_bytes", s.file_bytes},
                      {"families", s.entries_per_family}, {"bytes_per_family", s.bytes_per_family},
                      {"writable", s.writable}, {"bypass_reason", s.bypass_reason},
                      {"tuning_records", s.tuning_records}, {"profiles", s.profiles},
                      {"counters", {{"hits", s.counters.hits}, {"misses", s.counters.misses},
                                    {"corrupt", s.counters.corrupt}, {"bypasses", s.counters.bypasses}}}};
  nlohmann::json tuning;
  with_recovery_hint(*store, [&] { tuning = tuning_summary(*store); });
  j["tuning"] = tuning;
  if (a.json) {
    std::cout << j.dump() << "\n";
    return;
  }
  std::cout << "path:     " << s.path << "\nstatus:   " << s.status << "\nschema:   v" << s.schema_version
            << "\nentries:  " << s.entries << " (" << s.bytes << " B of kernels, file " << s.file_bytes
            << " B)\n";
  for (const auto& [family, n] : s.entries_per_family)
    std::cout << "  " << family << ": " << n << " kernels, " << s.bytes_per_family.at(family) << " B\n";
  std::cout << "tuning records: " << s.tuning_records << " in " << tuning["sessions"] << " sessions ("
            << tuning["records_by_status"].dump() << "), profiles: " << s.profiles << "\n"
            << "tuned:    " << tuning_summary_line(tuning) << "\n";
}

// verify --repair on a file that cannot be used at all: keep it under another name, start anew.
fs::path set_aside(std::unique_ptr<cache::KernelStore>& store, const fs::path& path) {
  store.reset();   // close it before the rename
  const fs::path aside = cache::set_aside_database(path);
  std::cerr << "shapejit: " << path.string() << " is damaged beyond single entries; moved it to " << aside.string()
            << " and started a new cache at " << path.string() << "\n";
  store = open_cache(path, CacheAccess::create);
  return aside;
}

void cmd_verify(const CacheArgs& a) {
  const fs::path path = cache_path(a.cache);
  auto store = open_cache(path, CacheAccess::existing, !a.repair);
  fs::path aside;
  std::size_t checked = 0;
  std::vector<std::string> bad;
  if (a.repair && !store->persistent()) {
    if (!store->damaged()) fail(Errc::cache, "cannot repair " + path.string() + ": " + store->status());
    aside = set_aside(store, path);
  } else {
    try {
      with_recovery_hint(*store, [&] {
        checked = store->list().size();
        bad = store->verify(a.repair);
      });
    } catch (const Error&) {
      if (!a.repair || !store->damaged()) throw;
      aside = set_aside(store, path);
    }
  }
  const bool failed = !bad.empty() || !aside.empty();
  if (a.json) {
    std::cout << nlohmann::json{{"path", path.string()}, {"checked", checked}, {"corrupt", bad},
                                {"repaired", a.repair && failed},
                                {"set_aside", aside.empty() ? nlohmann::json() : nlohmann::json(aside.string())}}
                     .dump()
              << "\n";
  } else {
    for (const auto& k : bad) std::cout << "corrupt: " << k << (a.repair ? " (removed)" : "") << "\n";
    if (aside.empty())
      std::cout << checked << " entries checked, " << bad.size() << " corrupt\n";
    else
      std::cout << "damaged database moved to " << aside.string() << "; new cache at " << path.string() << "\n";
  }
  if (failed) throw ExitCode{kExitFailure};
}

void cmd_gc(const CacheArgs& a) {
  if (a.max_bytes < 0) fail(Errc::invalid_argument, "cache gc needs --max-bytes N (N >= 0)");
  auto store = open_cache(cache_path(a.cache), CacheAccess::existing);
  long long removed = 0, remaining = 0;
  with_recovery_hint(*store, [&] {
    removed = store->gc(a.max_bytes);
    remaining = store->stats().bytes;
  });
  if (a.json)
    std::cout << nlohmann::json{{"evicted", removed}, {"bytes", remaining}}.dump() << "\n";
  else
    std::cout << "evicted " << removed << " least recently used kernels; " << remaining << " B remain\n";
}

void cmd_export(const CacheArgs& a) {
  std::error_code ec;
  if (!a.force && fs::exists(fs::symlink_status(a.file, ec)))
    fail(Errc::invalid_argument, "cannot export to " + a.file + ": the file exists (--force replaces it)");
  auto store = open_cache(cache_path(a.cache), CacheAccess::existing);
  long long n = 0;
  with_recovery_hint(*store, [&] { n = store->export_to(a.file); });
  std::cout << "exported " << n << " kernels to " << a.file << "\n";
}

void cmd_import(const CacheArgs& a) {
  auto store = open_cache(cache_path(a.cache), CacheAccess::create);
  cache::ImportResult r;
  with_recovery_hint(*store, [&] { r = store->import_from(a.file); });
  if (a.json)
    std::cout << nlohmann::json{{"imported", r.imported},        {"already_present", r.skipped_existing},
                                {"corrupt", r.corrupt},          {"wrong_key", r.wrong_key},
                                {"tuning_records", r.tuning_records}, {"profiles", r.profiles}}
                     .dump()
              << "\n";
  else
    std::cout << "imported " << r.imported << ", already present " << r.skipped_existing << ", corrupt skipped "
              << r.corrupt << ", not this build's key for their spec " << r.wrong_key << "; tuning records "
              << r.tuning_records << ", profiles " << r.profiles << "\n";
  if (r.corrupt || r.wrong_key) throw ExitCode{kExitFailure};
}

void cmd_clear(const CacheArgs& a) {
  auto store = open_cache(cache_path(a.cache), CacheAccess::existing);
  with_recovery_hint(*store, [&] { store->clear(); });
  std::cout << "cleared\n";
}

}  // namespace

void add_cache_command(CLI::App& app) {
  auto a = std::make_shared<CacheArgs>();
  auto* cache = app.add_subcommand("cache", "Inspect and maintain the kernel cache database");
  cache->require_subcommand(1);
  cache->add_option("--cache", a->cache, "database path (default: $XDG_CACHE_HOME/shapejit/kernels.db)");

  auto* ls = cache->add_subcommand("ls", "List cached kernels");
  ls->add_option("--family", a->family, "only this family");
  ls->add_option("--arch", a->arch, "only this arch");
  ls->add_flag("--json", a->json, "JSON array");
  ls->callback([a] { cmd_ls(*a); });

  auto* stats = cache->add_subcommand("stats", "Entries, sizes, journal mode and schema version");
  stats->add_flag("--json", a->json, "JSON object");
  stats->callback([a] { cmd_stats(*a); });

  auto* verify = cache->add_subcommand(
      "verify", "Check every entry's checksum (it covers key, spec and content); exit 1 if any is corrupt");
  verify->add_flag("--repair", a->repair,
                   "remove corrupt entries (they recompile on next use); a damaged file is moved aside and "
                   "a new one started");
  verify->add_flag("--json", a->json, "one JSON object");
  verify->callback([a] { cmd_verify(*a); });

  auto* gc = cache->add_subcommand("gc", "Evict least recently used kernels down to a size");
  gc->add_option("--max-bytes", a->max_bytes, "size bound in bytes")->required();
  gc->add_flag("--json", a->json, "one JSON object");
  gc->callback([a] { cmd_gc(*a); });

  auto* exp = cache->add_subcommand("export", "Write every verified kernel to a portable file");
  exp->add_option("file", a->file, "output file")->required();
  exp->add_flag("--force", a->force, "replace the file if it exists");
  exp->callback([a] { cmd_export(*a); });

  auto* imp = cache->add_subcommand("import", "Add the kernels of an exported file (verified)");
  imp->add_option("file", a->file, "exported file")->required()->check(CLI::ExistingFile);
  imp->add_flag("--json", a->json, "one JSON object");
  imp->callback([a] { cmd_import(*a); });

  auto* clear = cache->add_subcommand("clear", "Remove every kernel");
  clear->callback([a] { cmd_clear(*a); });
  // --cache may follow the action too: `shapejit cache ls --cache FILE`.
  for (auto* sub : cache->get_subcommands({})) sub->fallthrough();
}

}  // namespace shapejit::cli
