"""Journal records: how a stored message is written in the journal, and read back by the indexer.

A journal frame (``journal.py``) holds the records of one event-loop turn, one per message. The
server encodes them (``journal_history.py``, with `encode_entry` or, on its hot path, from the
message's parts with the same layout), the indexer (``indexer.py``) turns them into rows with
`decode_rows`. A cluster keeps the same records in Redis until they are in PostgreSQL
(``cluster/history_feed.py``, which reads them with `decode_entry`).

Records. One line per entry, fields separated by NUL, in this order: msgid, time (the IEEE
double's 8 little-endian bytes in hex, `TIME`: exact, and measured at a fifth of the price of
``float.hex``), conversation key (a private one holds its two parties, ``DirectTarget.key``),
account (empty: none), tags (empty: none; else JSON), and the message as relayed without tags,
``:sender COMMAND target :text`` and its CR LF. That last field is the very bytes the recipients
got (``Outgoing.plain``): the server does not format or encode the text again. Neither NUL nor
a line end can occur in a field: the line codec splits lines at CR and LF and drops NUL, and
JSON escapes both in tag values. The indexer skips (and logs) a record with the wrong number of
fields rather than stop; it still reads the records of the first version of this format (11
fields: ``float.hex`` time, the parties, target, sender, command and text apart).

Encoding, twice. `encode_record` builds the record of every stored message on the event loop,
so it has a compiled twin (``_journal_record.pyx``, built by ``setup.py`` with the protocol
core) that writes the fields straight into one ``bytes``; `python_encode_record` is the
reference and the fallback (no compiler, or ``CHINWAG_PURE_PYTHON=1``), and the tests compare
the two byte for byte.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import struct
from collections.abc import Callable
from typing import Protocol

from chinwag.protocol._core import PURE_PYTHON_ENV
from chinwag.store import _query
from chinwag.store.base import NO_TAGS, ChannelTarget, DirectTarget, HistoryEntry
from chinwag.store.errors import InvalidNameError
from chinwag.store.history_rows import NO_VALUE

__all__ = [
    "FIELDS",
    "TIME",
    "Fields",
    "PythonTurnRecords",
    "TurnBuffer",
    "TurnRecords",
    "decode_entry",
    "decode_rows",
    "encode_entry",
    "encode_record",
    "encode_tags",
    "pack_time",
    "python_encode_record",
    "record_fields",
]

_log = logging.getLogger("chinwag.indexer")

FIELDS = 6
"""Fields in one record."""
TIME = struct.Struct("<d")
"""A record's time: the double's bytes (written in hex)."""
pack_time = TIME.pack
_unpack_time = TIME.unpack
encode_tags = json.JSONEncoder(separators=(",", ":")).encode
"""Client tags as a record holds them (a dict to JSON)."""
_FIELDS_V1 = 11
"""Fields of a record in the first version of the format (see above)."""
_LINE_PARTS = 4  # ":sender", command, target, ":text"
_TIME_DIGITS = 2 * TIME.size


def encode_entry(entry: HistoryEntry) -> str:
    """``entry`` as one journal record (a line; see the module header)."""
    msgid, when, target, target_name, sender, account, command, text, tags = entry
    head = f"{msgid}\0{pack_time(when).hex()}\0{target.key}\0{account or ''}"
    line = f":{sender} {command} {target_name} :{text}\r\n"
    return f"{head}\0{encode_tags(dict(tags)) if tags else ''}\0{line}"


# Positional parameters: called once per stored message (see `JournalHistoryStore.add`).
def python_encode_record(  # noqa: PLR0917
    msgid: str, when: float, conversation: str, account: str, tags: str, line: bytes
) -> bytes:
    """One message's record from its parts (see the module header): the reference for
    `encode_record`, which is this function compiled when it could be built.

    Args:
        msgid: the message's msgid.
        when: its server time.
        conversation: the key of its conversation (``Target.key``).
        account: the sender's account, empty for none.
        tags: its client tags as JSON, empty for none.
        line: the message as relayed, without tags, ending in CR LF (``Outgoing.plain``).
    """
    return f"{msgid}\0{pack_time(when).hex()}\0{conversation}\0{account}\0{tags}\0".encode() + line


class TurnBuffer(Protocol):
    """What the store uses of `PythonTurnRecords` and of its compiled twin."""

    senders: list[object]
    targets: list[str]
    room: int
    count: int

    def add(  # noqa: PLR0917
        self,
        msgid: str,
        when: float,
        conversation: str,
        account: str,
        tags: str,
        line: bytes,
        sender: object,
        target: str,
    ) -> None:
        """Add one message's record (see `PythonTurnRecords.add`)."""

    def extend(self, record: bytes) -> None:
        """Add a record made elsewhere (see `PythonTurnRecords.extend`)."""

    def frame(self) -> memoryview:
        """The records so far (see `PythonTurnRecords.frame`)."""

    def clear(self) -> None:
        """Start the next turn (see `PythonTurnRecords.clear`)."""


class PythonTurnRecords:
    """One loop turn's records, and the disk space reserved for them that they leave free: the
    reference for `TurnRecords`, which is this class compiled when it could be built.

    Its `add` is the store's hot path (``JournalHistoryStore.add``): the server calls it once
    per stored message, so it is compiled with the encoder, and what happens once per turn or
    on a full reservation is the store's, through the two callables. (The compiled twin writes
    the records into one buffer it keeps from turn to turn, this one joins them per turn: the
    same bytes either way.)

    Args:
        opening: called before the turn's first record is added (the store schedules the end
            of the turn; it raises when it takes no records).
        reserve: called with a record's size when it does not fit into ``room``: returns the
            room before that record once the space is reserved, or raises ``JournalError``.
    """

    __slots__ = ("_opening", "_records", "_reserve", "count", "room", "senders", "targets")

    def __init__(self, opening: Callable[[], object], reserve: Callable[[int], int]) -> None:
        self._records: list[bytes] = []
        self.count = 0
        """Records this turn."""
        self.senders: list[object] = []
        """Who sent each message `add` took, in order (for the store's listener)."""
        self.targets: list[str] = []
        """The target of each, as its sender named it (for the store's listener)."""
        self.room = 0
        """Reserved bytes the turn's frame leaves free (negative: more is needed)."""
        self._opening = opening
        self._reserve = reserve

    # Positional parameters: called once per stored message (see `JournalHistoryStore.add`).
    def add(  # noqa: PLR0917
        self,
        msgid: str,
        when: float,
        conversation: str,
        account: str,
        tags: str,
        line: bytes,
        sender: object,
        target: str,
    ) -> None:
        """Add one message's record (`python_encode_record` of the first six arguments), and
        its ``sender`` and ``target`` (kept for the store's listener: the server tells the
        sender when the turn's frame cannot be written; two lists appended here, in compiled
        code, cost less than two in the caller).

        Raises:
            JournalError: from ``reserve``: there is no disk space for it (nothing was added).
            StoreError: from ``opening``.
        """
        if not self.count:
            self._opening()
        record = python_encode_record(msgid, when, conversation, account, tags, line)
        size = len(record)
        if size > self.room:
            self.room = self._reserve(size)
        self.room -= size
        self._records.append(record)
        self.count += 1
        self.senders.append(sender)
        self.targets.append(target)

    def extend(self, record: bytes) -> None:
        """Add a record made elsewhere (``encode_entry``'s): the caller counts its room."""
        self._records.append(record)
        self.count += 1

    def frame(self) -> memoryview:
        """This turn's records, in order, as one buffer (release it before `clear`)."""
        return memoryview(b"".join(self._records))

    def clear(self) -> None:
        """Forget the records (after their frame was written, or failed to be)."""
        self._records.clear()
        self.count = 0


encode_record = python_encode_record
"""`python_encode_record`, compiled when it was built (``_journal_record.pyx``)."""
TurnRecords: Callable[[Callable[[], object], Callable[[int], int]], TurnBuffer] = PythonTurnRecords
"""`PythonTurnRecords`, compiled when it was built (``_journal_record.pyx``)."""
if os.environ.get(PURE_PYTHON_ENV, "") in ("", "0"):
    with contextlib.suppress(ImportError):
        from chinwag.store import _journal_record

        encode_record = _journal_record.encode_record
        TurnRecords = _journal_record.TurnRecords


Fields = tuple[str, float, str, str, str, str, str, str, str, str, str]
"""A record's values: msgid, time, conversation, party a and b (empty for a channel), target
name, sender, account (empty: none), command, text, tags (empty: none; else JSON)."""


def record_fields(record: str) -> Fields:
    """The values of one record (without its line end; a CR left before it is dropped).

    Raises:
        ValueError: when ``record`` is not one (a wrong field count, a time that is not one, no
            text).
    """
    fields = record.split("\0")
    if len(fields) == FIELDS:
        msgid, when, conv, account, tags, relayed = fields
        parts = relayed.split(" ", 3)
        if len(parts) != _LINE_PARTS or len(when) != _TIME_DIGITS:
            raise ValueError("not a journal record")
        source, command, target_name, text = parts
        (moment,) = _unpack_time(bytes.fromhex(when))
        a, _, b = conv.partition(" ")  # a private conversation's key: its two parties
        if not b:
            a = ""
        text = text[1:].removesuffix("\r")
        return msgid, moment, conv, a, b, target_name, source[1:], account, command, text, tags
    if len(fields) == _FIELDS_V1:
        msgid, when, conv, a, b, target_name, sender, account, command, text, tags = fields
        return (
            msgid,
            float.fromhex(when),
            conv,
            a,
            b,
            target_name,
            sender,
            account,
            command,
            text,
            tags,
        )
    raise ValueError(f"a journal record has {len(fields)} fields, not {FIELDS}")


def decode_entry(record: str) -> HistoryEntry:
    """One record (``encode_entry``, without its line end) as an entry.

    Raises:
        ValueError: when the record is malformed.
    """
    msgid, when, conv, a, b, target_name, sender, account, command, text, tags = record_fields(
        record
    )
    try:
        target = DirectTarget(a, b) if b else ChannelTarget(conv)
    except InvalidNameError as exc:
        raise ValueError(str(exc)) from None
    return HistoryEntry(
        msgid,
        when,
        target,
        target_name,
        sender,
        account or None,
        command,
        text,
        json.loads(tags) if tags else NO_TAGS,
    )


def decode_rows(payload: bytes, rows: list[object], convs: dict[str, tuple[str, str]]) -> int:
    """Append the history-row parameters of a frame's records to ``rows`` (flattened).

    Args:
        payload: a frame's payload (records, see ``journal_history.py``).
        rows: where the parameters go, ``ROW_WIDTH`` per record.
        convs: private conversations seen, key -> parties (filled in).

    Returns:
        How many records were skipped as malformed (logged).
    """
    bad = 0
    time_key = _query.time_key
    for record in payload.decode("utf-8", "surrogatepass").split("\n"):
        if not record:
            continue
        try:
            msgid, moment, conv, a, b, target_name, sender, account, command, text, tags = (
                record_fields(record)
            )
        except ValueError:
            bad += 1
            continue
        if b:
            convs[conv] = (a, b)
        rows += (
            msgid,
            conv,
            time_key(moment),
            moment,
            a or NO_VALUE,  # an empty field is "no value" (``history_rows.py``)
            b or NO_VALUE,
            target_name,
            sender,
            account or NO_VALUE,
            command,
            text,
            tags or "{}",
        )
    if bad:
        _log.error("indexer: %d malformed journal records skipped", bad)
    return bad
