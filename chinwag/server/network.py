"""The network: the single in-memory truth of who is connected, under which nick, and where.

Every change of membership goes through a method here (register a nick, rename, join, part,
kick, quit) and that method both changes the state and tells everyone who must know, using one
`Outgoing` per event so that the line is formatted once. Handlers never edit the dictionaries
themselves. Nothing here awaits: each method runs to completion inside one event-loop turn, which
is what keeps the state consistent without locks.
"""

from __future__ import annotations

import collections
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from chinwag.protocol import MAX_BODY_BYTES, fold
from chinwag.protocol.numerics import RPL_KNOCK
from chinwag.server.cloak import SECRET_BYTES, Cloaker
from chinwag.server.config import Config
from chinwag.server.fanout import (
    TAG_CAPS,
    Outgoing,
    announce_arrival,
    send_to_all,
    send_to_channel,
)
from chinwag.server.monitors import Monitors
from chinwag.server.observer import NetworkObserver
from chinwag.server.replies import PackedNames, numeric_line, pack_words, server_line
from chinwag.server.state import Cap, Channel, Client, Membership, RegState

__all__ = ["Network", "NetworkObserver", "WhowasEntry"]


@dataclass(frozen=True, slots=True)
class WhowasEntry:
    """What WHOWAS remembers about a nick that left."""

    nick: str
    user: str
    host: str
    realname: str
    when: float


STATUS_NOTICES = {
    "AWAY": (Cap.AWAY_NOTIFY, False, True),
    "SETNAME": (Cap.SETNAME, True, True),
    "ACCOUNT": (Cap.ACCOUNT_NOTIFY, True, False),
    "CHGHOST": (Cap.CHGHOST, True, True),
}
"""How each change of a user's status is told (`Network.tell_status`): the capability a
follower needs, whether the user gets it too, and whether ``extended-monitor`` watchers count."""

_JOIN_VARIANT = TAG_CAPS | Cap.EXTENDED_JOIN
"""The capabilities that decide which bytes a member gets of someone's JOIN."""


class Network:
    """Registries of clients and channels plus the operations that change them.

    Args:
        config: the server configuration.
        clock: wall-clock seconds (``time.time``); injectable for tests.
    """

    def __init__(self, config: Config, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.name = config.server.name
        self.clock = clock
        self.created = clock()
        self.connections: set[Client] = set()
        self.clients: dict[str, Client] = {}
        self.channels: dict[str, Channel] = {}
        self.per_ip: collections.Counter[str] = collections.Counter()
        self.whowas: collections.deque[WhowasEntry] = collections.deque(
            maxlen=max(1, config.limits.whowas_length)
        )
        self.max_seen = 0
        self.monitors = Monitors(self.name)
        self.observer: NetworkObserver | None = None
        # The host others see of each connection (``[privacy]``): app.py gives it the secret
        # kept in the data directory; this one, random, serves a network without one.
        self.cloaks = Cloaker(config.privacy, secrets.token_bytes(SECRET_BYTES))
        # Kept up to date as users come, go and change modes, so LUSERS costs nothing.
        self.user_count = 0
        self.mode_counts: collections.Counter[str] = collections.Counter()
        for name in config.server.default_channels:
            channel = Channel(name, permanent=True)
            self.channels[channel.name_folded] = channel

    # -- replies -------------------------------------------------------------------------------

    def numeric(self, client: Client, numeric: str, *params: str) -> None:
        """Send a numeric reply, with the client's nick as first parameter."""
        client.send(numeric_line(self.name, client.nick, numeric, *params))

    def notice(self, client: Client, text: str) -> None:
        """Send a server NOTICE to one client."""
        self.send_from_server(client, "NOTICE", client.nick, text)

    def send_from_server(self, client: Client, command: str, *params: str) -> None:
        """Send a non-numeric line from the server (``CAP``, ``PONG``, ``ERROR``...)."""
        client.send(server_line(self.name, command, *params))

    # -- connections and nicks -----------------------------------------------------------------

    def add_connection(self, client: Client) -> None:
        """Count a new connection (before it registers); with ``[privacy] cloak_hosts`` its host
        becomes the cloak others see."""
        if self.config.privacy.cloak_hosts:
            client.host = self.cloaks.host_for(client.ip)
        self.connections.add(client)
        self.per_ip[client.ip] += 1

    def find(self, nick: str) -> Client | None:
        """The registered client using ``nick`` (any case), or None."""
        client = self.clients.get(fold(nick))
        return client if client is not None and client.registered else None

    def find_channel(self, name: str) -> Channel | None:
        """The channel called ``name`` (any case), or None."""
        return self.channels.get(fold(name))

    def nick_in_use(self, nick: str, asking: Client) -> bool:
        """True when ``nick`` belongs to a client other than ``asking``."""
        owner = self.clients.get(fold(nick))
        return owner is not None and owner is not asking

    def claim_nick(self, client: Client, nick: str) -> None:
        """Give an unregistered client its first nick (no one is told)."""
        if client.nick != "*" and self.clients.get(client.nick_folded) is client:
            del self.clients[client.nick_folded]
        client.nick = nick
        self.clients[client.nick_folded] = client

    def release_nick(self, client: Client) -> None:
        """Take an unregistered client's nick back (it was refused elsewhere): ``*`` again."""
        if self.clients.get(client.nick_folded) is client:
            del self.clients[client.nick_folded]
        client.nick = "*"

    def mark_registered(self, client: Client) -> None:
        """Record that ``client`` finished registration."""
        client.state = RegState.REGISTERED
        self.user_count += 1
        self.max_seen = max(self.max_seen, self.user_count)
        self.monitors.online(client)
        if self.observer is not None:
            self.observer.registered(client)

    def set_user_mode(self, client: Client, mode: str, enabled: bool) -> bool:
        """Turn user mode ``mode`` on or off; True when that changed anything."""
        if (mode in client.modes) == enabled:
            return False
        if enabled:
            client.modes.add(mode)
            self.mode_counts[mode] += 1
        else:
            client.modes.discard(mode)
            self.mode_counts[mode] -= 1
        if self.observer is not None:
            self.observer.status_changed(client, "MODE", ())
        return True

    def peers(self, client: Client) -> set[Client]:
        """Everyone who shares at least one channel with ``client`` (``client`` excluded), but
        the rooms where it is a silent member of a delayed-join room."""
        peers: set[Client] = set()
        for channel in client.channels.values():
            if client in channel.hidden:
                continue  # nobody there knows it is there
            peers.update(channel.members)
        peers.discard(client)
        return peers

    def observers(self, client: Client) -> set[Client]:
        """Who follows ``client``'s status (AWAY, ACCOUNT, SETNAME): its peers, and those who
        MONITOR it with ``extended-monitor``."""
        observers = self.peers(client)
        observers.update(self.monitors.extended_watchers(client))
        return observers

    def rename(self, client: Client, new_nick: str) -> None:
        """Change a registered client's nick and tell the client and everyone who shares a room."""
        outgoing = Outgoing(
            client.prefix, "NICK", new_nick, when=self.clock(), account=client.account
        )
        self.whowas.append(self._whowas_entry(client))
        peers = self.peers(client)
        old_nick, old_folded = client.nick, client.nick_folded
        del self.clients[old_folded]
        client.nick = new_nick
        self.clients[client.nick_folded] = client
        for channel in client.channels.values():
            channel.names_changed()
        client.send(outgoing.line_for(client))  # at once: replies from now on use the new nick
        self._emit(peers, outgoing)
        if client.nick_folded != old_folded:
            self.monitors.offline(old_nick)
            self.monitors.online(client)
        if self.observer is not None:
            self.observer.renamed(client, old_nick)

    def _whowas_entry(self, client: Client) -> WhowasEntry:
        return WhowasEntry(client.nick, client.user, client.host, client.realname, self.clock())

    def remove(self, client: Client, reason: str) -> None:
        """Forget a client that is going away; tell its peers ``QUIT :reason`` once each.

        Safe to call more than once, and for clients that never registered.
        """
        if client not in self.connections:
            return
        self.connections.discard(client)
        self.per_ip[client.ip] -= 1
        if self.per_ip[client.ip] <= 0:
            del self.per_ip[client.ip]
        if self.clients.get(client.nick_folded) is client:
            del self.clients[client.nick_folded]
        self.monitors.clear(client)
        if self.observer is not None:
            self.observer.quitting(client, reason)
        if client.registered:
            self.user_count -= 1
            for mode in client.modes:
                self.mode_counts[mode] -= 1
            self.whowas.append(self._whowas_entry(client))
            self._tell_quit(client, reason)
            self.monitors.offline(client.nick)
        for channel in list(client.channels.values()):
            self._leave(client, channel)
        client.state = RegState.CLOSED

    def _tell_quit(self, client: Client, reason: str) -> None:
        """Send ``client``'s QUIT to its peers, once each (formatted only if somebody sees it:
        not for a silent member of delayed-join rooms, most of a big room that drops at once).

        A connection that is gone holds no output (`Link.closing`), so its QUIT goes through
        the open batch of its biggest room, as a channel message does: one append per tag
        variant whatever the room's size, and every departure of the same turn adds to the
        same batch (`_leave` leaves it open). Queued to each member instead, a whole room
        dropping at once cost members x visible departures: 10,000 members of a delayed-join
        room, 500 of them visible, were 5 million appends and 1.5 s in one turn
        (``python -m bench.turns --scenario "mass disconnect 10k"``). The members of its other
        rooms who are not in that one get it one by one.
        """
        rooms = [channel for channel in client.channels.values() if client not in channel.hidden]
        if not rooms:
            return
        quit_line = Outgoing(
            client.prefix, "QUIT", reason, when=self.clock(), account=client.account
        )
        if not client.conn.closing:  # its output may still be written: one by one, as ever
            self._emit(self.peers(client), quit_line)
            return
        biggest = max(rooms, key=lambda channel: len(channel.members))
        send_to_channel(biggest, quit_line, client)
        if len(rooms) > 1:
            inside = biggest.members
            others = {
                member
                for channel in rooms
                if channel is not biggest
                for member in channel.members
                if member not in inside and member is not client
            }
            self._emit(others, quit_line)

    # -- channels ------------------------------------------------------------------------------

    def set_default_channels(self, names: Iterable[str], *, keep: Iterable[str] = ()) -> None:
        """Make ``names`` the permanent common rooms (after a reload of the configuration).

        A room that is no longer a default one stops being permanent, unless its folded name is
        in ``keep`` (registered channels); it goes away when its last member leaves.
        """
        wanted = {fold(name): name for name in names}
        kept = set(keep)
        for name_folded, channel in list(self.channels.items()):
            if channel.permanent and name_folded not in wanted and name_folded not in kept:
                self.release_channel(channel)
        for name in wanted.values():
            self.keep_channel(name, self.clock())

    def join(
        self, client: Client, name: str, identity: str = "", *, op: bool | None = None
    ) -> Channel:
        """Put ``client`` in channel ``name`` (creating it) and tell every member, joiner included.

        The checks (key, bans, limits) are the caller's; this only does the join. ``identity``
        is the key of the channel's history when it is created (a new one when empty): another
        node of the network gives the one it drew. ``op``: ``client`` is the operator (by
        default: it created the channel; on a network Redis says, `claim_channel`).
        """
        name_folded = fold(name)
        channel = self.channels.get(name_folded)
        creating = channel is None
        # Made operator of a room with members already (on a network, its creator's JOIN
        # came after theirs): they are told as after a netjoin, with a server MODE +o.
        crowned = bool(op) and channel is not None and bool(channel.members)
        if channel is None:
            channel = Channel(name, created=self.clock(), identity=identity)
            self.channels[name_folded] = channel
        if client in channel.members:  # joined again (a replayed event): listed anew
            channel.names_changed()
        op = creating and not channel.permanent if op is None else op
        channel.members[client] = Membership(op=op)
        # The newcomer holds none of this turn's batches of messages: they close. The
        # arrivals' batches stay open: it is late for them (see fanout.py).
        if channel.batches is not None:
            channel.close_batches(arrivals=False)
        client.channels[name_folded] = channel
        client.invites.discard(channel)
        when = self.clock()
        large = self.config.limits.large_channel
        if large and len(channel.members) > large and "D" not in channel.modes:
            channel.modes.add("D")  # from now on arrivals wait until they speak
            mode = Outgoing(self.name, "MODE", channel.name, "+D", when=when)
            send_to_all((m for m in channel.members if m is not client), mode)
        if "D" in channel.modes and not creating:
            channel.hidden.add(client)  # not listed: NAMES stays as it was
            if channel.arrivals is not None:
                channel.late.append(client)
            joined = Outgoing(
                client.prefix, "JOIN", channel.name, when=when, account=client.account
            )
            client.conn.enqueue(self._join_line(client, channel, joined, client))
            return channel
        membership = channel.members[client]
        for multi, entries in channel.names.items():  # NAMES grows by one, not rebuilt
            entries.append(membership.prefixes(multi) + client.nick)
        plain = Outgoing(client.prefix, "JOIN", channel.name, when=when, account=client.account)
        lines: dict[int, bytes] = {}  # one line per variant, made once

        def line_for(key: int) -> bytes:
            line = lines.get(key)
            if line is None:
                line = lines[key] = self._join_variant(client, channel, plain, key)
            return line

        client.conn.enqueue(line_for(client.caps & _JOIN_VARIANT))
        # Others may learn of an arrival a few ms late: one write for many arrivals, and one
        # append per arrival for all the members who were there before them (fanout.py).
        announce_arrival(channel, client, line_for, _JOIN_VARIANT)
        if client.away is not None:
            away = Outgoing(client.prefix, "AWAY", client.away, when=when, account=client.account)
            send_to_all(
                (m for m in channel.members if m is not client and m.caps & Cap.AWAY_NOTIFY), away
            )
        if crowned:  # (every node tells its own members: not a change to send on)
            mode = Outgoing(self.name, "MODE", channel.name, "+o", client.nick, when=when)
            send_to_all((m for m in channel.members if m is not client), mode)
        if self.observer is not None:
            self.observer.joined(client, channel)
        return channel

    def _join_line(self, client: Client, channel: Channel, plain: Outgoing, to: Client) -> bytes:
        """``client``'s JOIN of ``channel`` as ``to`` gets it (``extended-join`` or plain)."""
        return self._join_variant(client, channel, plain, to.caps & _JOIN_VARIANT)

    def _join_variant(self, client: Client, channel: Channel, plain: Outgoing, key: int) -> bytes:
        """``client``'s JOIN of ``channel`` for the members whose ``caps & _JOIN_VARIANT`` is
        ``key``."""
        if key & Cap.EXTENDED_JOIN:
            return self._extended_join(client, channel, plain.time).variant(key & TAG_CAPS)
        return plain.variant(key & TAG_CAPS)

    @staticmethod
    def _extended_join(client: Client, channel: Channel, when: float) -> Outgoing:
        """``client``'s JOIN of ``channel`` as ``extended-join`` has it: account and real name."""
        return Outgoing(
            client.prefix,
            "JOIN",
            channel.name,
            client.account or "*",
            client.realname,
            when=when,
            account=client.account,
        )

    def reveal(self, client: Client, channel: Channel) -> None:
        """Show the others that ``client``, silent so far in a delayed-join room, is here:
        its JOIN, now (before whatever it is about to do there)."""
        if client not in channel.hidden:
            return
        channel.hidden.discard(client)
        channel.close_batches()
        channel.names_changed()
        plain = Outgoing(
            client.prefix, "JOIN", channel.name, when=self.clock(), account=client.account
        )
        for member in channel.members:
            if member is not client:
                member.conn.enqueue(self._join_line(client, channel, plain, member))

    def reveal_all(self, channel: Channel) -> None:
        """Show every silent member of ``channel`` (delayed join turned off)."""
        for client in list(channel.hidden):
            self.reveal(client, channel)

    def part(self, client: Client, channel: Channel, reason: str | None) -> None:
        """Take ``client`` out of ``channel``, telling every member (the leaver too); a silent
        member of a delayed-join room leaves silently (only it gets its PART)."""
        params = (channel.name, reason) if reason else (channel.name,)
        outgoing = Outgoing(
            client.prefix, "PART", *params, when=self.clock(), account=client.account
        )
        # A silent member of a delayed-join room leaves silently: only it gets its PART.
        self._emit([client] if client in channel.hidden else channel.members, outgoing)
        self._leave(client, channel)
        if self.observer is not None:
            self.observer.parted(client, channel, reason)

    def kick(self, kicker: Client | None, channel: Channel, target: Client, reason: str) -> None:
        """Remove ``target`` from ``channel`` on ``kicker``'s word (None: the server's), telling
        every member."""
        if kicker is not None:
            self.reveal(kicker, channel)  # nobody is kicked by, or from, an unknown member
        self.reveal(target, channel)
        outgoing = Outgoing(
            kicker.prefix if kicker is not None else self.name,
            "KICK",
            channel.name,
            target.nick,
            reason,
            when=self.clock(),
            account=kicker.account if kicker is not None else None,
        )
        self._emit(channel.members, outgoing)
        self._leave(target, channel)
        if self.observer is not None:
            self.observer.kicked(kicker, channel, target, reason)

    def invite(self, client: Client, target: Client, channel: Channel) -> None:
        """Let ``target`` into ``channel`` past ``+i`` and bans once; tell it, and the operators
        of the channel who asked for ``invite-notify``."""
        target.invites.add(channel)
        invite = Outgoing(
            client.prefix,
            "INVITE",
            target.nick,
            channel.name,
            when=self.clock(),
            account=client.account,
        )
        target.send(invite.line_for(target))
        notify = [
            m
            for m in channel.members
            if m is not client and m.caps & Cap.INVITE_NOTIFY and channel.is_op(m)
        ]
        send_to_all(notify, invite)
        if self.observer is not None:
            self.observer.invited(client, target, channel)

    def knock(self, client: Client, channel: Channel, text: str) -> None:
        """Tell the operators of ``channel`` that ``client`` asks for an invitation (KNOCK)."""
        for member, membership in channel.members.items():
            if membership.op:
                self.numeric(member, RPL_KNOCK, channel.name, client.prefix, text)
        if self.observer is not None:
            self.observer.knocked(client, channel, text)

    def tell_status(
        self, client: Client, command: str, *params: str, source: str | None = None
    ) -> None:
        """Tell who follows ``client`` that its status changed (already changed by the caller):
        AWAY, SETNAME, ACCOUNT or CHGHOST (from ``source``, the prefix before the change),
        each to those with its capability (`STATUS_NOTICES`)."""
        cap, to_self, monitors = STATUS_NOTICES[command]
        outgoing = Outgoing(
            source or client.prefix, command, *params, when=self.clock(), account=client.account
        )
        followers = self.observers(client) if monitors else self.peers(client)
        if to_self:
            followers.add(client)
        send_to_all((f for f in followers if f.caps & cap), outgoing)
        if self.observer is not None:
            self.observer.status_changed(client, command, params)

    def tell_channel(
        self,
        source: Client | None,
        channel: Channel,
        command: str,
        *params: str,
        prefix: str | None = None,
    ) -> None:
        """Tell every member of ``channel`` that its modes or topic changed (already changed by
        the caller), as ``source`` did; None: the server, or a service named by ``prefix``."""
        if prefix is None:
            prefix = source.prefix if source is not None else self.name
        outgoing = Outgoing(
            prefix,
            command,
            channel.name,
            *params,
            when=self.clock(),
            account=source.account if source is not None else None,
        )
        send_to_all(channel.members, outgoing)
        if self.observer is not None:
            self.observer.channel_changed(source, channel, prefix, command, params)

    def _emit(self, recipients: Iterable[Client], outgoing: Outgoing) -> None:
        """Send a departure or rename to ``recipients``."""
        send_to_all(recipients, outgoing)

    def _leave(self, client: Client, channel: Channel) -> None:
        channel.members.pop(client, None)
        channel.hidden.discard(client)
        channel.names_changed()
        if not client.conn.closing:  # it holds this turn's batches: they must not grow now
            channel.close_batches()
        client.channels.pop(channel.name_folded, None)
        if not channel.members and not channel.permanent:
            self.channels.pop(channel.name_folded, None)

    def keep_channel(self, name: str, created: float) -> Channel:
        """Channel ``name`` made permanent (a registered channel), created if it does not exist."""
        channel = self.channels.get(fold(name))
        if channel is None:
            channel = Channel(name, created=created)
            self.channels[channel.name_folded] = channel
        channel.permanent = True
        return channel

    def release_channel(self, channel: Channel) -> None:
        """Let a permanent channel end like any other: at once when nobody is in it."""
        channel.permanent = False
        if not channel.members:
            self.channels.pop(channel.name_folded, None)

    def names_lines(self, client: Client, channel: Channel) -> list[bytes]:
        """The member list as NAMES entries packed into lines that fit 512 bytes."""
        multi = client.has(Cap.MULTI_PREFIX)
        full = client.has(Cap.USERHOST_IN_NAMES)
        # What ":server 353 nick = #channel :" and CR LF leave, in bytes: the server name and
        # the channel name (CHANNELLEN counts characters, not bytes) can both be long.
        overhead = len(f":{self.name} 353 {client.nick} = {channel.name} :\r\n".encode())
        limit = MAX_BODY_BYTES - overhead - 1
        members = channel.members
        inside = client in members  # a member sees the invisible too
        hidden = channel.hidden  # silent members of a delayed-join room: not listed
        if inside and not full:
            # What every member sees, kept by the channel and packed as it grows: a joiner of
            # a big room would build it entry by entry otherwise (a join storm: members x
            # arrivals of them).
            entries = channel.names.get(multi)
            if entries is None:
                entries = channel.names[multi] = [
                    membership.prefixes(multi) + member.nick
                    for member, membership in members.items()
                    if member not in hidden
                ]
            packed = channel.packed_names.get((multi, limit))
            if packed is None or packed.entries is not entries:  # none yet, or rebuilt since
                packed = channel.packed_names[multi, limit] = PackedNames(entries, limit)
            if client in hidden:  # a silent member sees itself
                return packed.lines(members[client].prefixes(multi) + client.nick)
            return packed.lines()
        entries = [
            membership.prefixes(multi) + (member.prefix if full else member.nick)
            for member, membership in members.items()
            if (inside or "i" not in member.modes or member is client)
            and (member is client or member not in hidden)
        ]
        return [line.encode("utf-8") for line in pack_words(entries, limit)]

    def visible_channels(self, viewer: Client, target: Client) -> list[Channel]:
        """The channels of ``target`` that ``viewer`` may see (secret ones only if shared)."""
        return [channel for channel in target.channels.values() if channel.visible_to(viewer)]
