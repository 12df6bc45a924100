"""The journal: one frame per turn, torn frames dropped on recovery, failed writes cut back,
indexed segments deleted, and reads that see everything written before them."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import resource
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chinwag.store import (
    DB_FILENAME,
    HistoryEntry,
    SqliteStore,
    StoreClosedError,
    StoreError,
    journal_history,
)
from chinwag.store.indexer_link import IndexerProcess
from chinwag.store.journal import (
    HEADER,
    Journal,
    JournalError,
    JournalInUseError,
    read_frames,
    segments,
)
from chinwag.store.journal_history import JournalHistoryStore
from chinwag.store.journal_records import PythonTurnRecords

from .factories import LOBBY, T0, direct, entry

TWINS: list[Any] = [PythonTurnRecords]
"""The turn's records as the store can have them: the pure-Python twin, and the compiled one
when it was built."""
with contextlib.suppress(ImportError):
    from chinwag.store._journal_record import TurnRecords as _CompiledTurnRecords

    TWINS.append(_CompiledTurnRecords)


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Make writes past ``limit`` bytes of any file fail (EFBIG), as a full disk would."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def journal_of(store: SqliteStore) -> Journal:
    """The journal ``store`` writes (it is the only process on its directory)."""
    assert store.journal is not None
    return store.journal


def test_a_torn_last_frame_is_dropped_when_the_journal_is_opened(tmp_path: Path) -> None:
    """Half a frame at the end (SIGKILL mid-write) is cut off; appends continue after the last
    whole frame."""
    journal = Journal(tmp_path)
    first = journal.write(b"one\n")
    journal.write(b"two\n")
    journal.close()
    (_base, path), *_ = segments(tmp_path)
    path.write_bytes(path.read_bytes()[:-3])
    reopened = Journal(tmp_path)
    assert reopened.offset == first
    reopened.write(b"three\n")
    reopened.close()
    frames, end = read_frames(path.read_bytes(), 0)
    assert [f.payload for f in frames] == [b"one\n", b"three\n"]
    assert end == path.stat().st_size


def test_a_frame_with_a_bad_checksum_ends_the_sound_part(tmp_path: Path) -> None:
    """A flipped byte in a payload makes it and everything after it unreadable, never wrong."""
    journal = Journal(tmp_path)
    journal.write(b"good\n")
    journal.write(b"flipped\n")
    journal.close()
    (_base, path), *_ = segments(tmp_path)
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x20
    frames, end = read_frames(bytes(data), 0)
    assert [f.payload for f in frames] == [b"good\n"]
    assert end == HEADER.size + len(b"good\n")


def test_a_write_that_fails_leaves_nothing_and_the_next_one_works(tmp_path: Path) -> None:
    """A frame the disk refuses half-way is cut back out of the file; once there is room,
    writing resumes at the same offset."""
    journal = Journal(tmp_path)
    start = journal.write(b"x" * 100)
    with file_size_limit(start + 50):
        try:
            journal.write(b"y" * 200)
        except JournalError:
            pass
        else:
            raise AssertionError("the write past the limit must fail")
    assert journal.failures == 1
    assert journal.offset == start
    journal.write(b"z\n")
    journal.close()
    (_base, path), *_ = segments(tmp_path)
    frames, _end = read_frames(path.read_bytes(), 0)
    assert [f.payload for f in frames] == [b"x" * 100, b"z\n"]


def test_segments_rotate_and_are_deleted_once_indexed(tmp_path: Path) -> None:
    """Past its size a segment is followed by a new one; the indexer deletes the old ones."""
    store = SqliteStore(tmp_path / DB_FILENAME)
    journal_of(store).segment_bytes = 2000
    for i in range(200):
        store.history.append(entry(f"m{i}", T0 + i))
        store.history.end_turn()
    assert len(segments(journal_of(store).directory)) > 3
    store.close_sync()
    assert len(segments(journal_of(store).directory)) == 1
    again = SqliteStore(tmp_path / DB_FILENAME)
    try:
        rows = again.readers.run_sync(
            lambda c: c.execute("SELECT count(*) FROM history").fetchone()
        )
        assert rows == (200,)
    finally:
        again.close_sync()


async def test_a_turn_is_one_frame_and_its_callbacks_run_after_the_write(tmp_path: Path) -> None:
    """Appends of one loop turn share one frame; each callback finds its entry in the file."""
    store = SqliteStore(tmp_path / DB_FILENAME)
    seen: list[int] = []
    try:
        for i in range(50):
            store.history.append(entry(f"m{i}", T0 + i), then=lambda: seen.append(1))
        assert not seen  # nothing is delivered before the write
        await asyncio.sleep(0)
        assert len(seen) == 50
        assert journal_of(store).frames == 1
    finally:
        await store.close()


async def test_reads_see_every_entry_written_before_them(tmp_path: Path) -> None:
    """A query right after appends waits for the indexer and finds all of them."""
    store = SqliteStore(tmp_path / DB_FILENAME)
    try:
        for i in range(300):
            store.history.append(entry(f"m{i}", T0 + i))
        latest = await store.history.latest(LOBBY, None, 1000)
        assert [e.msgid for e in latest] == [f"m{i}" for i in range(300)]
    finally:
        await store.close()


async def test_a_refused_write_tells_the_callbacks_and_storing_resumes(tmp_path: Path) -> None:
    """With the disk full the turn's callbacks see commit_error; the next turn is stored."""
    store = SqliteStore(tmp_path / DB_FILENAME)
    outcomes: list[bool] = []

    def note() -> None:
        outcomes.append(store.history.commit_error() is None)

    try:
        store.history.append(entry("kept", T0), then=note)
        store.history.end_turn()
        with file_size_limit(journal_of(store).offset + 10):
            store.history.append(entry("refused", T0 + 1), then=note)
            store.history.end_turn()
        store.history.append(entry("after", T0 + 2), then=note)
        store.history.end_turn()
        assert outcomes == [True, False, True]
        stored = await store.history.latest(LOBBY, None, 10)
        assert [e.msgid for e in stored] == ["kept", "after"]
    finally:
        await store.close()


async def test_the_indexer_process_is_restarted_when_it_dies(tmp_path: Path) -> None:
    """SIGKILL the indexer child: the store starts another, which indexes what was written."""
    store = SqliteStore(tmp_path / DB_FILENAME, indexer="process")
    try:
        assert isinstance(store.indexer, IndexerProcess)
        store.history.append(entry("before", T0))
        assert [e.msgid for e in await store.history.latest(LOBBY, None, 10)] == ["before"]
        first = store.indexer.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        store.history.append(entry("after", T0 + 1))
        found = await store.history.latest(LOBBY, None, 10)
        assert [e.msgid for e in found] == ["before", "after"]
        assert store.indexer.restarts == 1
        assert store.indexer.pid != first
    finally:
        await store.close()
    last = store.indexer.pid
    assert last is not None
    with pytest.raises(ProcessLookupError):  # closing the store stopped (and reaped) it
        os.kill(last, 0)


async def test_a_barrier_after_a_refused_turn_sees_the_error(tmp_path: Path) -> None:
    """after_writes ends the turn; when its frame is refused the barrier sees commit_error."""
    store = SqliteStore(tmp_path / DB_FILENAME)
    seen: list[bool] = []

    def barrier() -> None:
        seen.append(store.history.commit_error() is None)

    try:
        store.history.append(entry("kept", T0))
        store.history.after_writes(barrier)
        with file_size_limit(journal_of(store).offset + 10):
            store.history.append(entry("refused", T0 + 1))
            store.history.after_writes(barrier)
        store.history.after_writes(barrier)  # nothing new to write: nothing refused
        assert seen == [True, False, True]
    finally:
        await store.close()


async def test_a_second_process_on_the_directory_reads_but_never_writes(tmp_path: Path) -> None:
    """While a store writes the journal, a tool opening the same directory reads the index,
    is refused appends, closes without waiting; a server would be refused outright."""
    owner = SqliteStore(tmp_path / DB_FILENAME)
    try:
        owner.history.append(entry("m1", T0))
        await owner.history.flush()
        tool = SqliteStore(tmp_path / DB_FILENAME)
        try:
            assert tool.journal is None
            assert [e.msgid for e in await tool.history.latest(LOBBY, None, 10)] == ["m1"]
            with pytest.raises(StoreError):
                tool.history.append(entry("m2", T0 + 1))
        finally:
            await tool.close()
        with pytest.raises(JournalInUseError):
            SqliteStore(tmp_path / DB_FILENAME, indexer="process")
    finally:
        await owner.close()


def _add(store: SqliteStore, e: HistoryEntry) -> None:
    """Store ``e`` through the server's short road, `JournalHistoryStore.add`."""
    history = store.history
    assert isinstance(history, JournalHistoryStore)
    line = f":{e.sender} {e.command} {e.target_name} :{e.text}\r\n".encode()
    tags = json.dumps(dict(e.tags), separators=(",", ":")) if e.tags else ""
    history.add(e.msgid, e.time, e.target.key, e.account or "", tags, line, e.sender, e.target_name)


async def test_add_stores_what_append_stores(tmp_path: Path) -> None:
    """An entry stored from its parts reads back equal to the same entry appended."""
    store = SqliteStore(tmp_path / DB_FILENAME)
    pair = direct("~guest1", "amy")
    tagged = entry("d1", T0 + 0.25, pair, account="amy", tags={"+draft/reply": "x;y z"})
    try:
        _add(store, entry("c1", T0, text="caf\u00e9 \x01ACTION waves\x01"))
        _add(store, tagged)
        store.history.append(entry("c2", T0 + 1))
        assert [e.msgid for e in await store.history.latest(LOBBY, None, 10)] == ["c1", "c2"]
        assert await store.history.latest(pair, None, 10) == [tagged]
    finally:
        await store.close()


async def test_add_reports_each_turn_once_to_its_listener(tmp_path: Path) -> None:
    """The listener hears once per turn of adds: None when written, the error when refused,
    with each message's sender and target as given to add; after close an add is refused
    with StoreClosedError."""
    store = SqliteStore(tmp_path / DB_FILENAME)
    history = store.history
    assert isinstance(history, JournalHistoryStore)
    heard: list[tuple[JournalError | None, list[object], list[str]]] = []
    history.listen(lambda error, senders, targets: heard.append((error, senders, targets)))
    try:
        for i in range(3):
            _add(store, entry(f"m{i}", T0 + i))
        await asyncio.sleep(0)
        sender = entry("m0", T0).sender
        assert heard == [(None, [sender] * 3, ["#lobby"] * 3)]
        with file_size_limit(journal_of(store).offset + 10):
            _add(store, entry("refused", T0 + 5))
            history.end_turn()
        assert len(heard) == 2 and isinstance(heard[1][0], JournalError)
        assert heard[1][1:] == ([sender], ["#lobby"])  # whom to tell, about which target
        history.end_turn()  # an empty turn: nobody is told anything
        assert len(heard) == 2
        assert [e.msgid for e in await history.latest(LOBBY, None, 10)] == ["m0", "m1", "m2"]
    finally:
        await store.close()
    with pytest.raises(StoreClosedError):
        _add(store, entry("late", T0 + 9))


def test_a_full_segment_whose_close_fails_still_gives_way_to_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """close(2) of a full segment fails (EIO) after the frame is written: the write still
    succeeds, the next frame goes to a new segment, and each frame is in the journal once."""
    journal = Journal(tmp_path)
    journal.segment_bytes = 1
    full = journal._fd  # the segment the next write fills
    real_close = os.close

    def close(fd: int) -> None:
        real_close(fd)  # Linux frees the descriptor even when close reports an error
        if fd == full:
            raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "close", close)
    journal.write(b"one\n")
    monkeypatch.undo()
    assert journal._fd != full
    journal.write(b"two\n")
    journal.close()
    payloads = [
        frame.payload
        for _base, path in segments(tmp_path)
        for frame in read_frames(path.read_bytes(), 0)[0]
    ]
    assert payloads == [b"one\n", b"two\n"]


@pytest.mark.parametrize("twin", TWINS, ids=[twin.__module__ for twin in TWINS])
async def test_a_turn_whose_write_raises_unexpectedly_is_not_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, twin: Any
) -> None:
    """An error the journal does not turn into JournalError escapes a turn's write after its
    frame is on disk: with either twin of the turn's records, the next turn's frame holds its
    own records only (no message twice in history)."""
    monkeypatch.setattr(journal_history, "TurnRecords", twin)
    store = SqliteStore(tmp_path / DB_FILENAME)
    journal = journal_of(store)
    try:

        def rotate() -> None:
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr(journal, "_rotate", rotate)
        journal.segment_bytes = 1  # the write of m1's turn rotates, and that fails
        _add(store, entry("m1", T0))
        with pytest.raises(OSError, match="Input/output"):
            store.history.end_turn()
        journal.segment_bytes = 1 << 30
        _add(store, entry("m2", T0 + 1))
        store.history.end_turn()
        (_base, path), *_ = segments(journal.directory)  # no rotation: one segment
        frames, _end = read_frames(path.read_bytes(), 0)
        msgids = [
            record.split(b"\0", 1)[0] for frame in frames for record in frame.payload.splitlines()
        ]
        assert msgids == [b"m1", b"m2"]
    finally:
        await store.close()
