"""The glue between the server and the history store: what is kept, who may read it, and when
a message is delivered.

Theory of operation
-------------------
Durable delivery. With ``[history] durable_delivery`` (the default) nothing a client is sent
may show a message before that message is committed, so nothing any client saw can be missing
from history after a SIGKILL. A stored message is delivered as any other event, synchronously
and in order, and handed to the store (one `HistoryEntry`, one ``append``); `record` then tells
the outbox (``server/outbox.py``), which holds the bytes of that whole loop turn, for every
client, until the store has committed the turn's rows. So the recipients are exactly those of
the moment it was said, a NICK or a KICK that follows a message can never overtake it, and the
hot path builds nothing per message to wait for the commit (every row's commit callback is the
outbox's same bound method). The SQLite store's commit is a journal write: one ``os.write`` of
the turn's rows when the outbox ends the turn, before any of the turn's output is written
(``store/journal_history.py``). On the journal a message takes the store's short road
(``JournalHistoryStore.add``): its record is formatted from the message's parts, and the store
tells `History` once per turn whether the frame was written; the outbox is not involved, since
the frame is written before the outbox writes anything. Without durable delivery a message is
delivered first and stored after: a crash may lose the messages of one turn.

A full disk. The handlers call `record` before they deliver, and deliver only when it returns
True: on the journal, a message whose record does not fit into the disk space reserved ahead
(and the disk has no more) is refused there, its sender told and the operators' episode opened
(`StorageHealth.full`); so no client receives a message that history lacks. A frame that fails
to be written anyway (an I/O error) went out with its turn: its senders are told it may be
missing (`StorageHealth.not_stored`).

Private conversations. A party of a private conversation is the folded account name when the
user is logged in, else a random token made for that one connection (``~`` and hex; no account
name can start with ``~``). Keying guests by nick would let whoever takes a nick later read the
conversations of its previous holder; a per-connection token means a guest's private history
is readable by that connection only, and is simply not found again after a reconnect. A user
who logs in mid-connection gets the account's conversations from then on. Every query for
private history is "between me and X", so no query can reach someone else's conversation.

Join replay. A user joining a channel gets its last ``replay_on_join`` lines after the NAMES
reply: inside a ``chathistory`` batch with ``server-time`` tags for clients that have ``batch``
and ``server-time``, else as plain lines whose text starts with ``[HH:MM]`` (UTC). Clients with
``draft/chathistory`` ask for history themselves and get no replay (as the spec asks). The
replay is read once everything stored before the join is committed, and holds what was said
before the join and nothing else; the joiner's later lines wait for it (``Connection.wait_for``),
so its replies stay in the order it asked.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import secrets
import time
from collections import deque
from collections.abc import Sequence
from typing import Protocol

from chinwag.protocol import fold
from chinwag.server.config import HistoryConfig
from chinwag.server.fanout import Outgoing, add_tag
from chinwag.server.network import Network
from chinwag.server.state import Cap, Channel, Client, RegState
from chinwag.server.storage_health import StorageHealth
from chinwag.server.tasks import Spawn
from chinwag.store import (
    NO_TAGS,
    AccountStore,
    ChannelTarget,
    DirectTarget,
    HistoryEntry,
    HistoryStore,
    StoreError,
    TimeBound,
)
from chinwag.store.journal import JournalError
from chinwag.store.journal_history import JournalHistoryStore
from chinwag.store.journal_records import encode_tags

__all__ = ["PRUNE_INTERVAL", "CommitGate", "History", "history_lines"]

log = logging.getLogger("chinwag.history")

_MAX_SILENT = 10_000
_REPLAY_SLACK = 50
"""Lines read beyond ``replay_on_join`` for a round of joiners: the room may have talked between
the first joiner's arrival and the last one's, and each gets the lines from before its own."""
"""Channels remembered as having no history, at most (then the memory starts over)."""

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


class CommitGate(Protocol):
    """What `History` tells the outbox (``server/outbox.py``) with durable delivery."""

    def recorded(self, sender: Client) -> None:
        """A message of ``sender`` was handed to the store: this turn's output waits for it."""

    def committed(self) -> None:
        """The store committed the oldest message not yet reported (its commit callback)."""


class History:
    """What the server keeps of conversations, on top of the history store.

    Args:
        config: the ``[history]`` configuration.
        store: the history store.
        network: who is connected (a CHATHISTORY nick target) and the server's name.
        spawn: starts retention runs and join replays.
        gate: the outbox, which holds a loop turn's output until the messages it stored are
            committed (used with durable delivery only).
    """

    def __init__(
        self,
        config: HistoryConfig,
        store: HistoryStore,
        network: Network,
        spawn: Spawn,
        gate: CommitGate | None = None,
        *,
        accounts: AccountStore | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.accounts = accounts
        self.network = network
        self.spawn = spawn
        self.enabled = self.config.enabled
        self.durable = self.enabled and self.config.durable_delivery
        # The journal, when the store is one that writes here: messages take its short road,
        # and it reports once per turn (`_turn_written`).
        self._journal = (
            store
            if self.enabled and isinstance(store, JournalHistoryStore) and store.journal
            else None
        )
        if self._journal is not None:
            self._journal.listen(self._turn_written)
        # Told of every message stored with durable delivery, and of its commit (the outbox
        # holds the loop turn's output until then). Not with the journal: its frame is written
        # before the outbox writes anything.
        self._gate = gate if self.durable and self._journal is None else None
        self.stored = 0
        """Messages given to the store since the start (read by the metrics; on the journal,
        counted at the end of each loop turn)."""
        self._guests: dict[Client, str] = {}
        self._pruner: asyncio.TimerHandle | None = None
        # Who stored each row still waiting for its commit, and where: told if it fails (a
        # store that commits later; the journal hands them back per turn, `_turn_written`).
        self._senders: deque[Client] = deque()
        self._targets: deque[str] = deque()
        self.health = StorageHealth(network, store, spawn)
        self._on_commit = self._committed  # bound once: every stored row passes this object
        # Channels known to have no history: a join there needs no store query. Any channel
        # message may change that; _channel_writes tells a query that one was recorded.
        self._silent: set[str] = set()
        self._channel_writes = 0
        # Join replays, per channel identity: who joined since the running look-up started
        # (one look-up serves them all), and each round's end, which their next lines wait for.
        self._joiners: dict[str, list[tuple[Client, float]]] = {}
        self._rounds_done: dict[str, asyncio.Future[None]] = {}

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
        """``client``'s name in private history: the folded account, else a per-connection token.

        Never holds a space: a conversation's key is its two parties joined by one (`record`).
        """
        if client.account:
            return client.account_party or fold(client.account)
        token = client.guest_party
        if token is None:
            token = "~" + secrets.token_hex(12)
            # Work a client left in flight may ask after it quit: it gets a token that matches
            # nothing, and the table keeps nothing of a departed client.
            if client.state is not RegState.CLOSED:
                self._guest(client, token)
        return token

    def _guest(self, client: Client, token: str) -> None:
        """Make ``token`` the guest party of ``client``: kept on the client, where `record`
        reads it, and in the table of guests."""
        client.guest_party = token
        self._guests[client] = token

    def adopt_guest(self, client: Client, token: str) -> None:
        """Give a user of another node of the network the guest token it has there, so that
        private history with it is the same conversation on every node."""
        if not client.account:
            self._guest(client, token)

    def guest_count(self) -> int:
        """How many connections hold a guest identity (the table must not outlive them)."""
        return len(self._guests)

    def guest(self, party: str) -> Client | None:
        """The connected guest whose party is ``party``, if any."""
        for client, token in self._guests.items():
            if token == party:
                return client if not client.account else None
        return None

    def client_gone(self, client: Client) -> None:
        """Forget a connection's guest token (its private history stays unreachable)."""
        self._guests.pop(client, None)
        client.guest_party = None

    async def peer_party(self, nick: str) -> str:
        """The party a CHATHISTORY nick target means: the user on that nick now, else the
        account of that name (its identity, from the store)."""
        other = self.network.find(nick)
        if other is not None:
            return self.party(other)
        account = await self.accounts.get(fold(nick)) if self.accounts is not None else None
        return account.party if account is not None else fold(nick)

    # -- recording and delivery ----------------------------------------------------------------

    # Positional parameters too: the fast path passes them so, 0.02 us less per message than
    # three keyword arguments (timeit).
    def record(  # noqa: PLR0917
        self,
        sender: Client,
        channel: Channel | None,
        recipient: Client | None,
        outgoing: Outgoing,
        target_name: str,
        command: str,
        text: str,
    ) -> bool:
        """Store one PRIVMSG or NOTICE about to be delivered (call it before delivering).

        With durable delivery the output of this loop turn waits for the commit.

        Args:
            sender: who sent it.
            channel: the channel it went to, or None for a private message.
            recipient: the user it went to, for a private message.
            outgoing: the formatted message (its msgid, time and client tags are stored).
            target_name: the target as shown to recipients.
            command: PRIVMSG or NOTICE.
            text: the text as relayed.

        Returns:
            False when it cannot be stored for lack of disk space: do not deliver it (its
            sender was told); True otherwise (stored, or history is off or closing).
        """
        if not self.enabled:
            return True
        if channel is not None:
            conversation = channel.identity  # a channel's conversation key
            self._channel_writes += 1
            if self._silent:
                self._silent.discard(conversation)
        elif recipient is not None:
            # `party` inline when both are known (two method calls were 0.1 us per private
            # message in the profile), then `DirectTarget.key` without the target: 0.1 us less
            # again (timeit; a party never holds a space, see `party`).
            a = sender.account_party if sender.account else sender.guest_party
            b = recipient.account_party if recipient.account else recipient.guest_party
            if a is None or b is None:  # a guest's first message (or no account identity)
                a, b = self.party(sender), self.party(recipient)
            conversation = f"{a} {b}" if a <= b else f"{b} {a}"
        else:
            return True
        tags = outgoing.client_tags
        journal = self._journal
        if journal is not None:
            try:
                journal.add(
                    outgoing.msgid or "",
                    outgoing.time,
                    conversation,
                    sender.account or "",
                    encode_tags(dict(tags)) if tags else "",
                    outgoing.plain,  # ":sender COMMAND target_name :text", as relayed
                    sender,  # counted in `stored` when the turn ends, told if not written
                    target_name,
                )
            except JournalError as exc:  # no disk space for it: refused, never delivered
                self.health.full(sender, target_name, exc)
                return False
            except StoreError as exc:  # closed during shutdown, or broken: the chat goes on
                log.warning("history: message %s not stored: %s", outgoing.msgid, exc)
            return True
        target: ChannelTarget | DirectTarget = (
            _channel_target(conversation) if channel is not None else _direct_target(a, b)
        )
        entry = HistoryEntry(
            outgoing.msgid or "",
            outgoing.time,
            target,
            target_name,
            sender.prefix,
            sender.account,
            command,
            text,
            dict(tags) if tags else NO_TAGS,
        )
        gate = self._gate
        try:
            self.store.append(entry, self._on_commit if gate is not None else None)
        except StoreError as exc:  # closed during shutdown, or broken: the chat goes on
            log.warning("history: message %s not stored: %s", entry.msgid, exc)
            return True
        self.stored += 1
        if gate is not None:
            self._senders.append(sender)
            self._targets.append(target_name)
            gate.recorded(sender)
        return True

    def _turn_written(
        self, error: JournalError | None, senders: list[object], targets: list[str]
    ) -> None:
        """The journal's report at the end of a turn that stored messages: None when its frame
        was written; else each sender is told (`StorageHealth`), as a failed commit would.
        ``senders`` and ``targets``: what `record` gave the journal with each message.

        A written frame does not end an episode: the messages a turn kept before one was
        refused for lack of space are written, and the disk is still full; the probe ends it.
        """
        self.stored += len(senders)
        if error is not None:
            for sender, target_name in zip(senders, targets, strict=True):
                assert isinstance(sender, Client)
                self.health.not_stored(sender, target_name, error)

    def _committed(self) -> None:
        """The store's callback for each stored row, in order (durable delivery): tell the
        gate, and whoever must know when the row could not be stored (`StorageHealth`)."""
        sender = self._senders.popleft()
        target_name = self._targets.popleft()
        error = self.store.commit_error()
        if error is not None:
            self.health.not_stored(sender, target_name, error)
        elif self.health.failing:
            self.health.stored()
        assert self._gate is not None
        self._gate.committed()

    # -- join replay ---------------------------------------------------------------------------

    def replay_on_join(self, client: Client, channel: Channel) -> None:
        """Send ``client``, who just joined ``channel``, the channel's recent lines (async).

        The arrivals of a storm share the look-ups: one round at a time per channel reads the
        store for everyone who joined since the last round started (a thread hop and an index
        query for a round, not for each arrival); each joiner's later lines wait for its round.
        """
        count = self.config.replay_on_join
        if not self.enabled or count <= 0 or client.caps & Cap.CHATHISTORY:
            return
        key = channel.identity
        if key in self._silent:
            return  # nothing to replay, and no store query (a join storm into a quiet room)
        joiners = self._joiners.get(key)
        if joiners is None:
            joiners = self._joiners[key] = []
            if key not in self._rounds_done:  # no round running: start them
                self._rounds_done[key] = asyncio.get_running_loop().create_future()
                self.spawn(self._replay_rounds(channel, count))
        joiners.append((client, time.time()))
        client.conn.wait_for(self._rounds_done[key])

    async def _replay_rounds(self, channel: Channel, count: int) -> None:
        """Replay rounds for ``channel`` until nobody waits for one."""
        key = channel.identity
        loop = asyncio.get_running_loop()
        try:
            while (joiners := self._joiners.pop(key, None)) is not None:
                done = self._rounds_done[key]
                self._rounds_done[key] = loop.create_future()  # who joins meanwhile: next round
                try:
                    await self._replay(channel, joiners, count)
                finally:
                    done.set_result(None)
        finally:  # nobody left waiting (or, cancelled at shutdown, nobody gets a replay)
            self._joiners.pop(key, None)
            self._rounds_done.pop(key).set_result(None)

    async def _replay(
        self, channel: Channel, joiners: list[tuple[Client, float]], count: int
    ) -> None:
        target = ChannelTarget(channel.identity)
        writes = self._channel_writes
        last = joiners[-1][1]
        extra = _REPLAY_SLACK if len(joiners) > 1 else 0
        try:
            await self.store.flush()  # what was said before the joins is committed
            entries = await self.store.before(target, TimeBound(last), count + extra)
        except StoreError as exc:
            log.warning("history: no replay of %s: %s", channel.name, exc)
            return
        if not entries and writes == self._channel_writes:
            # Nobody said anything anywhere meanwhile: the room has no history until they do.
            if len(self._silent) >= _MAX_SILENT:
                self._silent.clear()
            self._silent.add(channel.identity)
        if not entries:
            return
        for client, joined in joiners:
            if client not in channel.members or client.conn.closing:
                continue
            mine = entries if joined == last else [e for e in entries if e.time < joined]
            if not mine:
                continue
            batched = client.caps & Cap.BATCH and client.caps & Cap.SERVER_TIME
            batch_target = channel.name if batched else None
            for line in history_lines(client, mine[-count:], self.network.name, batch_target):
                client.send(line)
