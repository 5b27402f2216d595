// The context a tuning record holds for (device, SMs, arch, driver, NVRTC) and the version of a
// kernel definition.
#include <string>

#include "shapejit/jit/compile_key.hpp"
#include "shapejit/jit/compiler.hpp"
#include "shapejit/jit/embedded_templates.hpp"
#include "shapejit/runtime/tuning_space.hpp"

namespace shapejit::runtime::tuning {

TuningContext context_of(const DeviceInfo& target) {
  TuningContext c;
  c.device = target.name;
  c.arch = target.arch.empty() ? "sm_90a" : target.arch;
  c.num_sms = target.num_sms;
  c.driver_version = target.driver_version;
  c.nvrtc_version = jit::nvrtc_identity();
  return c;
}

std::string context_identity(const TuningContext& c) {
  return c.device + "|" + c.arch + "|" + std::to_string(c.num_sms) + " SMs|driver " +
         std::to_string(c.driver_version) + "|nvrtc " + c.nvrtc_version;
}

std::string definition_version(const jit::KernelDefinition& def) {
  std::string text = std::string(def.family) + "/" + std::string(def.kernel) + "@" + std::string(def.header) + "\n";
  for (const jit::KernelParam& p : def.params)
    text += std::string(p.name) + ":" + std::to_string(static_cast<int>(p.kind)) + ":" + p.rule() + "\n";
  for (const jit::KernelRule& r : def.rules) text += "rule:" + std::string(r.text) + "\n";
  // NOTES: the kernel's header includes its family's and the common headers; all of them are
  // hashed, so any edit that can change the kernel's speed retires its records.
  const std::string family_dir = std::string(def.family) + "/";
  for (const jit::EmbeddedFile& f : jit::embedded_templates()) {
    if (f.name.rfind(family_dir, 0) != 0 && f.name.rfind("common/", 0) != 0) continue;
    text += "file:" + std::string(f.name) + "\n";
    text += f.content;
  }
  return jit::xxh3_128_hex(text.data(), text.size()).substr(0, 16);
}

}  // namespace shapejit::runtime::tuning
