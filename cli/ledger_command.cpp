// shapejit ledger hashes|check|append: the DeepSeek-V3 kernel set against the ledger of proven
// kernels (bench/proven-kernels.tsv, kernel_ledger.hpp).
#include <algorithm>
#include <ctime>
#include <iostream>
#include <memory>
#include <thread>

#include "commands.hpp"
#include "kernel_ledger.hpp"
#include "kernel_set_hashes.hpp"
#include "shapejit/error.hpp"
#include "shapejit/jit/compiler.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/driver_api.hpp"

namespace shapejit::cli {
namespace {

struct LedgerArgs {
  std::string ledger;
  std::string arch = "sm_90a";
  int num_sms = 132;
  std::string device;   // append: the GPU's name when empty
  std::string date;     // append: today (UTC) when empty
  std::string commit;
  int jobs = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
};

runtime::DeviceInfo offline_target(const LedgerArgs& a) {
  runtime::DeviceInfo t;
  t.name = a.device;
  t.arch = a.arch;
  t.num_sms = a.num_sms;
  return t;
}

std::string today_utc() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[11];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

void run_hashes(const LedgerArgs& a) {
  for (const HashedKernel& k : deepseek_v3_kernel_hashes(offline_target(a), a.jobs))
    std::cout << k.spec << '\t' << k.cubin_hash << '\n';
}

void run_check(const LedgerArgs& a) {
  const std::vector<LedgerRow> ledger = read_ledger(a.ledger);
  const std::vector<HashedKernel> set = deepseek_v3_kernel_hashes(offline_target(a), a.jobs);
  const std::vector<Unproven> missing = unproven_kernels(ledger, set);
  for (const Unproven& u : missing)
    std::cout << "unproven: " << u.kernel.spec << " (" << u.kernel.cubin_hash << "): " << u.reason << "\n";
  std::cout << set.size() - missing.size() << " of " << set.size()
            << " DeepSeek-V3 kernels proven (NVRTC " << jit::nvrtc_identity() << ")\n";
  if (!missing.empty()) throw ExitCode{kExitFailure};
}

// After a fully green GPU run: every kernel of the set for this GPU, as compiled here.
void run_append(const LedgerArgs& a) {
  runtime::DeviceInfo target = offline_target(a);
  std::string why;
  if (runtime::driver_available(&why)) {
    const runtime::DeviceInfo& gpu = runtime::current_device();
    target.arch = gpu.arch;
    target.num_sms = gpu.num_sms;
    if (a.device.empty()) target.name = gpu.name;
  } else if (a.device.empty()) {
    fail(Errc::no_driver, "ledger append: no GPU to name (" + why + "); give --device");
  }
  std::vector<LedgerRow> rows;
  for (const HashedKernel& k : deepseek_v3_kernel_hashes(target, a.jobs))
    rows.push_back({k.spec, k.cubin_hash, jit::nvrtc_identity(), target.name,
                    a.date.empty() ? today_utc() : a.date, a.commit});
  const int added = append_ledger(a.ledger, rows);
  std::cout << "ledger " << a.ledger << ": " << added << " kernels added, "
            << rows.size() - added << " already proven (" << target.name << ", " << target.arch
            << ", " << target.num_sms << " SMs)\n";
}

}  // namespace

void add_ledger_command(CLI::App& app) {
  auto a = std::make_shared<LedgerArgs>();
  auto* cmd = app.add_subcommand(
      "ledger", "The DeepSeek-V3 kernel set against the ledger of GPU-proven kernels");
  cmd->require_subcommand(1);
  auto target_options = [a](CLI::App* sub) {
    sub->add_option("--arch", a->arch, "target arch (default sm_90a)");
    sub->add_option("--num-sms", a->num_sms, "target SM count (default 132)")->check(CLI::PositiveNumber);
    sub->add_option("-j,--jobs", a->jobs, "compile threads")->check(CLI::PositiveNumber);
  };
  auto* hashes = cmd->add_subcommand("hashes", "Print SPEC<TAB>CUBIN_HASH for every kernel of the set");
  target_options(hashes);
  hashes->callback([a] { run_hashes(*a); });

  auto* check = cmd->add_subcommand(
      "check", "Exit 1 naming every kernel of the set whose (spec, cubin hash) is not in the ledger");
  check->add_option("--ledger", a->ledger, "ledger file (bench/proven-kernels.tsv)")->required();
  target_options(check);
  check->callback([a] { run_check(*a); });

  auto* append = cmd->add_subcommand(
      "append", "Add every kernel of the set for this GPU to the ledger (after a fully green GPU run)");
  append->add_option("--ledger", a->ledger, "ledger file (created with its header when absent)")->required();
  append->add_option("--commit", a->commit, "git commit of the tested tree")->required();
  append->add_option("--device", a->device, "GPU name (default: the current device's)");
  append->add_option("--date", a->date, "YYYY-MM-DD of the run (default: today, UTC)");
  target_options(append);
  append->callback([a] { run_append(*a); });
}

}  // namespace shapejit::cli
