"""The journal: append-only segment files, the durability point of stored messages.

Theory of operation
===================

The promise is "nothing any client received is lost after SIGKILL". A byte handed to
``write(2)`` lives in the kernel's page cache, which outlives the process, so a message is safe
from SIGKILL the moment the ``write`` that holds it returns. The server therefore writes each
event-loop turn's stored messages with ONE ``os.write`` (a *frame*) before it writes the same
turn's output to any socket (``journal_history.py``): anything delivered was already in the OS's
hands. No fsync is needed for that promise; ``fsync = "turn"`` adds one per written turn for
power-loss durability (measured in the README). SQLite is only the index of the journal, fed by
the indexer (``indexer.py``) in large batches, and the journal is where recovery starts.

Files. ``DATA_DIR/journal/`` holds segments named by the offset of their first byte
(``00000000000000000000.log``); offsets count bytes over the whole journal, so one integer says
how far the indexer got (it keeps it in the database, in the transaction of the rows). The
server appends to the newest segment only and starts a new one past `SEGMENT_BYTES`; the
indexer deletes a segment once everything in it is indexed, so the disk holds what is not
indexed yet plus one segment.

Frames. ``<length: u32 LE> <crc32 of the payload: u32 LE> <payload>``; the payload is the
turn's records, each a UTF-8 line ending in ``\\n`` (see ``journal_history.py`` for the fields).
A frame is the unit of atomicity: a SIGKILL during its ``write`` can leave a torn frame at the
end of the newest segment; its messages were never delivered (delivery waits for the write), so
recovery cuts the file back to the last whole frame (`Journal.open`). A ``write`` that fails or
writes part of a frame (an I/O error) is cut back the same way at once, and its messages are
reported as not stored.

Reserved space. A full disk must refuse a message BEFORE anyone receives it, but the frame is
written at the end of the turn, after the turn's messages were accepted. So the journal keeps
disk space allocated ahead of its end (`Journal.reserve`: Linux ``fallocate`` with
``FALLOC_FL_KEEP_SIZE``, `RESERVE_BYTES` at a time): a write into that space cannot fail for
lack of room, and a message is accepted only once its bytes fit into it (`room`, checked per
message by ``journal_history.py``). When the reservation cannot grow (ENOSPC) the message is
refused before delivery; the next message tries again, so storing resumes by itself once there
is room. ``KEEP_SIZE`` leaves the file's size at the end of the real frames, so readers and
recovery see exactly what they saw without a reservation (no zero tail to tell from a frame),
and appends stay ``O_APPEND``. On a system or filesystem without it, nothing is reserved and a
full disk is noticed by the failed write (messages reported as not stored). The reserved tail
is disk space in use: truncating a segment (rotation, close) gives it back.
"""

from __future__ import annotations

import binascii
import ctypes
import errno
import fcntl
import logging
import os
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chinwag.store.errors import StoreError

__all__ = [
    "HEADER",
    "JOURNAL_DIRNAME",
    "RESERVE_BYTES",
    "SEGMENT_BYTES",
    "Frame",
    "Journal",
    "JournalError",
    "JournalInUseError",
    "read_frames",
    "segment_name",
    "segments",
]

_log = logging.getLogger("chinwag.store")

JOURNAL_DIRNAME = "journal"
WRITER_LOCK = "writer.lock"
"""The file whose ``flock`` the one process writing a journal holds."""
SEGMENT_BYTES = 64 * 1024 * 1024
"""A segment holds at least this many bytes before the next one starts (a frame is never split)."""
HEADER = struct.Struct("<II")
"""A frame's header: payload length, CRC-32 of the payload (``binascii.crc32``: the same value
as ``zlib.crc32``, and measured 2.8 times faster on this machine's Python build)."""
_SUFFIX = ".log"
_NAME_DIGITS = 20
MAX_FRAME = 1 << 30
"""A length field above this is garbage, not a frame (a turn never writes a gigabyte)."""
RESERVE_BYTES = 4 * 1024 * 1024
"""Disk space allocated ahead of the journal's end at a time (one ``fallocate`` per some ten
thousand messages); the disk holds at most this much more than the journal's frames. Measured
on the 200-pair private-message benchmark (ext4, ``bench/results/journal-reserve/``): with 1 MiB
the server's processes spent 0.6-0.9 us more per message than without reserving; with 4 or 16
MiB, no difference above the noise."""
_FALLOC_FL_KEEP_SIZE = 0x01  # <linux/falloc.h>
_UNSUPPORTED = frozenset({errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL})
_Fallocate = Callable[[int, int, int, int], int]


def _find_fallocate() -> _Fallocate | None:
    """libc's ``fallocate`` (``os`` has only ``posix_fallocate``, which cannot keep the size)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.fallocate64
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
    function.restype = ctypes.c_int
    return function


_fallocate = _find_fallocate()


class JournalError(OSError):
    """A turn could not be written whole (disk full, I/O error): its messages are not stored;
    or space for a message could not be reserved (`Journal.reserve`): it is refused."""


class JournalInUseError(StoreError):
    """Another process (a running server) writes this journal."""


def segment_name(offset: int) -> str:
    """The file name of the segment that starts at ``offset``."""
    return f"{offset:0{_NAME_DIGITS}d}{_SUFFIX}"


def segments(directory: Path) -> list[tuple[int, Path]]:
    """Every segment in ``directory`` as (first offset, path), oldest first."""
    found = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    for name in names:
        stem = name.removesuffix(_SUFFIX)
        if name.endswith(_SUFFIX) and len(stem) == _NAME_DIGITS and stem.isdigit():
            found.append((int(stem), directory / name))
    found.sort()
    return found


@dataclass(frozen=True, slots=True)
class Frame:
    """One whole frame read back: its payload and the journal offset just past it."""

    payload: bytes
    end: int


def read_frames(data: bytes, base: int) -> tuple[list[Frame], int]:
    """The whole, sound frames at the start of ``data``, which begins at offset ``base``.

    Returns:
        The frames, and the offset where the first torn or unwritten frame starts (the end of
        ``data`` when every byte belongs to a whole frame).
    """
    frames: list[Frame] = []
    pos = 0
    size = len(data)
    header = HEADER.size
    while pos + header <= size:
        length, crc = HEADER.unpack_from(data, pos)
        end = pos + header + length
        if length > MAX_FRAME or end > size:
            break
        payload = data[pos + header : end]
        if binascii.crc32(payload) != crc:
            break
        frames.append(Frame(payload, base + end))
        pos = end
    return frames, base + pos


def sound_length(path: Path) -> int:
    """How many leading bytes of segment ``path`` are whole, sound frames."""
    _frames, end = read_frames(path.read_bytes(), 0)
    return end


class Journal:
    """The writing end: one open segment, one ``os.write`` per frame, space reserved ahead.

    Not thread-safe: the event loop owns it.
    """

    reserve_bytes = RESERVE_BYTES
    """How much `reserve` allocates ahead at a time (tests make it smaller)."""

    def __init__(
        self, directory: Path, *, fsync: bool = False, segment_bytes: int = SEGMENT_BYTES
    ) -> None:
        """Open the journal in ``directory`` (created 0700), recovering its newest segment.

        A torn frame at the end of the newest segment (SIGKILL during a write) is cut off:
        nobody received its messages. Older segments are whole by construction.

        Args:
            directory: ``DATA_DIR/journal``.
            fsync: fsync each frame (power-loss durability; not needed for SIGKILL).
            segment_bytes: start a new segment once the current one holds this much.

        Raises:
            JournalInUseError: another process writes this journal (it holds ``writer.lock``).
            OSError: when the directory or segment cannot be created or opened.
        """
        self.directory = directory
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # One writer per journal: recovery cuts the newest segment, which must not be growing.
        self._lock = os.open(directory / WRITER_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock)
            raise JournalInUseError(f"{directory}: another chinwag process writes it") from None
        found = segments(directory)
        if found:
            base, path = found[-1]
            sound = sound_length(path)
            if sound != path.stat().st_size:
                _log.warning(
                    "journal: %s: dropped a torn frame of %d bytes (never delivered)",
                    path.name,
                    path.stat().st_size - sound,
                )
                os.truncate(path, sound)
        else:
            base, sound = 0, 0
        self._base = base
        self._size = sound
        self._reserved = sound  # the segment's bytes allocated on disk, from its start
        self._fd = self._open(base)
        self.reserving = _fallocate is not None
        """Whether space is reserved ahead (False: not supported here)."""
        self.frames = 0
        """Frames written by this process (to observe the grouping)."""
        self.failures = 0
        """Frames that could not be written (disk full, I/O errors)."""
        self._reserve_ahead()

    @property
    def offset(self) -> int:
        """The journal offset just past the last frame written."""
        return self._base + self._size

    @property
    def room(self) -> int:
        """Bytes that can be written past the end without needing new disk space (very many
        when nothing is reserved: then only the write itself can tell)."""
        if not self.reserving:
            return sys.maxsize
        return self._reserved - self._size

    def reserve(self, need: int) -> None:
        """Make sure the next ``need`` bytes past the end have disk space allocated.

        Allocates `reserve_bytes` ahead when it can (fewer calls), else exactly ``need``.

        Raises:
            JournalError: when the space cannot be allocated (ENOSPC: the disk is full).
        """
        if not self.reserving or self._reserved - self._size >= need:
            return
        start = self._reserved
        code = 0
        for want in (max(need, self.reserve_bytes), need):
            code = self._allocate(start, self._size + want - start)
            if code == 0:
                self._reserved = self._size + want
                return
            if code in _UNSUPPORTED:
                _log.info("journal: cannot reserve disk space here (%s)", os.strerror(code))
                self.reserving = False
                return
        raise JournalError(code, f"journal space: {os.strerror(code)}")

    def _allocate(self, offset: int, length: int) -> int:
        """``fallocate`` keeping the size; returns 0 or the errno."""
        assert _fallocate is not None
        while _fallocate(self._fd, _FALLOC_FL_KEEP_SIZE, offset, length) != 0:
            code = ctypes.get_errno()
            if code != errno.EINTR:
                return code
        return 0

    def _reserve_ahead(self) -> None:
        """Reserve a chunk now if possible (a new segment, a start); a failure shows later."""
        try:
            self.reserve(1)
        except JournalError as exc:
            _log.warning("journal: cannot reserve disk space: %s", exc)

    def _open(self, base: int) -> int:
        path = self.directory / segment_name(base)
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)

    def write(self, payload: bytes | memoryview) -> int:
        """Append one frame holding ``payload`` with a single ``write(2)`` (``os.writev``).

        Returns:
            The journal offset just past the frame.

        Raises:
            JournalError: nothing of the frame stays in the journal (it was cut back).
        """
        # writev: the header and the payload without first copying them into one bytes (a busy
        # turn's frame is about a megabyte: 6,900 private messages per turn were measured in
        # the 200-pair benchmark).
        header = HEADER.pack(len(payload), binascii.crc32(payload))
        size = len(header) + len(payload)
        fd = self._fd
        try:
            written = os.writev(fd, (header, payload))
            if written != size:
                raise OSError(f"short write: {written} of {size} bytes")
            if self.fsync:
                os.fsync(fd)
        except OSError as exc:
            self.failures += 1
            self._cut_back()
            raise JournalError(exc.errno, f"journal write failed: {exc}") from exc
        self.frames += 1
        self._size += size
        # Past what was reserved when nothing could be (the write itself found the room).
        self._reserved = max(self._reserved, self._size)
        if self._size >= self.segment_bytes:
            self._rotate()
        return self._base + self._size

    def _cut_back(self) -> None:
        """Drop whatever part of a failed frame reached the file (truncating never needs space)."""
        try:
            os.ftruncate(self._fd, self._size)
        except OSError as exc:  # then recovery drops it: its CRC cannot match
            _log.error("journal: cannot cut back a failed frame: %s", exc)
        self._reserved = self._size  # truncating gave back the reserved tail too

    def _rotate(self) -> None:
        """Start the next segment; the indexer deletes the old one once it is indexed."""
        base = self._base + self._size
        try:
            fd = self._open(base)
        except OSError as exc:  # keep appending to the current one; retried after next frame
            _log.warning("journal: cannot start a new segment: %s", exc)
            return
        self._give_back()
        try:
            os.close(self._fd)
        except OSError as exc:  # Linux frees the descriptor even then; the frame is written
            _log.error("journal: closing a full segment failed: %s", exc)
        self._fd, self._base, self._size, self._reserved = fd, base, 0, 0
        self._reserve_ahead()

    def _give_back(self) -> None:
        """Free the reserved tail of the current segment (truncating at its end frees it)."""
        if self._reserved > self._size:
            try:
                os.ftruncate(self._fd, self._size)
            except OSError as exc:
                _log.warning("journal: cannot free reserved space: %s", exc)
            self._reserved = self._size

    def close(self) -> None:
        """Close the segment and let another process write the journal (idempotent)."""
        if self._fd >= 0:
            self._give_back()
            os.close(self._fd)
            os.close(self._lock)
            self._fd = -1
