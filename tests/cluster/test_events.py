"""The events between nodes: any text survives the trip, and no event can break a replica.

Events travel joined by newlines in one Redis stream entry (``scripts.EVENT_SEPARATOR``), so an
event must never hold a raw newline whatever users typed; and a replica must skip, never raise
on, an event it cannot apply (a newer node's kind, a damaged entry).
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from chinwag.cluster import events
from chinwag.cluster.replica import Replica
from chinwag.cluster.scripts import EVENT_SEPARATOR
from chinwag.server.config import load_config
from chinwag.server.network import Network
from chinwag.server.state import Client

HERE = "n1.test"
THERE = "n2.test"

texts = st.text(max_size=60)
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


@given(nick=texts, realname=texts, topic=texts, reason=texts, account=st.none() | texts)
def test_no_text_puts_a_separator_in_an_event(
    nick: str, realname: str, topic: str, reason: str, account: str | None
) -> None:
    """Whatever users type (newlines, U+2028, NUL), an event holds no raw separator and
    decodes to what was put in."""
    client = Client(conn=_Nowhere(), host="h", ip="", nick=nick or "x", user="~u")  # type: ignore[arg-type]
    client.realname, client.account, client.away = realname, account, reason
    built = [
        events.user_event(THERE, "1", client, "~party"),
        events.part_event(THERE, "1", "#room", reason),
        events.quit_event(THERE, "1", reason),
        events.message_event(THERE, "1", "PRIVMSG", "#room", topic, msgid="m", when=1.0),
        events.status_event(THERE, "1", client, "AWAY", (reason,)),
        events.chan_event(THERE, "1", [topic], prefix=nick, command="TOPIC", params=(topic,)),
        events.kick_event(THERE, "1", "#room", (HERE, "2"), reason),
        events.knock_event(THERE, "1", "#room", topic),
    ]
    for event in built:
        assert EVENT_SEPARATOR not in event
    assert json.loads(built[0])[3:7] == [client.nick, "~u", "h", realname]
    assert json.loads(built[3])[5] == topic
    assert json.loads(built[4])[5:7] == [reason, account]
    assert json.loads(built[7])[4] == topic


@given(kind=st.sampled_from(["user", "nick", "join", "part", "quit", "msg", "status", "chan",
                             "kick", "invite", "knock", "kill", "kline", "unkline", "register",
                             "unregister", "sync", "snapshot", "teleport"]),
       uid=st.sampled_from(["", "1", "u1"]), args=st.lists(json_values, max_size=10))  # fmt: skip
async def test_a_replica_skips_any_event_it_cannot_apply(
    kind: str, uid: str, args: list[object]
) -> None:
    """An event of any kind with any arguments is applied or skipped: never an exception,
    and the next event still applies."""
    network = _network()
    replica = Replica(network, HERE)
    fine = Client(conn=_Nowhere(), host="there", ip="", nick="bob", user="~bob")  # type: ignore[arg-type]
    replica.apply(
        [
            json.dumps([kind, THERE, uid, *args]),
            "[" + json.dumps(kind),  # cut short
            events.user_event(THERE, "9", fine, "~bob"),
        ]
    )
    assert network.find("bob") is not None
