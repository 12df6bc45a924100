"""SIGKILL in the middle of a write flood loses nothing that was reported committed: what the
journal held when the child died is indexed when the store is opened again."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from chinwag.store import DB_FILENAME, SqliteStore

CHILD = Path(__file__).with_name("crash_child.py")
REPO = Path(__file__).resolve().parents[2]


def run_until_killed(db: Path, first: int, reports: int) -> tuple[set[str], int]:
    """Run the child, SIGKILL it after ``reports`` commit reports; return what it reported.

    Returns:
        The msgids reported committed, and the highest flush point (all ids below it).
    """
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(db), str(first)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    committed: set[str] = set()
    flushed = first
    try:
        while len(committed) < reports:
            line = child.stdout.readline()
            assert line, "the child died before it was killed"
            kind, value = line.split()
            if kind == "C":
                committed.add(value)
            else:
                flushed = max(flushed, int(value))
        child.send_signal(signal.SIGKILL)
        # Whatever the child printed before it died was reported too: it must be stored.
        for line in child.stdout:
            kind, value = line.split()
            if kind == "C":
                committed.add(value)
            else:
                flushed = max(flushed, int(value))
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return committed, flushed


@pytest.mark.timeout(120)
def test_sigkill_mid_flood_loses_nothing_reported(tmp_path: Path) -> None:
    """Three SIGKILLs mid-flood: every reported id is stored and the file stays sound."""
    db = tmp_path / DB_FILENAME
    first = 0
    for reports in (3_000, 7_000, 12_000):
        committed, flushed = run_until_killed(db, first, reports)
        SqliteStore(db).close_sync()  # reopens: the journal's tail is indexed
        conn = sqlite3.connect(db)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            stored = {row[0] for row in conn.execute("SELECT msgid FROM history")}
        finally:
            conn.close()
        assert committed <= stored
        assert {f"id{i}" for i in range(first, flushed)} <= stored
        assert flushed > first
        first = max(int(m[2:]) for m in stored) + 1
