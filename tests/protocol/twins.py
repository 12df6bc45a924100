"""The pure-Python twin of the compiled protocol core, loaded beside it in the same process.

`chinwag.protocol.codec` and `chinwag.protocol.message` are the compiled modules when they were
built. `python_twin` loads fresh copies of their ``.py`` sources under the same names, hands them
back and puts the compiled ones back in place, so that a test can feed both the same input.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from types import ModuleType

import chinwag.protocol
from chinwag.protocol import _core

__all__ = ["Twins", "in_use", "python_twin"]


@dataclass(frozen=True)
class Twins:
    """One implementation of the codec: its two modules."""

    message: ModuleType
    codec: ModuleType


def python_twin() -> Twins:
    """Load ``message.py`` and ``codec.py`` from source, without disturbing the loaded modules."""
    saved = {name: sys.modules.pop(name) for name in _core.COMPILED_MODULES}
    finder = _core.SourceOnly()
    sys.meta_path.insert(0, finder)
    try:
        loaded = [importlib.import_module(name) for name in _core.COMPILED_MODULES]
    finally:
        sys.meta_path.remove(finder)
        for name, module in saved.items():
            sys.modules[name] = module
            # Importing a submodule also sets it as an attribute of its package.
            setattr(chinwag.protocol, name.rpartition(".")[2], module)
    return Twins(message=loaded[0], codec=loaded[1])


def in_use() -> Twins:
    """The modules everything else imports (compiled when built)."""
    message, codec = (sys.modules[name] for name in _core.COMPILED_MODULES)
    return Twins(message=message, codec=codec)
