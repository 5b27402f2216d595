"""The kernel database (what ``shapejit cache stats|ls|verify`` show), from Python. ``path=None``
is the default cache (:func:`shapejit.default_cache_path`, honouring $SHAPEJIT_CACHE)."""

from __future__ import annotations

from typing import List, Optional

from . import _shapejit as _C

__all__ = ["stats", "ls", "verify"]


def stats(path: Optional[str] = None) -> dict:
    """Entries, bytes (per family), schema version, journal mode, tuning records and profiles of
    the database. Raises CacheError when the file does not exist or cannot be used."""
    return _C.cache_stats(None if path is None else str(path))


def ls(path: Optional[str] = None, *, family: str = "", arch: str = "") -> List[dict]:
    """The stored kernels (key, spec, named spec, family, arch, bytes, registers, spill_bytes,
    compile_ms, created, last_used), filtered by family/arch when given."""
    return _C.cache_ls(None if path is None else str(path), family, arch)


def verify(path: Optional[str] = None, *, repair: bool = False) -> List[str]:
    """Keys of the kernels whose checksum fails; ``repair=True`` deletes them. Damage beyond
    single entries raises CacheError."""
    return _C.cache_verify(None if path is None else str(path), repair)
