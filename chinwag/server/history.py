"""The glue between the server and the history store: what is kept, who may read it, and when
a message is delivered.

Theory of operation
-------------------
Durable delivery. With ``[history] durable_delivery`` (the default) a stored message is handed
to the store first and delivered to its recipients only from the store's commit callback
(``HistoryStore.append(entry, then)``). So nothing any client saw can be missing from history
after a SIGKILL: the process can die with messages in the writer's queue, but nobody has seen
those. The price is one group commit per message (the writer shares it among every message that
arrived meanwhile) and one thread hop. The hot path stays one `HistoryEntry`, one ``append`` and
the usual fan-out, run later from the callback. Recipients are looked up when the callback runs:
somebody who left the channel before the commit does not get it, somebody who joined does.
Events that are not stored but must stay in order with stored messages (TAGMSG, ``@#chan``
messages to ops only) go through `History.in_order`, which the store runs in the same stream
of callbacks. The sender's echo (``echo-message``) is sent from the callback too, so it is
subject to the same guarantee; for a labeled command it is the labeled reply
(``labels.LateReply``), sent after the commit. Without durable delivery a message is delivered
first and stored after: a crash may lose the messages of the one group being committed.
The messages waiting for their commit are bounded: past `History.max_inflight` the connections
that send more stop being read until half of them are out, so an overload backs up into the
senders' TCP buffers instead of into latency and memory here.

Private conversations. A party of a private conversation is the folded account name when the
user is logged in, else a random token made for that one connection (``~`` and hex; no account
name can start with ``~``). Keying guests by nick would let whoever takes a nick later read the
conversations of its previous holder; a per-connection token means a guest's private history
is readable by that connection only, and is simply not found again after a reconnect. A user
who logs in mid-connection gets the account's conversations from then on. Every query for
private history is "between me and X", so no query can reach someone else's conversation.

Join replay. A user joining a channel gets its last ``replay_on_join`` lines after the NAMES
reply (read off the loop, so live messages may arrive before the replay): inside a
``chathistory`` batch with ``server-time`` tags for clients that have ``batch`` and
``server-time``, else as plain lines whose text starts with ``[HH:MM]`` (UTC). Clients with
``draft/chathistory`` ask for history themselves and get no replay (as the spec asks). The
replay holds what was delivered before the join and nothing else: messages sent after it (and
those still waiting for their commit when the user joined, which the user gets live) are left
out, so nothing is shown twice.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from chinwag.protocol import fold
from chinwag.server.config import HistoryConfig
from chinwag.server.fanout import Outgoing, add_tag
from chinwag.server.network import Network
from chinwag.server.state import Cap, Channel, Client
from chinwag.server.tasks import Spawn
from chinwag.store import (
    NO_TAGS,
    ChannelTarget,
    DirectTarget,
    HistoryEntry,
    HistoryStore,
    StoreError,
    TimeBound,
)

__all__ = ["PRUNE_INTERVAL", "History", "Relay", "history_lines"]

log = logging.getLogger("chinwag.history")

PRUNE_INTERVAL = 3600.0
"""Seconds between two retention runs (one also runs at start)."""

_REPLAYED = frozenset({"PRIVMSG", "NOTICE"})
_batch_ids = itertools.count(1)


# Targets are validated frozen dataclasses: build each once, not once per message.
_channel_target = functools.lru_cache(maxsize=4096)(ChannelTarget)
_direct_target = functools.lru_cache(maxsize=16384)(DirectTarget)


def new_batch_ref() -> str:
    """A batch reference unique in this process."""
    return f"H{next(_batch_ids)}"


def _stamp(entry: HistoryEntry) -> str:
    """The entry's text with a ``[HH:MM]`` (UTC) prefix, inside a CTCP ACTION if it is one."""
    stamp = "[" + time.strftime("%H:%M", time.gmtime(entry.time)) + "] "
    text = entry.text
    if text.startswith("\x01ACTION "):
        return "\x01ACTION " + stamp + text[8:]
    return stamp + text


def history_lines(
    client: Client, entries: Sequence[HistoryEntry], server_name: str, batch_target: str | None
) -> list[bytes]:
    """Format stored entries for ``client``, in a ``chathistory`` batch when it has ``batch``.

    PRIVMSG and NOTICE only (no ``draft/event-playback``). A client without ``server-time``
    gets the time in the text, ``[HH:MM]``, so old lines do not pass for new ones.

    Args:
        client: who gets the lines (its capabilities decide the tags).
        entries: chronological entries.
        server_name: the source of the BATCH lines.
        batch_target: the batch parameter (the target's name), or None for no batch at all.
    """
    caps = client.caps
    timed = bool(caps & (Cap.SERVER_TIME | Cap.MESSAGE_TAGS))
    batched = batch_target is not None and bool(caps & Cap.BATCH)
    ref = new_batch_ref() if batched else ""
    lines: list[bytes] = []
    if batched:
        lines.append(f":{server_name} BATCH +{ref} chathistory {batch_target}\r\n".encode())
    batch_tag = b"batch=" + ref.encode()
    for entry in entries:
        if entry.command not in _REPLAYED:
            continue
        text = entry.text if timed else _stamp(entry)
        line = Outgoing(
            entry.sender,
            entry.command,
            entry.target_name,
            text,
            msgid=entry.msgid,
            account=entry.account,
            client_tags=entry.tags,
            when=entry.time,
        ).line_for(client)
        lines.append(add_tag(line, batch_tag) if batched else line)
    if batched:
        lines.append(f":{server_name} BATCH -{ref}\r\n".encode())
    return lines


class Relay(Protocol):
    """Routes a message through the network before it is delivered (a node of a network,
    ``chinwag/cluster/node.py``); None on a single server."""

    def relay(
        self,
        sender: Client,
        channel: Channel | None,
        recipient: Client | None,
        outgoing: Outgoing,
        deliver: Callable[[], Any],
        *,
        target_name: str,
        command: str,
        text: str,
    ) -> Callable[[], Any]:
        """What to run in place of ``deliver`` (``deliver`` itself when nothing is routed)."""
        ...


class History:
    """What the server keeps of conversations, on top of the history store.

    Args:
        config: the ``[history]`` configuration.
        store: the history store.
        network: who is connected (a CHATHISTORY nick target) and the server's name.
        spawn: starts retention runs and join replays.
    """

    max_inflight = 4096
    """Messages that may wait for their commit (durable delivery) before the connections that
    send more are paused (``pause_reading``) until half of them are delivered. Without it an
    overload would queue up unbounded latency and then stall the whole loop on the store's
    full queue; with it the senders' own TCP buffers absorb the excess."""

    def __init__(
        self, config: HistoryConfig, store: HistoryStore, network: Network, spawn: Spawn
    ) -> None:
        self.config = config
        self.store = store
        self.network = network
        self.spawn = spawn
        self.enabled = self.config.enabled
        self.durable = self.enabled and self.config.durable_delivery
        self._guests: dict[Client, str] = {}
        # The msgids of the messages handed to the store whose commit callback has not run
        # yet (durable only), oldest first: a user who joins now gets them live, so the join
        # replay leaves them out. _deliveries holds their deliver functions, in the same order.
        # The store runs commit callbacks in append order, so every message's callback is the
        # same bound method, which delivers the oldest waiting message: nothing is built per
        # message to wait for the commit (whatever waits that long outlives a young garbage
        # collection, gets promoted, and then lengthens every full collection).
        self._inflight: deque[str] = deque()
        self._deliveries: deque[Callable[[], Any]] = deque()
        self._queued = 0  # in_order callbacks waiting in the writer's stream
        # Senders whose input is paused while too many messages wait for their commit.
        self._held: set[Client] = set()
        self._warned_at = -60.0
        self._pruner: asyncio.TimerHandle | None = None
        # Bound once: every stored message passes this same object as its callback.
        self._on_commit = self._committed
        self.relay: Relay | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Prune now (when retention is configured) and every `PRUNE_INTERVAL` after."""
        if self.enabled and (self.config.max_age_days > 0 or self.config.max_lines_per_target > 0):
            self._schedule_prune(0.0)

    def stop(self) -> None:
        """Stop the retention timer."""
        if self._pruner is not None:
            self._pruner.cancel()
            self._pruner = None

    def _schedule_prune(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self._pruner = loop.call_later(delay, self._prune_tick)

    def _prune_tick(self) -> None:
        self._schedule_prune(PRUNE_INTERVAL)
        self.spawn(self.prune())

    async def prune(self, now: float | None = None) -> int:
        """Apply ``max_age_days`` and ``max_lines_per_target`` once.

        Args:
            now: the current time (tests inject it); default ``time.time()``.

        Returns:
            How many entries were deleted.
        """
        age = self.config.max_age_days
        lines = self.config.max_lines_per_target
        deleted = await self.store.prune(
            age if age > 0 else None, lines if lines > 0 else None, now=now
        )
        if deleted:
            log.info("retention: %d history lines deleted", deleted)
        return deleted

    # -- who is who ----------------------------------------------------------------------------

    def party(self, client: Client) -> str:
        """``client``'s name in private history: the folded account, else a per-connection token."""
        if client.account:
            return fold(client.account)
        token = self._guests.get(client)
        if token is None:
            token = self._guests[client] = "~" + secrets.token_hex(12)
        return token

    def adopt_guest(self, client: Client, token: str) -> None:
        """Give a user of another node of the network the guest token it has there, so that
        private history with it is the same conversation on every node."""
        if not client.account:
            self._guests[client] = token

    def guest(self, party: str) -> Client | None:
        """The connected guest whose party is ``party``, if any."""
        for client, token in self._guests.items():
            if token == party:
                return client if not client.account else None
        return None

    def client_gone(self, client: Client) -> None:
        """Forget a connection's guest token (its private history stays unreachable)."""
        self._guests.pop(client, None)
        self._held.discard(client)

    def peer_party(self, nick: str) -> str:
        """The party a CHATHISTORY nick target means: the user on that nick now, else the
        account of that name."""
        other = self.network.find(nick)
        return self.party(other) if other is not None else fold(nick)

    # -- recording and delivery ----------------------------------------------------------------

    def record(
        self,
        sender: Client,
        channel: Channel | None,
        recipient: Client | None,
        outgoing: Outgoing,
        deliver: Callable[[], Any],
        *,
        target_name: str,
        command: str,
        text: str,
    ) -> None:
        """Store one PRIVMSG or NOTICE and deliver it (after its commit when durable).

        Args:
            sender: who sent it.
            channel: the channel it went to, or None for a private message.
            recipient: the user it went to, for a private message.
            outgoing: the formatted message (its msgid, time and client tags are stored).
            deliver: sends it to everybody who must get it.
            target_name: the target as shown to recipients.
            command: PRIVMSG or NOTICE.
            text: the text as relayed.
        """
        if self.relay is not None:
            deliver = self.relay.relay(
                sender,
                channel,
                recipient,
                outgoing,
                deliver,
                target_name=target_name,
                command=command,
                text=text,
            )
        if not self.enabled:
            deliver()
            return
        if channel is not None:
            target: ChannelTarget | DirectTarget = _channel_target(channel.name_folded)
        elif recipient is not None:
            target = _direct_target(self.party(sender), self.party(recipient))
        else:
            deliver()
            return
        msgid = outgoing.msgid or ""
        tags = outgoing.client_tags
        entry = HistoryEntry(
            msgid,
            outgoing.time,
            target,
            target_name,
            sender.prefix,
            sender.account,
            command,
            text,
            dict(tags) if tags else NO_TAGS,
        )
        if not self.durable:
            deliver()
            self._append(entry, None)
            return
        inflight = self._inflight
        inflight.append(msgid)
        self._deliveries.append(deliver)
        if not self._append(entry, self._on_commit):
            # No callback will come for it: take it back and deliver it now, like a message
            # the store does not keep (only during shutdown or when the store is broken).
            inflight.pop()
            self._deliveries.pop()
            deliver()
            return
        if len(inflight) > self.max_inflight:
            self._hold(sender)

    def _committed(self) -> None:
        """Deliver the oldest message waiting for its commit: the store calls this once per
        stored message, after its commit, in append order (durable delivery)."""
        inflight = self._inflight
        inflight.popleft()
        self._deliveries.popleft()()
        if self._held and len(inflight) <= self.max_inflight // 2:
            self._release()

    def _hold(self, sender: Client) -> None:
        """Stop reading from ``sender`` until the writer has caught up (backpressure)."""
        transport = sender.conn.transport
        if transport is None or sender in self._held or sender.conn.closing:
            return
        now = time.monotonic()
        if now - self._warned_at > 60.0:
            self._warned_at = now
            log.warning(
                "history: over %d messages wait for the disk; senders paused", len(self._inflight)
            )
        self._held.add(sender)
        transport.pause_reading()

    def _release(self) -> None:
        held, self._held = self._held, set()
        for client in held:
            transport = client.conn.transport
            if transport is not None and not client.conn.closing:
                transport.resume_reading()

    def _append(self, entry: HistoryEntry, then: Callable[[], Any] | None) -> bool:
        try:
            self.store.append(entry, then)
        except StoreError as exc:  # closed during shutdown, or broken: the chat goes on
            log.warning("history: message %s not stored: %s", entry.msgid, exc)
            return False
        return True

    def in_order(self, deliver: Callable[[], Any]) -> None:
        """Run ``deliver`` in order with the deliveries of stored messages (durable mode).

        With nothing waiting for the writer it runs at once: nothing could come before it.
        """
        if not self.durable or (not self._inflight and not self._queued):
            deliver()
            return

        def in_turn() -> None:
            self._queued -= 1
            deliver()

        self._queued += 1
        try:
            self.store.after_writes(in_turn)
        except StoreError:
            in_turn()

    # -- join replay ---------------------------------------------------------------------------

    def replay_on_join(self, client: Client, channel: Channel) -> None:
        """Send ``client``, who just joined ``channel``, the channel's recent lines (async)."""
        count = self.config.replay_on_join
        if not self.enabled or count <= 0 or client.caps & Cap.CHATHISTORY:
            return
        joined = time.time()
        waiting = frozenset(self._inflight)
        self.spawn(self._replay(client, channel, count, joined, waiting))

    async def _replay(
        self, client: Client, channel: Channel, count: int, joined: float, waiting: frozenset[str]
    ) -> None:
        target = ChannelTarget(channel.name_folded)
        try:
            entries = await self.store.before(target, TimeBound(joined), count + len(waiting))
        except StoreError as exc:
            log.warning("history: no replay of %s: %s", channel.name, exc)
            return
        if waiting:
            entries = [entry for entry in entries if entry.msgid not in waiting]
        entries = entries[-count:]
        if not entries or client not in channel.members or client.conn.closing:
            return
        batched = client.caps & Cap.BATCH and client.caps & Cap.SERVER_TIME
        batch_target = channel.name if batched else None
        for line in history_lines(client, entries, self.network.name, batch_target):
            client.send(line)
