// shapejit::Error → the Python classes of shapejit.errors, one per Errc (the code travels as the
// exception's `code`; a CompileError also carries `spec` and `log`).
#include <Python.h>
#include <nanobind/stl/string.h>

#include <exception>
#include <string>

#include "bindings.hpp"
#include "shapejit/error.hpp"

namespace shapejit::python {
namespace {

const char* code_name(Errc code) {
  switch (code) {
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::unsupported: return "unsupported";
    case Errc::compile_failed: return "compile_failed";
    case Errc::compiler_crashed: return "compiler_crashed";
    case Errc::compile_timeout: return "compile_timeout";
    case Errc::cache: return "cache";
    case Errc::no_driver: return "no_driver";
    case Errc::driver: return "driver";
    case Errc::io: return "io";
  }
  return "error";
}

// The module shapejit.errors, imported once when the extension loads and kept for the process.
PyObject* errors_module = nullptr;

void raise(const Error& e, const CompileError* compile) {
  nb::object errors = nb::borrow(errors_module);
  nb::object type = errors.attr("class_for_code")(code_name(e.code()));
  nb::object inst = type(e.what());
  inst.attr("code") = code_name(e.code());
  if (compile) {
    inst.attr("spec") = compile->spec();
    inst.attr("log") = compile->log();
  }
  PyErr_SetObject(type.ptr(), inst.ptr());
}

}  // namespace

void bind_errors(nb::module_& m) {
  nb::object errors = nb::module_::import_("shapejit.errors");
  errors_module = errors.release().ptr();   // lives as long as the process
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const CompileError& e) {
      raise(e, &e);
    } catch (const Error& e) {
      raise(e, nullptr);
    }
  });
  m.def("_raise_for_test", [](const std::string& code, const std::string& message) {
    for (Errc c : {Errc::invalid_argument, Errc::unsupported, Errc::compile_failed, Errc::compiler_crashed,
                   Errc::compile_timeout, Errc::cache, Errc::no_driver, Errc::driver, Errc::io})
      if (code == code_name(c)) {
        if (c == Errc::compile_failed) throw CompileError(c, "quant/x<1>@sm_90a", "error: log line", message);
        throw Error(c, message);
      }
    throw std::runtime_error("unknown code " + code);
  }, "Throws shapejit::Error with the given Errc name from C++ (tests the exception mapping).");
}

}  // namespace shapejit::python
