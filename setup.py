"""Build hook: compile the line codec with Cython when possible, install pure Python otherwise.

Everything else about the package is in pyproject.toml. This file only adds the optional
compiled core: Cython compiles ``chinwag/protocol/codec.py`` and ``message.py`` themselves, with
``codec.pxd`` giving the decoder C-typed fields and types inferred from the annotations, so the
``.py`` files stay the one source of truth and the fallback when no compiler is there. See
``chinwag/protocol/_core.py`` for how one is chosen at run time.

Why Cython over the same files rather than a hand-written C extension, measured on this machine
(``bench/results/compiled-core/``): decoding 100-byte PRIVMSG lines in 16-line chunks takes
1.17 us a line in pure Python and 0.78 us compiled (1.5x; parse_line alone 0.71 and 0.53), and
the server spends 5.9 us of CPU per private message with the compiled core against 6.4 with the
pure-Python one. What the compiled codec still costs per message, about 0.8 us in the server,
is mostly work a C parser would do too: the ``str`` objects of the parameters and the
``Message`` (its dataclass ``__init__`` alone is 0.17 us). So C could save at most about 0.5 us
of the 5.9, about 9%, for a second parser to keep equal to this one byte for byte; the
handlers' 2.5 us and the dispatch's 1.5 us (``python -m bench.profile``) are the bigger prize.

A build failure (no compiler, no Python headers, no Cython, or ``CHINWAG_PURE_PYTHON=1`` at
install time) is reported and skipped: the install still succeeds and runs the sources.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

COMPILED_SOURCES = [
    "chinwag/protocol/message.py",
    "chinwag/protocol/codec.py",
    # Not a twin built from its .py: a small Cython module with a pure-Python twin in
    # journal_records.py (the record of each stored message, built on the event loop: 0.22 us
    # per message in Python, 0.06 compiled; see its header).
    "chinwag/store/_journal_record.pyx",
    # Likewise, the twin of events.python_take_row: a row of a room's lines read from a node's
    # inbox, which every node with members reads (see its header).
    "chinwag/cluster/_rows.pyx",
]


def _warn(what: str, exc: BaseException) -> None:
    print(
        f"chinwag: {what} ({type(exc).__name__}: {exc}); installing the pure-Python core",
        file=sys.stderr,
    )


class OptionalBuildExt(build_ext):
    """``build_ext`` that reports a failed compilation instead of failing the install."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # distutils raises several unrelated types for "no compiler"
            _warn("cannot build the compiled core", exc)

    def build_extension(self, ext: Any) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            _warn(f"cannot compile {ext.name}", exc)


def _extensions() -> list[Extension]:
    if os.environ.get("CHINWAG_PURE_PYTHON", "") not in ("", "0"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError as exc:
        _warn("Cython is not installed", exc)
        return []
    try:
        extensions: list[Extension] = cythonize(
            COMPILED_SOURCES,
            compiler_directives={"language_level": 3, "infer_types": True},
            quiet=True,
        )
    except Exception as exc:
        _warn("cannot translate the core to C", exc)
        return []
    return extensions


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
