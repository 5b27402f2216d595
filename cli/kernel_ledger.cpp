#include "kernel_ledger.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "shapejit/error.hpp"
#include "shapejit/jit/compile_key.hpp"

namespace shapejit::cli {
namespace {

constexpr int kFields = 6;

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1)
    fields.push_back(line.substr(start, tab - start));
  fields.push_back(line.substr(start));
  return fields;
}

bool is_hash(const std::string& s) {
  if (s.size() != 32) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// Empty when the row can be written and read back as itself, else what is wrong with it.
std::string row_problem(const LedgerRow& r) {
  const std::pair<const char*, const std::string*> fields[kFields] = {
      {"spec", &r.spec},     {"cubin_xxh3_128", &r.cubin_hash}, {"nvrtc", &r.nvrtc},
      {"device", &r.device}, {"date", &r.date},                 {"commit", &r.commit}};
  for (const auto& [name, value] : fields) {
    if (value->empty()) return std::string("field '") + name + "' is empty";
    if (value->find_first_of("\t\r\n") != std::string::npos)
      return std::string("field '") + name + "' holds a tab or line break";
  }
  if (!is_hash(r.cubin_hash))
    return "cubin_xxh3_128 '" + r.cubin_hash + "' is not 32 lowercase hex digits";
  return "";
}

bool ends_with_newline(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in || in.tellg() == 0) return true;
  in.seekg(-1, std::ios::end);
  return in.get() == '\n';
}

std::string key_of(const std::string& spec, const std::string& hash) { return spec + '\t' + hash; }

}  // namespace

std::string cubin_hash(std::span<const std::uint8_t> cubin) {
  return jit::xxh3_128_hex(cubin.data(), cubin.size());
}

std::vector<LedgerRow> read_ledger(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(Errc::io, "cannot read the kernel ledger " + path.string() + ": " + std::strerror(errno));
  std::vector<LedgerRow> rows;
  std::string line;
  int number = 0;
  auto bad = [&](const std::string& what) {
    fail(Errc::invalid_argument, path.string() + ":" + std::to_string(number) + ": " + what);
  };
  while (std::getline(in, line)) {
    ++number;
    if (number == 1) {
      if (line != kLedgerHeader) bad(std::string("expected the header '") + kLedgerHeader + "'");
      continue;
    }
    const std::vector<std::string> f = split_tabs(line);
    if (static_cast<int>(f.size()) != kFields)
      bad(std::to_string(f.size()) + " tab-separated fields, expected " + std::to_string(kFields));
    LedgerRow r{f[0], f[1], f[2], f[3], f[4], f[5]};
    if (const std::string problem = row_problem(r); !problem.empty()) bad(problem);
    rows.push_back(std::move(r));
  }
  if (number == 0) bad("empty file, expected the header");
  return rows;
}

int append_ledger(const std::filesystem::path& path, std::span<const LedgerRow> rows) {
  for (const LedgerRow& r : rows)
    if (const std::string problem = row_problem(r); !problem.empty())
      fail(Errc::invalid_argument, "ledger row for '" + r.spec + "': " + problem);
  const bool exists = std::filesystem::exists(path);
  std::set<std::string> present;
  if (exists)
    for (const LedgerRow& r : read_ledger(path)) present.insert(key_of(r.spec, r.cubin_hash));
  std::ostringstream text;
  if (!exists) text << kLedgerHeader << '\n';
  else if (!ends_with_newline(path)) text << '\n';
  int added = 0;
  for (const LedgerRow& r : rows) {
    if (!present.insert(key_of(r.spec, r.cubin_hash)).second) continue;
    text << r.spec << '\t' << r.cubin_hash << '\t' << r.nvrtc << '\t' << r.device << '\t' << r.date
         << '\t' << r.commit << '\n';
    ++added;
  }
  if (added == 0 && exists) return 0;
  std::ofstream out(path, std::ios::binary | std::ios::app);
  const std::string bytes = text.str();
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) fail(Errc::io, "cannot write the kernel ledger " + path.string() + ": " + std::strerror(errno));
  return added;
}

std::vector<Unproven> unproven_kernels(std::span<const LedgerRow> ledger,
                                       std::span<const HashedKernel> kernels) {
  std::set<std::string> proven, specs;
  for (const LedgerRow& r : ledger) {
    proven.insert(key_of(r.spec, r.cubin_hash));
    specs.insert(r.spec);
  }
  std::vector<Unproven> out;
  for (const HashedKernel& k : kernels)
    if (!proven.count(key_of(k.spec, k.cubin_hash)))
      out.push_back({k, specs.count(k.spec) ? "cubin differs from the proven one" : "never proven"});
  return out;
}

}  // namespace shapejit::cli
