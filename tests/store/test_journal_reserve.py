"""The journal's reserved space: allocated ahead without changing what readers see, used up by
messages one comparison at a time, refused (before delivery) when a full disk cannot give more,
given back on rotation and close; and zero bytes after the last frame hide nothing."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from chinwag.store import DB_FILENAME, SqliteStore
from chinwag.store.journal import HEADER, Journal, JournalError, read_frames, segments
from chinwag.store.journal_history import PROBE_ROOM, JournalHistoryStore

from .factories import LOBBY, T0, entry

CHUNK = 16 * 1024


def _allocated(path: Path) -> int:
    """Bytes of disk the file holds (its size does not count what is reserved past it)."""
    return os.stat(path).st_blocks * 512


def _reserving(journal: Journal) -> Journal:
    if not journal.reserving:
        journal.close()
        pytest.skip("this filesystem cannot reserve space (no fallocate KEEP_SIZE)")
    return journal


def _history(store: SqliteStore) -> JournalHistoryStore:
    history = store.history
    assert isinstance(history, JournalHistoryStore)
    return history


def _add(history: JournalHistoryStore, msgid: str, text: str) -> None:
    """Store one channel message through the server's road, `JournalHistoryStore.add`."""
    line = f":amy!a@h PRIVMSG #lobby :{text}\r\n".encode()
    history.add(msgid, T0, LOBBY.key, "", "", line, "amy", "#lobby")


def test_space_is_reserved_ahead_and_the_file_keeps_its_real_size(tmp_path: Path) -> None:
    """A new journal has a chunk of disk allocated past its end while its size is that of its
    frames (readers see nothing more); writes use the room up; close gives the rest back."""
    journal = _reserving(Journal(tmp_path))
    (_base, path), *_ = segments(tmp_path)
    assert journal.room >= journal.reserve_bytes
    assert _allocated(path) >= journal.reserve_bytes
    end = journal.write(b"one\n")
    assert path.stat().st_size == end == HEADER.size + 4
    assert journal.room >= journal.reserve_bytes - end
    journal.close()
    assert _allocated(path) < journal.reserve_bytes
    assert [f.payload for f in read_frames(path.read_bytes(), 0)[0]] == [b"one\n"]


def test_a_reservation_grows_past_its_end(tmp_path: Path) -> None:
    """Asking for more than is left allocates another chunk from the end of what is written."""
    journal = _reserving(Journal(tmp_path))
    journal.reserve_bytes = CHUNK
    journal.write(b"x" * (journal.room - HEADER.size))  # the whole first reservation
    assert journal.room == 0
    journal.reserve(100)
    assert journal.room == CHUNK
    journal.reserve(3 * CHUNK)  # more than a chunk: exactly that much
    assert journal.room == 3 * CHUNK
    journal.close()


def test_rotation_gives_back_the_old_segments_reserved_tail(tmp_path: Path) -> None:
    """A segment that is full keeps only its frames on disk; the new one has the reservation."""
    journal = _reserving(Journal(tmp_path, segment_bytes=10_000))
    journal.write(b"y" * 12_000)
    (_b1, old), (_b2, new) = segments(tmp_path)
    assert _allocated(old) < old.stat().st_size + journal.reserve_bytes // 2
    assert _allocated(new) >= journal.reserve_bytes
    assert new.stat().st_size == 0
    journal.close()


def test_zero_bytes_after_the_last_frame_hide_nothing(tmp_path: Path) -> None:
    """Zeros past the last frame (a size extended by a crash of the filesystem) read as empty
    frames, never as a torn one: recovery keeps them, and what is written next reads back."""
    journal = Journal(tmp_path)
    journal.write(b"before\n")
    journal.close()
    (_base, path), *_ = segments(tmp_path)
    with path.open("ab") as handle:
        handle.write(bytes(4096))
    frames, end = read_frames(path.read_bytes(), 0)
    assert end == path.stat().st_size
    assert [f.payload for f in frames if f.payload] == [b"before\n"]
    reopened = Journal(tmp_path)
    reopened.write(b"after\n")
    reopened.close()
    frames, end = read_frames(path.read_bytes(), 0)
    assert [f.payload for f in frames if f.payload] == [b"before\n", b"after\n"]
    assert end == path.stat().st_size


async def test_a_full_disk_refuses_the_message_that_does_not_fit(
    small_disk: Path, fill_disk: Callable[[Path], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the reservation used up on a full disk, `add` raises before keeping the record;
    what was accepted is written; once there is room the probe and the next add work."""
    monkeypatch.setattr(Journal, "reserve_bytes", CHUNK)
    store = SqliteStore(small_disk / DB_FILENAME)
    history = _history(store)
    journal = history.journal
    assert journal is not None
    _reserving(journal)
    filler = fill_disk(small_disk)
    accepted: list[str] = []
    try:
        with pytest.raises(JournalError):
            for i in range(10_000):
                _add(history, f"m{i}", f"message {i} " + "x" * 300)
                accepted.append(f"m{i}")
        assert accepted, "the reservation held nothing"
        history.end_turn()  # the accepted records fit: their frame is written
        assert journal.failures == 0
        with pytest.raises(JournalError):
            await history.probe_write()  # no room for PROBE_ROOM either
    finally:
        os.unlink(filler)
    await history.probe_write()
    assert journal.room >= PROBE_ROOM
    _add(history, "later", "after the storm")
    history.append(entry("appended", T0 + 1))
    found = await history.latest(LOBBY, None, 100)
    assert [e.msgid for e in found][-2:] == ["later", "appended"]
    assert len(found) == min(100, len(accepted) + 2)
    await store.close()
