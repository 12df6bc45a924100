"""A small filesystem to fill: a tmpfs mounted for one test.

Mounting one needs root (or password-less ``sudo``): elsewhere the tests that use it are skipped
with a loud reason, and under ``CI=true`` (CI runs as root) they fail instead, so that CI never
passes without having filled a disk.

A pytest plugin of the whole suite (``tests/conftest.py``): the fixtures `small_disk` and
`fill_disk`."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

__all__ = ["DISK_BYTES", "Fill", "fill", "fill_disk", "small_disk"]

DISK_BYTES = 8 * 1024 * 1024
Fill = Callable[[Path], Path]


def _as_root(command: list[str]) -> list[str]:
    """``command`` as root: as it is for root, through password-less ``sudo -n`` otherwise."""
    if os.geteuid() == 0 or shutil.which("sudo") is None:
        return command
    return ["sudo", "-n", *command]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A directory on a tmpfs of DISK_BYTES, mounted for this test (root or sudo only)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        _as_root(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount)]),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        reason = done.stderr.decode().strip() or f"exit status {done.returncode}"
        message = (
            f"DISK-FULL TESTS NOT RUN: cannot mount a small tmpfs as uid {os.geteuid()} ({reason});"
            " run them as root, or in a container with CAP_SYS_ADMIN"
        )
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:  # never silently
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        yield mount
    finally:
        subprocess.run(_as_root(["umount", "-l", str(mount)]), check=False)


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
