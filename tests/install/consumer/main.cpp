// A host application as a new user writes it: one include, no C++ standard of its own (the
// library target carries C++20), no environment variables. Compiles one kernel through the
// runtime's compile worker and precompiles a small manifest through the library call.
//   consumer <cache database>            exit 0: both worked; 3: a shapejit::Error (printed)
#include <shapejit/shapejit.hpp>

#include <iostream>

namespace sj = shapejit::runtime;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: consumer <cache database>\n";
    return 2;
  }
  try {
    sj::RuntimeOptions options;
    options.cache_path = argv[1];
    options.jobs = 2;
    const auto worker = sj::compile_worker_path(options);
    std::cout << "worker " << worker.string() << "\n";

    sj::Runtime runtime(options);
    const sj::CubinLookup lookup = runtime.fetch(sj::quant_fp8_spec(7168, 128, "sm_90a"));
    std::cout << "cubin " << lookup.result->cubin.size() << " bytes, "
              << (lookup.source == sj::CubinSource::compiled ? "compiled" : "from the cache") << "\n";

    sj::PrecompileOptions pre;
    pre.runtime = options;
    const sj::PrecompileResult r = sj::precompile(
        sj::parse_manifest(R"({"kernels": [{"op": "quant_fp8", "k": 7168}, {"op": "quant_fp8", "k": 2048}]})",
                           sj::default_target_device(), "consumer manifest"),
        pre);
    std::cout << "precompile " << r.total << " kernels: " << r.compiled << " compiled, " << r.cache_hits
              << " cache hits, " << r.failures.size() << " failed, " << r.not_stored.size() << " not stored\n";
    for (const auto& f : r.failures) std::cout << "failed: " << f.spec << ": " << f.message << "\n";
    return lookup.result->cubin.empty() || !r.ok() ? 1 : 0;
  } catch (const shapejit::Error& e) {
    std::cout << "shapejit error (" << shapejit::to_string(e.code()) << "): " << e.what() << "\n";
    return 3;
  }
}
