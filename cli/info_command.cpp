// shapejit info: versions, device and cache facts.
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "shapejit/error.hpp"
#include "shapejit/jit/compile_key.hpp"
#include "shapejit/jit/compiler.hpp"
#include "shapejit/jit/embedded_templates.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/runtime.hpp"
#include "tuning_summary.hpp"

namespace shapejit::cli {
namespace {

void run_info(bool json, const std::string& cache) {
  namespace fs = std::filesystem;
  nlohmann::json j;
  j["shapejit"] = SHAPEJIT_VERSION;
  j["nvrtc"] = jit::nvrtc_identity();
  j["cache_format"] = jit::kCacheFormatVersion;
  j["templates_hash"] = std::string(jit::embedded_templates_hash()).substr(0, 16);
  std::string why;
  if (runtime::driver_available(&why)) {
    const runtime::DeviceInfo& d = runtime::current_device();
    j["driver"] = std::to_string(d.driver_version / 1000) + "." + std::to_string(d.driver_version % 1000 / 10);
    j["device"] = {{"name", d.name}, {"arch", d.arch}, {"sms", d.num_sms},
                   {"smem_optin", d.max_smem_per_block_optin}, {"l2_bytes", d.l2_bytes},
                   {"memory_bytes", d.total_memory}};
  } else {
    j["driver"] = nullptr;
    j["device"] = why;
  }
  const fs::path path = cache.empty() ? runtime::default_cache_path() : fs::path(cache);
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  j["cache"] = {{"path", path.string()}, {"bytes", ec ? 0 : size}, {"exists", !ec}};
  // The compile worker a runtime with default options would start (null: none found).
  std::string worker;
  try {
    worker = runtime::compile_worker_path().string();
    j["compile_worker"] = worker;
  } catch (const Error& e) {
    j["compile_worker"] = nullptr;
    worker = std::string("none: ") + e.what();
  }
  // Tuning: the winners the GEMM calls would use here, and which records are ignored and why.
  if (!ec) {
    cache::StoreOptions o;
    o.create = false;
    o.on_bypass = [](const std::string&) {};
    cache::KernelStore store(path, o);
    if (store.persistent()) j["tuning"] = tuning_summary(store);
  }
  if (json) {
    std::cout << j.dump() << "\n";
    return;
  }
  std::cout << "shapejit " << SHAPEJIT_VERSION << "\n"
            << "NVRTC    " << jit::nvrtc_identity() << "\n"
            << "driver   " << (j["driver"].is_null() ? "none" : j["driver"].get<std::string>()) << "\n";
  if (j["device"].is_object())
    std::cout << "device   " << j["device"]["name"].get<std::string>() << " (" << j["device"]["arch"].get<std::string>()
              << ", " << j["device"]["sms"] << " SMs, " << j["device"]["smem_optin"] << " B smem/block)\n";
  else
    std::cout << "device   none: " << why << "\n";
  std::cout << "cache    " << path.string() << " ("
            << (ec ? std::string("not created yet") : std::to_string(size) + " bytes") << ")\n";
  std::cout << "worker   " << worker << "\n";
  if (j.contains("tuning")) std::cout << "tuned    " << tuning_summary_line(j["tuning"]) << "\n";
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  auto cache = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("info", "Versions of shapejit, NVRTC and the driver; device; cache");
  cmd->add_flag("--json", *json, "machine-readable output");
  cmd->add_option("--cache", *cache, "cache database to describe");
  cmd->callback([json, cache] { run_info(*json, *cache); });
}

}  // namespace shapejit::cli
