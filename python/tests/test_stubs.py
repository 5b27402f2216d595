"""The type stubs ship beside the extension, parse, and describe every binding."""

from __future__ import annotations

import ast
import pathlib

import shapejit
from shapejit import _shapejit as _C


def test_stub_file_parses_and_names_every_binding():
    pkg = pathlib.Path(shapejit.__file__).parent
    assert (pkg / "py.typed").exists()
    tree = ast.parse((pkg / "_shapejit.pyi").read_text())
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    public = {n for n in dir(_C) if not n.startswith("_")}
    assert public <= names, f"missing from the stubs: {sorted(public - names)}"
    runtime = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Runtime")
    assert {"compile", "stats", "global_runtime"} <= {f.name for f in runtime.body if isinstance(f, ast.FunctionDef)}


def test_public_names_import():
    for name in shapejit.__all__:
        assert getattr(shapejit, name) is not None, name
