"""The data directory's lock: one holder at a time, its pid on record, free again on release."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chinwag.store.lock import DataDirBusyError, DataDirLock


def test_one_claim_at_a_time(tmp_path: Path) -> None:
    """A second claim fails naming the holder's pid; after release the directory is free."""
    first = DataDirLock(tmp_path)
    with pytest.raises(DataDirBusyError) as caught:
        DataDirLock(tmp_path)
    assert caught.value.pid == os.getpid()
    assert str(os.getpid()) in str(caught.value)
    first.release()
    first.release()  # idempotent
    DataDirLock(tmp_path).release()


def test_a_missing_directory_is_created(tmp_path: Path) -> None:
    """Claiming a directory that does not exist yet creates it."""
    claim = DataDirLock(tmp_path / "new")
    assert (tmp_path / "new" / "server.lock").exists()
    claim.release()
