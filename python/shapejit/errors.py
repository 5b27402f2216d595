"""The exceptions shapejit raises: one class per error code of the C++ library (shapejit::Errc).

Every class derives from :class:`Error`; ``err.code`` names the code (e.g. ``"invalid_argument"``).
"""

from __future__ import annotations


class Error(RuntimeError):
    """Base of every shapejit error. ``code`` is the C++ Errc name."""

    code: str = "error"


class InvalidArgument(Error, ValueError):
    """Bad shape, dtype, stride, device, alignment, spec or manifest entry; the message names it."""


class Unsupported(Error):
    """A valid request this build or device cannot serve (architecture, family, missing worker)."""


class CompileError(Error):
    """A kernel compile produced no cubin. ``spec`` is the kernel spec, ``log`` the compiler's log;
    ``code`` is ``compile_failed``, ``compiler_crashed`` or ``compile_timeout``."""

    spec: str = ""
    log: str = ""


class CacheError(Error):
    """The kernel database could not be used for a maintenance call (stats, ls, verify)."""


class NoDriver(Error):
    """No CUDA driver or device on this machine."""


class DriverError(Error):
    """A CUDA Driver API call failed."""


class FileError(Error, OSError):
    """A file could not be read or written."""


_BY_CODE = {
    "invalid_argument": InvalidArgument,
    "unsupported": Unsupported,
    "compile_failed": CompileError,
    "compiler_crashed": CompileError,
    "compile_timeout": CompileError,
    "cache": CacheError,
    "no_driver": NoDriver,
    "driver": DriverError,
    "io": FileError,
}


def class_for_code(code: str) -> type[Error]:
    """The exception class of a C++ error code (used by the extension's exception translator)."""
    return _BY_CODE.get(code, Error)
