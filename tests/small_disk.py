"""A small filesystem to fill: a tmpfs mounted for one test (root only; skipped otherwise).

A pytest plugin of the whole suite (``tests/conftest.py``): the fixtures `small_disk` and
`fill_disk`."""

from __future__ import annotations

import contextlib
import errno
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

__all__ = ["DISK_BYTES", "Fill", "fill", "fill_disk", "small_disk"]

DISK_BYTES = 8 * 1024 * 1024
Fill = Callable[[Path], Path]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A directory on a tmpfs of DISK_BYTES, mounted for this test (root only)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the filesystem is full; returns it (delete it to free the space)."""
    filler = directory / f"filler-{uuid.uuid4().hex}"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as handle:
        while True:
            try:
                handle.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
        with contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 512)
    return filler


@pytest.fixture
def fill_disk() -> Fill:
    """`fill`, for tests (which cannot import this plugin's module by name)."""
    return fill
