// shapejit cache ls|stats|verify|gc|export|import|clear: inspect and maintain the kernel database.
#include <iomanip>
#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "shapejit/cache/kernel_store.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/runtime.hpp"

namespace shapejit::cli {
namespace {

struct CacheArgs {
  std::string cache;
  std::string family, arch, file;
  long long max_bytes = -1;
  bool json = false, repair = false;
};

std::unique_ptr<cache::KernelStore> open_store(const CacheArgs& a, bool must_persist = true) {
  const std::filesystem::path path = a.cache.empty() ? runtime::default_cache_path() : std::filesystem::path(a.cache);
  std::string why;
  auto store = std::make_unique<cache::KernelStore>(path, cache::StoreOptions{
      .busy_timeout_ms = 60000, .on_bypass = [&why](const std::string& w) { why = w; }});
  if (must_persist && !store->persistent()) fail(Errc::cache, why);
  if (!why.empty()) std::cerr << why << "\n";
  return store;
}

void cmd_ls(const CacheArgs& a) {
  auto store = open_store(a);
  const auto records = store->list(a.family, a.arch);
  if (a.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : records)
      out.push_back({{"key", r.key}, {"spec", r.spec}, {"family", r.family}, {"arch", r.arch},
                     {"bytes", r.bytes}, {"registers", r.registers}, {"spill_bytes", r.spill_store_bytes},
                     {"compile_ms", r.compile_ms}, {"created", r.created}, {"last_used", r.last_used}});
    std::cout << out.dump() << "\n";
    return;
  }
  for (const auto& r : records)
    std::cout << r.key.substr(0, 12) << "  " << std::setw(8) << r.bytes << " B  " << std::setw(4)
              << r.registers << " regs  " << std::fixed << std::setprecision(0) << std::setw(6)
              << r.compile_ms << " ms  " << r.spec << "\n";
  std::cout << records.size() << " kernels\n";
}

void cmd_stats(const CacheArgs& a) {
  auto store = open_store(a, false);
  const cache::StoreStats s = store->stats();
  nlohmann::json j = {{"path", s.path}, {"status", s.status}, {"journal_mode", s.journal_mode},
                      {"schema_version", s.schema_version}, {"entries", s.entries},
                      {"bytes", s.bytes}, {"file_bytes", s.file_bytes},
                      {"families", s.entries_per_family}, {"bytes_per_family", s.bytes_per_family},
                      {"writable", s.writable}, {"bypass_reason", s.bypass_reason},
                      {"tuning_records", s.tuning_records}, {"profiles", s.profiles},
                      {"counters", {{"hits", s.counters.hits}, {"misses", s.counters.misses},
                                    {"corrupt", s.counters.corrupt}, {"bypasses", s.counters.bypasses}}}};
  if (a.json) {
    std::cout << j.dump() << "\n";
    return;
  }
  std::cout << "path:     " << s.path << "\nstatus:   " << s.status << "\nschema:   v" << s.schema_version
            << "\nentries:  " << s.entries << " (" << s.bytes << " B of kernels, file " << s.file_bytes
            << " B)\n";
  for (const auto& [family, n] : s.entries_per_family)
    std::cout << "  " << family << ": " << n << " kernels, " << s.bytes_per_family.at(family) << " B\n";
  std::cout << "tuning records: " << s.tuning_records << ", profiles: " << s.profiles << "\n";
}

void cmd_verify(const CacheArgs& a) {
  auto store = open_store(a);
  const auto entries = store->list().size();
  const auto bad = store->verify(a.repair);
  for (const auto& k : bad) std::cout << "corrupt: " << k << (a.repair ? " (removed)" : "") << "\n";
  std::cout << entries << " entries checked, " << bad.size() << " corrupt\n";
  if (!bad.empty()) throw ExitCode{kExitFailure};
}

void cmd_gc(const CacheArgs& a) {
  if (a.max_bytes < 0) fail(Errc::invalid_argument, "cache gc needs --max-bytes N (N >= 0)");
  auto store = open_store(a);
  const long long removed = store->gc(a.max_bytes);
  std::cout << "evicted " << removed << " least recently used kernels; " << store->stats().bytes
            << " B remain\n";
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

  auto* verify = cache->add_subcommand("verify", "Check every entry's checksum; exit 1 if any is corrupt");
  verify->add_flag("--repair", a->repair, "remove corrupt entries (they recompile on next use)");
  verify->callback([a] { cmd_verify(*a); });

  auto* gc = cache->add_subcommand("gc", "Evict least recently used kernels down to a size");
  gc->add_option("--max-bytes", a->max_bytes, "size bound in bytes")->required();
  gc->callback([a] { cmd_gc(*a); });

  auto* exp = cache->add_subcommand("export", "Write every verified kernel to a portable file");
  exp->add_option("file", a->file, "output file")->required();
  exp->callback([a] {
    const long long n = open_store(*a)->export_to(a->file);
    std::cout << "exported " << n << " kernels to " << a->file << "\n";
  });

  auto* imp = cache->add_subcommand("import", "Add the kernels of an exported file (verified)");
  imp->add_option("file", a->file, "exported file")->required()->check(CLI::ExistingFile);
  imp->callback([a] {
    const cache::ImportResult r = open_store(*a)->import_from(a->file);
    std::cout << "imported " << r.imported << ", already present " << r.skipped_existing
              << ", corrupt skipped " << r.corrupt << "; tuning records " << r.tuning_records
              << ", profiles " << r.profiles << "\n";
    if (r.corrupt) throw ExitCode{kExitFailure};
  });

  auto* clear = cache->add_subcommand("clear", "Remove every kernel");
  clear->callback([a] {
    open_store(*a)->clear();
    std::cout << "cleared\n";
  });
  // --cache may follow the action too: `shapejit cache ls --cache FILE`.
  for (auto* sub : cache->get_subcommands({})) sub->fallthrough();
}

}  // namespace shapejit::cli
