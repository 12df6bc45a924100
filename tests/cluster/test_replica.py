"""Another node's events applied to this node's Network: remote users act like local ones.

The network and the local users are real (connections without a socket: what they would be
sent stays in their pending output, where the test reads it), as in ``tests/server``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import cast

from hypothesis import given, settings
from hypothesis import strategies as st

from chinwag.cluster.events import (
    ban_fields,
    chan_event,
    join_event,
    kick_event,
    kill_event,
    nick_event,
    part_event,
    private_message,
    quit_event,
    rename_event,
    room_message,
    snapshot_event,
    status_event,
    user_event,
)
from chinwag.cluster.remote_link import RemoteLink
from chinwag.cluster.replica import Replica
from chinwag.cluster.snapshot import channel_state, encode_network
from chinwag.server.config import load_config
from chinwag.server.connection import Connection
from chinwag.server.fanout import Batch, Outgoing
from chinwag.server.history import History
from chinwag.server.network import Network
from chinwag.server.server_bans import ServerBans
from chinwag.server.state import Cap, Client
from chinwag.server.tasks import Tasks
from chinwag.store import BanKind, MemoryStore, ServerBan

HERE = "n1.test"
THERE = "n2.test"
T0 = 1_700_000_000.0


class _Owner:
    """Stands where the server does for a connection."""

    def admission_refusal(self, ip: str) -> str | None:
        return None

    def dispatch(self, client: Client, item: object) -> None:
        raise AssertionError("nothing is dispatched here")

    def mark_dirty(self, conn: Connection) -> None:
        """Output stays pending for the test to read."""

    def finish(self, conn: Connection, data: bytes) -> None:
        """Nothing closes here."""

    def mark_lazy(self, conn: Connection) -> None:
        """Output stays pending for the test to read."""

    def client_gone(self, client: Client, reason: str) -> None:
        """Nothing closes here."""


def _network() -> Network:
    config = load_config(None, environ={}, overrides={"server": {"name": HERE, "data_dir": "none"}})
    return Network(config)


def _local(network: Network, nick: str) -> Client:
    conn = Connection(_Owner(), network, network.config.limits)
    client = Client(conn=conn, host="h", ip="127.0.0.1", user="~" + nick)
    conn.client = client
    network.add_connection(client)
    network.claim_nick(client, nick)
    network.mark_registered(client)
    return client


def _sent(client: Client) -> list[str]:
    """The lines ``client`` would be sent, and forget them."""
    conn = client.conn
    assert isinstance(conn, Connection)
    data = b"".join(
        item if isinstance(item, bytes) else item.share_of(client) for item in conn.pending
    )
    conn.pending.clear()
    return data.decode().splitlines()


def _said(text: str, target: str, msgid: str) -> Outgoing:
    """bob's PRIVMSG as bob's node formats it."""
    return Outgoing("bob!~bob@there", "PRIVMSG", target, text, msgid=msgid, when=T0)


def _remote_user(nick: str, uid: str = "u1") -> bytes:
    """The ``user`` event of a user ``nick`` of the other node."""
    remote = Client(conn=_Owner(), host="there", ip="", nick=nick, user="~" + nick)  # type: ignore[arg-type]
    remote.realname = nick.title()
    return user_event(THERE, uid, remote, "~token-" + nick)


async def test_a_remote_user_is_known_by_nick() -> None:
    """After its user event a remote user is found by nick, registered, on a RemoteLink."""
    network = _network()
    replica = Replica(network, HERE)
    replica.apply([_remote_user("bob")])
    bob = network.find("BOB")
    assert bob is not None and bob.registered and isinstance(bob.conn, RemoteLink)
    assert (bob.prefix, bob.realname) == ("bob!~bob@there", "Bob")
    assert network.user_count == 1 and replica.remote_count == 1


async def test_a_remote_user_keeps_its_private_history_identity() -> None:
    """A remote user logged in to an account has the account's party it has on its node."""
    network = _network()
    replica = Replica(network, HERE)
    remote = Client(conn=_Owner(), host="there", ip="", nick="bob", user="~bob")  # type: ignore[arg-type]
    remote.account = "Bob"
    replica.apply([user_event(THERE, "u1", remote, "bob!0123abcd")])
    bob = network.find("bob")
    assert bob is not None and (bob.account, bob.account_party) == ("Bob", "bob!0123abcd")


async def test_remote_join_message_and_part_reach_local_members() -> None:
    """A remote user's JOIN, channel PRIVMSG and PART reach the local members of the room."""
    network = _network()
    replica = Replica(network, HERE)
    amy = _local(network, "amy")
    network.join(amy, "#room")
    _sent(amy)
    replica.apply(
        [
            _remote_user("bob"),
            join_event(THERE, "u1", "#room"),
            room_message(
                THERE,
                "u1",
                _said("hi all", "#room", "m1"),
                command="PRIVMSG",
                channel_folded="#room",
            ),
            part_event(THERE, "u1", "#room", "bye"),
        ]
    )
    assert _sent(amy) == [
        ":bob!~bob@there JOIN #room",
        ":bob!~bob@there PRIVMSG #room :hi all",
        ":bob!~bob@there PART #room :bye",
    ]


async def test_remote_lines_of_one_turn_reach_plain_and_tagged_members_alike() -> None:
    """Several remote lines in one turn reach a member without tags as their node formatted
    them, and one with ``message-tags`` and ``server-time`` with each line's own msgid and
    time; a line to the room's operators reaches only them."""
    network = _network()
    replica = Replica(network, HERE)
    amy, cat = _local(network, "amy"), _local(network, "cat")
    network.join(amy, "#room")
    replica.apply([_remote_user("bob"), join_event(THERE, "u1", "#room")])

    def said(text: str, msgid: str, status: str = "") -> bytes:
        outgoing = _said(text, status + "#room", msgid)
        return room_message(
            THERE, "u1", outgoing, command="PRIVMSG", channel_folded="#room", status=status
        )

    _sent(amy)
    replica.apply([said("one", "m1"), said("two", "m2")])
    assert _sent(amy) == [
        ":bob!~bob@there PRIVMSG #room :one",
        ":bob!~bob@there PRIVMSG #room :two",
    ]
    cat.caps |= Cap.MESSAGE_TAGS | Cap.SERVER_TIME
    network.join(cat, "#room")
    room = network.find_channel("#room")
    assert room is not None
    room.members[amy].op, room.members[cat].op = False, True  # amy made the room: op till now
    _sent(amy), _sent(cat)
    replica.apply([said("three", "m3"), said("four", "m4"), said("ops", "m5", "@")])
    assert _sent(amy) == [
        ":bob!~bob@there PRIVMSG #room :three",
        ":bob!~bob@there PRIVMSG #room :four",
    ]
    stamp = "2023-11-14T22:13:20.000Z"
    assert _sent(cat) == [
        f"@time={stamp};msgid=m3 :bob!~bob@there PRIVMSG #room :three",
        f"@time={stamp};msgid=m4 :bob!~bob@there PRIVMSG #room :four",
        f"@time={stamp};msgid=m5 :bob!~bob@there PRIVMSG @#room :ops",
    ]


async def test_a_remote_private_message_reaches_only_its_recipient() -> None:
    """PRIVMSG amy from a remote user is sent to amy alone."""
    network = _network()
    replica = Replica(network, HERE)
    amy, cat = _local(network, "amy"), _local(network, "cat")
    replica.apply(
        [
            _remote_user("bob"),
            private_message(
                THERE,
                "u1",
                _said("psst", "amy", "m2"),
                command="PRIVMSG",
                recipient_uid=replica.local_uid(amy),
            ),
        ]
    )
    assert _sent(amy) == [":bob!~bob@there PRIVMSG amy :psst"]
    assert _sent(cat) == []


async def test_no_uid_of_an_earlier_incarnation_names_a_user_of_a_later_one() -> None:
    """This node came back as epoch 7: a private line and a KILL another node addresses to
    dave, uid 1 of epoch 4, reach neither carol (its first user since) nor anyone else."""
    network = _network()
    replica = Replica(network, HERE)
    replica.incarnation("7")
    replica.apply([_remote_user("bob")])
    carol = _local(network, "carol")
    assert replica.local_uid(carol) == "7.1"
    said = _said("dave, the password is hunter2", "dave", "m1")
    replica.apply(
        [
            private_message(THERE, "u1", said, command="PRIVMSG", recipient_uid="4.1"),
            kill_event(THERE, "4.1", "Killed (bob (stale))", None),
        ]
    )
    assert _sent(carol) == [] and not carol.conn.closing


async def test_a_remote_private_line_carries_the_tags_its_recipient_asked_for() -> None:
    """A recipient with ``message-tags`` gets a remote private line with its msgid, time and
    client tags, and a TAGMSG; one without gets the plain line and no TAGMSG."""
    network = _network()
    replica = Replica(network, HERE)
    amy, cat = _local(network, "amy"), _local(network, "cat")
    cat.caps |= Cap.MESSAGE_TAGS
    replica.apply([_remote_user("bob")])
    for who in (amy, cat):
        said = Outgoing("bob!~bob@there", "PRIVMSG", who.nick, "hi", msgid="m7", when=T0,
                        client_tags={"+draft/reply": "m1"})  # fmt: skip
        tag = Outgoing("bob!~bob@there", "TAGMSG", who.nick, msgid="m8", when=T0,
                       client_tags={"+typing": "active"})  # fmt: skip
        to = replica.local_uid(who)
        replica.apply(
            [
                private_message(THERE, "u1", said, command="PRIVMSG", recipient_uid=to),
                private_message(THERE, "u1", tag, command="TAGMSG", recipient_uid=to),
            ]
        )
    assert _sent(amy) == [":bob!~bob@there PRIVMSG amy :hi"]
    stamp = "2023-11-14T22:13:20.000Z"
    assert _sent(cat) == [
        f"@time={stamp};msgid=m7;+draft/reply=m1 :bob!~bob@there PRIVMSG cat :hi",
        f"@time={stamp};msgid=m8;+typing=active :bob!~bob@there TAGMSG cat",
    ]


async def test_a_remote_private_message_follows_its_recipient_through_a_rename() -> None:
    """A private message names its recipient by uid: amy renamed while it was on its way
    gets it as sent (to the nick it was sent to), and nobody who took her old nick does."""
    network = _network()
    replica = Replica(network, HERE)
    amy = _local(network, "amy")
    uid = replica.local_uid(amy)
    replica.apply([_remote_user("bob")])
    network.rename(amy, "amelia")
    taker = _local(network, "amy")
    _sent(amy)
    said = _said("psst", "amy", "m3")
    replica.apply([private_message(THERE, "u1", said, command="PRIVMSG", recipient_uid=uid)])
    assert _sent(amy) == [":bob!~bob@there PRIVMSG amy :psst"]
    assert _sent(taker) == []


async def test_remote_nick_change_and_quit() -> None:
    """A remote rename frees the old nick here; its QUIT removes it and tells its peers."""
    network = _network()
    replica = Replica(network, HERE)
    amy = _local(network, "amy")
    network.join(amy, "#room")
    replica.apply([_remote_user("bob"), join_event(THERE, "u1", "#room")])
    _sent(amy)
    replica.apply([nick_event(THERE, "u1", "robert")])
    assert network.find("bob") is None and network.find("robert") is not None
    replica.apply([quit_event(THERE, "u1", "gone")])
    assert _sent(amy) == [":bob!~bob@there NICK :robert", ":robert!~bob@there QUIT :gone"]
    assert network.find("robert") is None and replica.remote_count == 0


class _Forgetting(_Owner):
    """A server that forgets a local user when its connection ends."""

    def __init__(self, network: Network) -> None:
        self.network = network

    def client_gone(self, client: Client, reason: str) -> None:
        self.network.remove(client, reason)


async def test_a_room_whose_local_members_all_reset_keeps_no_remote_lines() -> None:
    """When every local member of a room is reset in the turn a remote line opened its batch,
    the batch closes: the remote member's later lines are kept for nobody here, and nothing
    keeps the departed users."""
    network = _network()
    replica = Replica(network, HERE)
    owner = _Forgetting(network)
    replica.apply([_remote_user("bob"), join_event(THERE, "u1", "#room")])
    locals_ = [_local(network, nick) for nick in ("amy", "cat", "dan")]
    for client in locals_:
        assert isinstance(client.conn, Connection)
        client.conn.owner = owner
        network.join(client, "#room")
        _sent(client)

    def said(n: int) -> bytes:
        outgoing = _said(f"line {n}", "#room", f"m{n}")
        return room_message(THERE, "u1", outgoing, command="PRIVMSG", channel_folded="#room")

    replica.apply([said(0)])  # the batch opens, held by the three
    for client in locals_:
        client.conn.connection_lost(None)  # type: ignore[attr-defined]
    replica.apply([said(n) for n in range(1, 50)])
    room = network.find_channel("#room")
    assert room is not None and list(room.members) == [network.find("bob")]
    held = list(cast(dict[int, Batch], room.batches or {}).values())
    assert [line for batch in held for line in batch.lines] == []
    assert [author for batch in held for author in batch.authors] == []


async def test_a_split_quits_every_user_of_the_lost_node_with_the_netsplit_reason() -> None:
    """When a node is lost its users QUIT here with "<lost node> <this node>"."""
    network = _network()
    replica = Replica(network, HERE)
    amy = _local(network, "amy")
    network.join(amy, "#room")
    replica.apply(
        [
            _remote_user("bob", "u1"),
            _remote_user("cat", "u2"),
            join_event(THERE, "u1", "#room"),
            join_event(THERE, "u2", "#room"),
        ]
    )
    _sent(amy)
    replica.split(THERE)
    lines = _sent(amy)
    assert sorted(lines) == [
        f":bob!~bob@there QUIT :{THERE} {HERE}",
        f":cat!~cat@there QUIT :{THERE} {HERE}",
    ]
    assert network.find("bob") is None and network.user_count == 1


async def test_remote_guests_who_quit_or_split_leave_nothing_in_private_history() -> None:
    """Remote guests each get their guest party in History; once they QUIT, or their node is
    lost, History holds no entry for any of them."""
    network = _network()
    history = History(network.config.history, MemoryStore().history, network, Tasks().spawn)
    replica = Replica(network, HERE, on_user=history.adopt_guest, on_gone=history.client_gone)
    replica.apply([_remote_user(f"guest{i}", f"u{i}") for i in range(10)])
    assert history.guest_count() == 10
    assert history.guest("~token-guest3") is network.find("guest3")
    replica.apply([quit_event(THERE, f"u{i}", "bye") for i in range(5)])
    assert history.guest_count() == 5
    replica.split(THERE)
    assert history.guest_count() == 0 and network.user_count == 0


async def test_own_and_malformed_events_change_nothing() -> None:
    """This node's own events are skipped; malformed or unknown ones are logged and skipped."""
    network = _network()
    replica = Replica(network, HERE)
    own = Client(conn=_Owner(), host="h", ip="", nick="amy", user="~amy")  # type: ignore[arg-type]
    replica.apply(
        [
            user_event(HERE, "u1", own, "~mine"),
            b"not an event\n",
            f"{THERE}\0teleport\0".encode() + json.dumps(["u1"]).encode(),
            f"{THERE}\0user\0".encode() + json.dumps([]).encode(),
            f"{THERE}\0msg\0m1\0u1\0PRIVMSG".encode(),
            join_event(THERE, "nobody", "#room"),
        ]
    )
    assert network.clients == {} and network.find_channel("#room") is None


async def test_a_remote_channel_change_sets_the_state_and_tells_local_members() -> None:
    """A ``chan`` event sets modes, topic and statuses here and sends its MODE line once."""
    network = _network()
    replica = Replica(network, HERE)
    amy = _local(network, "amy")
    replica.apply([_remote_user("bob"), join_event(THERE, "u1", "#room")])
    network.join(amy, "#room")
    channel = network.find_channel("#room")
    assert channel is not None
    _sent(amy)
    replica.local_uid(amy)  # a local user has one from its nick claim on
    channel.modes.add("m")
    channel.members[amy].voice = True
    state = channel_state(channel, replica.key_of)
    channel.modes.discard("m")
    channel.members[amy].voice = False
    replica.apply(
        [chan_event(THERE, "u1", state, prefix="", command="MODE", params=("+mv", "amy"))]
    )
    assert "m" in channel.modes and channel.members[amy].voice
    assert _sent(amy) == [":bob!~bob@there MODE #room +mv amy"]


async def test_own_channel_change_coming_back_last_wins_over_an_earlier_remote_one() -> None:
    """This node set +m (its event on its way); n2's -m, ordered before it by Redis, arrives
    first and is applied; when +m comes back it is the room's state again, as on n2."""
    network = _network()
    replica = Replica(network, HERE)
    replica.apply([_remote_user("bob"), join_event(THERE, "u1", "#room")])
    channel = network.find_channel("#room")
    assert channel is not None
    channel.modes.add("m")
    mine = channel_state(channel, replica.key_of)
    replica.changing(channel.name_folded)
    channel.modes.discard("m")
    theirs = channel_state(channel, replica.key_of)
    channel.modes.add("m")
    replica.apply([chan_event(THERE, "u1", theirs, prefix="", command="MODE", params=("-m",))])
    assert "m" not in channel.modes
    replica.apply([chan_event(HERE, "1", mine, prefix="", command="MODE", params=("+m",))])
    assert "m" in channel.modes


async def test_a_remote_status_change_reaches_followers_with_the_capability() -> None:
    """A ``status`` event sets bob's away message; amy (away-notify) hears, cat does not."""
    network = _network()
    replica = Replica(network, HERE)
    amy, cat = _local(network, "amy"), _local(network, "cat")
    amy.caps |= Cap.AWAY_NOTIFY
    for local in (amy, cat):
        network.join(local, "#room")
    replica.apply([_remote_user("bob"), join_event(THERE, "u1", "#room")])
    _sent(amy), _sent(cat)
    bob = network.find("bob")
    assert bob is not None
    bob.away = "lunch"
    event = status_event(THERE, "u1", bob, "AWAY", ("lunch",))
    bob.away = None
    replica.apply([event])
    assert bob.away == "lunch"
    assert _sent(amy) == [":bob!~bob@there AWAY :lunch"] and _sent(cat) == []


async def test_a_remote_kick_of_a_local_user_takes_it_out() -> None:
    """A ``kick`` event from bob's node takes amy (here) out of the room, as a KICK."""
    network = _network()
    replica = Replica(network, HERE)
    amy = _local(network, "amy")
    replica.apply([_remote_user("bob"), join_event(THERE, "u1", "#room")])
    network.join(amy, "#room")
    _sent(amy)
    uid = replica.local_uid(amy)
    replica.apply([kick_event(THERE, "u1", "#room", (HERE, uid), "out")])
    assert _sent(amy) == [":bob!~bob@there KICK #room amy :out"]
    assert "#room" not in amy.channels


async def test_a_late_node_takes_the_snapshot_then_the_others_later_events() -> None:
    """Waiting for n2's snapshot: n2's earlier events are dropped (the snapshot has them), and
    its answer to an earlier try; a third node's are held and applied after it, in order."""
    source = _network()
    source_replica = Replica(source, THERE)
    amy = _local(source, "amy")
    source.join(amy, "#room")
    source_replica.local_uid(amy)
    snapshot = encode_network(source, source_replica.key_of, lambda client: "~p")
    network = _network()
    replica = Replica(network, HERE)
    synced = replica.await_snapshot(THERE, "7")
    replica.apply(
        [
            join_event(THERE, "1", "#early"),  # in the snapshot already: dropped
            user_event("n3.test", "u9", _remote_client("cat"), "~cat"),
            snapshot_event(THERE, {"users": [], "channels": []}, "6"),  # an earlier try's
            join_event("n3.test", "u9", "#room"),
        ]
    )
    assert not synced.done()
    replica.apply([snapshot_event(THERE, snapshot, "7")])
    assert synced.done()
    assert sorted(c.nick for c in network.find_channel("#room").members) == ["amy", "cat"]  # type: ignore[union-attr]
    assert network.find_channel("#early") is None
    room = network.find_channel("#room")
    assert room is not None and room.is_op(network.find("amy"))  # type: ignore[arg-type]


def _remote_client(nick: str) -> Client:
    return Client(conn=_Owner(), host="there", ip="", nick=nick, user="~" + nick)  # type: ignore[arg-type]


async def test_a_snapshot_carries_the_server_bans() -> None:
    """A ban set on the network just before this node joined reaches it with the snapshot."""
    network = _network()
    bans = ServerBans(network)
    replica = Replica(network, HERE, bans=bans)
    ban = ServerBan(BanKind.MASK, "*!*@spam.example", "spam", "root", T0, None)
    state = {"users": [], "channels": [], "bans": [ban_fields(ban)], "registrations": []}
    synced = replica.await_snapshot(THERE, "3")
    replica.apply([snapshot_event(THERE, state, "3")])
    assert synced.done() and bans[BanKind.MASK, "*!*@spam.example"] == ban


async def test_a_rename_asked_by_another_node_renames_the_local_user_once() -> None:
    """n2's services ask this node to rename its user amy (REGAIN): she is renamed and told;
    n2's NICK event for a user already renamed here changes nothing more."""
    network = _network()
    replica = Replica(network, HERE)
    amy = _local(network, "amy")
    uid = replica.local_uid(amy)
    replica.apply([rename_event(THERE, uid, "Guest12345")])
    assert amy.nick == "Guest12345" and _sent(amy) == [f":amy!~amy@{amy.host} NICK :Guest12345"]
    replica.apply([_remote_user("bob"), nick_event(THERE, "u1", "bob")])
    bob = network.find("bob")
    assert bob is not None and bob.nick == "bob"


async def test_a_local_creator_who_joins_after_a_local_member_is_announced_as_operator() -> None:
    """Two users of this node create one room at once and the non-creator's JOIN is made
    first (its claim's answer came back first): the creator joins as operator, and the member
    who came first gets the server MODE +o, as for a remote creator."""
    network = _network()
    amy, cid = _local(network, "amy"), _local(network, "cid")
    room = network.join(amy, "#room", "#room!abc", op=False)
    network.join(cid, "#room", "#room!abc", op=True)
    assert room.is_op(cid) and not room.is_op(amy)
    assert _sent(amy)[-2:] == [f":{cid.prefix} JOIN #room", f":{HERE} MODE #room +o cid"]


async def test_a_remote_creator_is_operator_and_local_members_who_came_first_are_told() -> None:
    """A remote JOIN that says its user created the room makes it the operator, though amy
    joined first here (her JOIN crossed its own), and amy gets a server MODE +o for it; one
    that does not say so never makes an operator, even of a room it creates here."""
    network = _network()
    replica = Replica(network, HERE)
    amy = _local(network, "amy")
    room = network.join(amy, "#room", op=False)
    _sent(amy)
    replica.apply(
        [
            _remote_user("bob"),
            join_event(THERE, "u1", "#room", "#room!abc", op=True),
            _remote_user("cat", "u2"),
            join_event(THERE, "u2", "#new", "#new!def"),
        ]
    )
    bob = network.find("bob")
    assert bob is not None and room.is_op(bob) and not room.is_op(amy)
    assert _sent(amy) == [":bob!~bob@there JOIN #room", f":{HERE} MODE #room +o bob"]
    new = network.find_channel("#new")
    cat = network.find("cat")
    assert new is not None and cat is not None and not new.is_op(cat)
    assert new.identity == "#new!def"


def _room_line(uid: str, text: str, msgid: str, *, status: str = "", tagmsg: bool = False) -> bytes:
    """A line of user ``uid`` of the other node (nick ``uid``) to #room, as its node sends it."""
    command = "TAGMSG" if tagmsg else "PRIVMSG"
    target = status + "#room"
    params = (target,) if tagmsg else (target, text)
    outgoing = Outgoing(f"{uid}!~{uid}@there", command, *params, msgid=msgid, when=T0)
    return room_message(
        THERE, uid, outgoing, command=command, channel_folded="#room", status=status
    )


async def _room_with(replica: Replica, network: Network, speakers: list[str]) -> list[Client]:
    """#room with amy (no tags), cat (message-tags, server-time, operator) and the remote
    ``speakers``; their output so far forgotten."""
    amy, cat = _local(network, "amy"), _local(network, "cat")
    cat.caps |= Cap.MESSAGE_TAGS | Cap.SERVER_TIME
    network.join(cat, "#room")
    network.join(amy, "#room")
    for uid in speakers:
        replica.apply([_remote_user(uid, uid), join_event(THERE, uid, "#room")])
    _sent(amy), _sent(cat)
    return [amy, cat]


async def test_rows_of_remote_lines_reach_every_member_in_the_entry_s_order() -> None:
    """Lines of two remote speakers in rows, a line to the operators and a TAGMSG among them
    (one inbox entry) reach a member without tags and one with tags in the entry's order, the
    operators' line only the operator, the TAGMSG only the member with message-tags."""
    network = _network()
    replica = Replica(network, HERE)
    amy, cat = await _room_with(replica, network, ["bob", "dan"])
    said = [("bob", "b1"), ("bob", "b2"), ("dan", "d1"), ("dan", "d2"), ("bob", "b3")]
    entry = [_room_line(uid, text, "m-" + text) for uid, text in said]
    entry.insert(3, _room_line("dan", "ops", "m-ops", status="@"))
    entry.insert(5, _room_line("bob", "", "m-tag", tagmsg=True))
    replica.apply(entry)
    assert _sent(amy) == [f":{uid}!~{uid}@there PRIVMSG #room :{text}" for uid, text in said]
    stamp = "2023-11-14T22:13:20.000Z"
    tagged = [
        f"@time={stamp};msgid=m-{text} :{uid}!~{uid}@there PRIVMSG #room :{text}"
        for uid, text in said
    ]
    tagged.insert(3, f"@time={stamp};msgid=m-ops :dan!~dan@there PRIVMSG @#room :ops")
    tagged.insert(5, f"@time={stamp};msgid=m-tag :bob!~bob@there TAGMSG #room")
    assert _sent(cat) == tagged


async def test_a_remote_line_from_an_unknown_user_is_dropped_and_the_row_after_it_arrives() -> None:
    """A row of lines from a user this node does not know is dropped (logged); the next
    speaker's row still arrives."""
    network = _network()
    replica = Replica(network, HERE)
    amy, _ = await _room_with(replica, network, ["bob"])
    replica.apply(
        [
            _room_line("ghost", "boo", "m1"),
            _room_line("ghost", "boo", "m2"),
            _room_line("bob", "hi", "m3"),
            _room_line("bob", "there", "m4"),
        ]
    )
    assert _sent(amy) == [
        ":bob!~bob@there PRIVMSG #room :hi",
        ":bob!~bob@there PRIVMSG #room :there",
    ]


_LINES = st.lists(
    st.tuples(
        st.sampled_from(["bob", "dan", "eve"]),
        st.sampled_from(["", "", "", "@", "+"]),
        st.booleans(),  # a TAGMSG
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(lines=_LINES, cuts=st.sets(st.integers(0, 30)))
def test_an_entry_applied_at_once_gives_what_its_events_one_by_one_give(
    lines: list[tuple[str, str, bool]], cuts: set[int]
) -> None:
    """However the room's lines fall into rows and calls (one inbox entry, or several), every
    member gets the same bytes as when each event is applied on its own."""

    async def deliver(calls: list[list[bytes]]) -> list[bytes]:
        network = _network()
        replica = Replica(network, HERE)
        members = await _room_with(replica, network, ["bob", "dan", "eve"])
        for call in calls:
            replica.apply(call)
        return [b"\n".join(line.encode() for line in _sent(member)) for member in members]

    events = [
        _room_line(uid, f"line {i}", f"m{i}", status=status, tagmsg=tagmsg and status == "")
        for i, (uid, status, tagmsg) in enumerate(lines)
    ]
    bounds = [0, *sorted(cut for cut in cuts if cut < len(events)), len(events)]
    calls = [events[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    one_by_one = asyncio.run(deliver([[event] for event in events]))
    assert asyncio.run(deliver(calls)) == one_by_one


async def test_a_malformed_line_in_a_row_is_skipped_and_the_rest_of_the_row_arrives() -> None:
    """A line whose time is not a number, in the middle of a row to a room where a member
    wants tags, is logged and skipped; the row's other lines reach every member."""
    network = _network()
    replica = Replica(network, HERE)
    amy, cat = await _room_with(replica, network, ["bob"])
    bad = _room_line("bob", "two", "m2").split(b"\0")
    bad[7] = b"not a time"  # node, kind, msgid, uid, command, target, status, time, ...
    replica.apply(
        [_room_line("bob", "one", "m1"), b"\0".join(bad), _room_line("bob", "three", "m3")]
    )
    assert [line.rsplit(" :", 1)[1] for line in _sent(amy)] == ["one", "three"]
    assert [line.rsplit(" :", 1)[1] for line in _sent(cat)] == ["one", "three"]
