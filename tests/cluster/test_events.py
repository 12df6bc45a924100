"""The events between nodes: any text survives the trip, and no event can break a replica.

Events travel one after another in one Redis stream entry, each a line (``events.py``), so an
event must never hold a raw line end but its last, whatever users typed; a message's line must
arrive as its node formatted it; and a replica must skip, never raise on, an event it cannot
apply (a newer node's kind, a damaged entry).
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from chinwag.cluster import events
from chinwag.cluster.replica import Replica
from chinwag.server.config import load_config
from chinwag.server.fanout import Outgoing
from chinwag.server.network import Network
from chinwag.server.state import Client

HERE = "n1.test"
THERE = "n2.test"

texts = st.text(max_size=60)
# What the decoder lets into a message's text: anything but CR, LF and NUL.
line_texts = st.text(
    st.characters(codec="utf-8", exclude_characters="\r\n\0"),
    min_size=1,
    max_size=60,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=12,
)


def _network() -> Network:
    config = load_config(None, environ={}, overrides={"server": {"name": HERE, "data_dir": "none"}})
    return Network(config)


class _Nowhere:
    """A link that is never written to (the encoders only read the client's fields)."""


def _fields(event: bytes) -> tuple[str, str, list[object]]:
    """The node, kind and JSON fields of a cold event."""
    node, kind, body = event.split(b"\0", 2)
    fields = json.loads(body)
    assert isinstance(fields, list)
    return node.decode(), kind.decode(), fields


@given(nick=texts, realname=texts, topic=texts, reason=texts, account=st.none() | texts)
def test_no_text_puts_a_line_end_in_an_event(
    nick: str, realname: str, topic: str, reason: str, account: str | None
) -> None:
    """Whatever users type (newlines, CR, U+2028, NUL), an event is one line, and its JSON
    decodes to what was put in."""
    client = Client(conn=_Nowhere(), host="h", ip="", nick=nick or "x", user="~u")  # type: ignore[arg-type]
    client.realname, client.account, client.away = realname, account, reason
    built = [
        events.user_event(THERE, "1", client, "~party"),
        events.part_event(THERE, "1", "#room", reason),
        events.quit_event(THERE, "1", reason),
        events.status_event(THERE, "1", client, "AWAY", (reason,)),
        events.chan_event(THERE, "1", [topic], prefix=nick, command="TOPIC", params=(topic,)),
        events.kick_event(THERE, "1", "#room", (HERE, "2"), reason),
        events.knock_event(THERE, "1", "#room", topic),
    ]
    for event in built:
        assert event.splitlines(keepends=True) == [event] and event.endswith(b"\n")
    assert _fields(built[0]) == (THERE, "user", ["1", client.nick, "~u", "h", realname, account,
                                                 client.signon, "~party"])  # fmt: skip
    assert _fields(built[2]) == (THERE, "quit", ["1", reason])
    assert _fields(built[3])[2][3:5] == [reason, account]
    assert _fields(built[6]) == (THERE, "knock", ["1", "#room", topic])


@given(
    text=line_texts,
    target=st.sampled_from(["#room", "@#room", "amy"]),
    tags=st.dictionaries(st.just("+draft/reply") | st.just("+x"), texts, max_size=2),
    when=st.floats(min_value=0, max_value=4e9),
)
def test_a_message_event_carries_its_line_as_formatted(
    text: str, target: str, tags: dict[str, str], when: float
) -> None:
    """A message event is one line whose fields read back as they went in, the line itself
    byte for byte (CR LF included), whatever the text and the client tags hold."""
    outgoing = Outgoing(
        "bob!~bob@there", "PRIVMSG", target, text, msgid="abc1", client_tags=tags, when=when
    )
    if target == "amy":
        event = events.private_message(THERE, "u1", outgoing, command="PRIVMSG", recipient_uid="7")
        kind, wanted, status = events.PM, "7", ""
    else:
        event = events.room_message(
            THERE, "u1", outgoing, command="PRIVMSG", channel_folded="#room", status=target[:-5]
        )
        kind, wanted, status = events.ROOM, "#room", target[:-5]
    assert event.splitlines(keepends=True) == [event]
    fields = events.split_event(event)
    assert (fields[0], fields[1]) == (THERE.encode(), kind)
    assert events.read_message(fields) == (
        "abc1", "u1", "PRIVMSG", wanted, status, when, tags or None, outgoing.plain
    )  # fmt: skip
    assert event.endswith(outgoing.plain) and outgoing.plain.endswith(b"\r\n")


@given(lines=st.lists(st.tuples(texts, line_texts), min_size=1, max_size=8))
def test_events_of_one_entry_come_apart_as_they_went_in(lines: list[tuple[str, str]]) -> None:
    """An inbox entry (events one after another, as the TURN script joins them) cuts back into
    the same events, in order."""
    built: list[bytes] = []
    for reason, text in lines:
        built.append(events.quit_event(THERE, "1", reason))
        outgoing = Outgoing("bob!~b@h", "NOTICE", "#r", text, msgid="m")
        built.append(
            events.room_message(THERE, "1", outgoing, command="NOTICE", channel_folded="#r")
        )
    assert b"".join(built).splitlines(keepends=True) == built


@given(kind=st.sampled_from(["user", "nick", "join", "part", "quit", "msg", "pm", "status",
                             "chan", "kick", "invite", "knock", "kill", "kline", "unkline",
                             "register", "unregister", "sync", "snapshot", "teleport"]),
       uid=st.sampled_from(["", "1", "u1"]), args=st.lists(json_values, max_size=10),
       raw=st.binary(max_size=40))  # fmt: skip
async def test_a_replica_skips_any_event_it_cannot_apply(
    kind: str, uid: str, args: list[object], raw: bytes
) -> None:
    """An event of any kind with any fields, JSON or bytes, is applied or skipped: never an
    exception, and the next event still applies."""
    network = _network()
    replica = Replica(network, HERE)
    fine = Client(conn=_Nowhere(), host="there", ip="", nick="bob", user="~bob")  # type: ignore[arg-type]
    head = f"{THERE}\0{kind}\0".encode()
    replica.apply(
        [
            head + json.dumps([uid, *args]).encode() + b"\n",
            head + raw,
            head + b"[" + json.dumps(kind).encode(),  # cut short
            events.user_event(THERE, "9", fine, "~bob"),
        ]
    )
    assert network.find("bob") is not None
