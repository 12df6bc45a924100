"""Building chinwag where the compiled protocol core cannot be built still succeeds.

`setup.py` is run on a copy of the sources (never in place: the checkout's own build is in use),
as ``pip install`` runs it: ``build_ext`` with a compiler that always fails, and with the build
switched off by ``CHINWAG_PURE_PYTHON=1``. Both must exit 0 and leave only the ``.py`` files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILT = ("*.so", "*.pyd", "*.c")


def _source_copy(tmp_path: Path) -> Path:
    """setup.py, pyproject.toml, README.md and chinwag/ without any build products."""
    copy = tmp_path / "src"
    shutil.copytree(
        ROOT / "chinwag", copy / "chinwag", ignore=shutil.ignore_patterns(*BUILT, "__pycache__")
    )
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, copy / name)
    return copy


def _build_ext(source: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace"],
        cwd=source,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"CC": "false"}, "cannot compile chinwag.protocol.message"),
        ({"CHINWAG_PURE_PYTHON": "1"}, ""),
    ],
    ids=["no working compiler", "CHINWAG_PURE_PYTHON=1"],
)
def test_build_falls_back_to_pure_python(tmp_path: Path, env: dict[str, str], says: str) -> None:
    """The build reports why and exits 0, with no extension module: the sources will run."""
    source = _source_copy(tmp_path)
    result = _build_ext(source, **env)
    assert result.returncode == 0, result.stderr
    assert says in result.stderr
    assert not list((source / "chinwag").rglob("*.so"))
