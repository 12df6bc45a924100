"""Which implementation of the hot protocol code runs: compiled, or the pure-Python source.

Theory of operation
-------------------
`codec.py` and `message.py` are the line codec every received byte goes through. ``pip install``
also compiles them with Cython, when it can, into extension modules of the same names beside the
sources (`setup.py`; ``codec.pxd`` beside them only adds C types). Python's import system
prefers an extension module to a source file of the same name, so the compiled twin runs
whenever it was built, and the ``.py`` files run when it was not (no compiler, no Cython): the
source is the reference, the extension a faster build of the very same code.

Setting ``CHINWAG_PURE_PYTHON=1`` makes the sources run even where the extensions exist (to
compare the two, or to rule the compiled core out when hunting a bug): `select` puts a finder
first on ``sys.meta_path`` that loads these two modules from their ``.py`` files. It runs when
this module is imported, which the package's ``__init__`` does before anything imports either.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

__all__ = ["COMPILED_MODULES", "PURE_PYTHON_ENV", "SourceOnly", "core_name", "select"]

PURE_PYTHON_ENV = "CHINWAG_PURE_PYTHON"
#: The modules that have a compiled twin, in import order (codec imports message).
COMPILED_MODULES = ("chinwag.protocol.message", "chinwag.protocol.codec")

_HERE = Path(__file__).resolve().parent


class SourceOnly(importlib.abc.MetaPathFinder):
    """A finder that loads the modules of `COMPILED_MODULES` from their ``.py`` sources."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """The source file's spec for one of our twin modules; None for any other module."""
        if fullname not in COMPILED_MODULES:
            return None
        source = _HERE / (fullname.rpartition(".")[2] + ".py")
        return importlib.util.spec_from_file_location(fullname, source)


def select() -> None:
    """Make the pure-Python sources run when ``CHINWAG_PURE_PYTHON`` is set (not "" or "0")."""
    if os.environ.get(PURE_PYTHON_ENV, "") in ("", "0"):
        return
    if not any(isinstance(finder, SourceOnly) for finder in sys.meta_path):
        sys.meta_path.insert(0, SourceOnly())


def core_name() -> str:
    """``"compiled"`` when the compiled twins are the modules in use, ``"python"`` otherwise."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for name in COMPILED_MODULES:
        module = sys.modules.get(name) or importlib.import_module(name)
        if not (module.__file__ or "").endswith(suffixes):
            return "python"
    return "compiled"


select()
