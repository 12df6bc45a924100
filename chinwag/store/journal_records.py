"""Journal records: how a stored message is written in the journal, and read back by the indexer.

A journal frame (``journal.py``) holds the records of one event-loop turn, one per message. The
server encodes them (``journal_history.py``, with `encode_entry` or, on its hot path, from the
message's parts with the same layout), the indexer (``indexer.py``) turns them into rows with
`decode_rows`.

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
"""

from __future__ import annotations

import json
import logging
import struct

from chinwag.store import _query
from chinwag.store.base import HistoryEntry
from chinwag.store.history_rows import NO_VALUE

__all__ = ["FIELDS", "TIME", "decode_rows", "encode_entry", "encode_tags", "pack_time"]

_log = logging.getLogger("chinwag.indexer")

FIELDS = 6
"""Fields in one record."""
TIME = struct.Struct("<d")
"""A record's time: the double's bytes (written in hex)."""
pack_time = TIME.pack
encode_tags = json.JSONEncoder(separators=(",", ":")).encode
"""Client tags as a record holds them (a dict to JSON)."""
_FIELDS_V1 = 11
"""Fields of a record in the first version of the format (see above)."""
_LINE_PARTS = 4  # ":sender", command, target, ":text"
_TIME_DIGITS = 2 * TIME.size


def encode_entry(entry: HistoryEntry) -> bytes:
    """``entry`` as one journal record (a line; see the module header)."""
    msgid, when, target, target_name, sender, account, command, text, tags = entry
    head = f"{msgid}\0{pack_time(when).hex()}\0{target.key}\0{account or ''}"
    line = f":{sender} {command} {target_name} :{text}\r\n"
    return f"{head}\0{encode_tags(dict(tags)) if tags else ''}\0{line}".encode(
        "utf-8", "surrogatepass"
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
    unpack_time = TIME.unpack
    for record in payload.decode("utf-8", "surrogatepass").split("\n"):
        if not record:
            continue
        fields = record.split("\0")
        try:
            if len(fields) == FIELDS:
                msgid, when, conv, account, tags, relayed = fields
                parts = relayed.split(" ", 3)
                if len(parts) != _LINE_PARTS or len(when) != _TIME_DIGITS:
                    raise ValueError("not a record")
                source, command, target_name, text = parts
                sender, text = source[1:], text[1:].removesuffix("\r")
                (moment,) = unpack_time(bytes.fromhex(when))
                a, _, b = conv.partition(" ")  # a private conversation's key: its two parties
            elif len(fields) == _FIELDS_V1:
                msgid, when, conv, a, b, target_name, sender, account, command, text, tags = fields
                moment = float.fromhex(when)
            else:
                raise ValueError("not a record")
        except ValueError:  # a wrong field count, or a time that is not one
            bad += 1
            continue
        if b:
            convs[conv] = (a, b)
        rows += (
            msgid,
            conv,
            time_key(moment),
            moment,
            a if b else NO_VALUE,  # an empty field is "no value" (``history_rows.py``)
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
