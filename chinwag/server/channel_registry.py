"""Registered channels (ChanServ) at run time: their records, loaded at start as permanent
channels, and saved through the store's write-behind queue at every change of their topic,
modes or bans.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from chinwag.protocol import fold, parse_count
from chinwag.server.network import Network
from chinwag.server.state import Channel, Client
from chinwag.store import ChannelBan, ChannelRecord, ChannelStore, Topic

__all__ = ["ChannelRegistry", "apply_record", "channel_record"]


def channel_record(
    channel: Channel, founder: str | None, registered_at: float | None
) -> ChannelRecord:
    """What the store keeps of a registered channel: its identity, topic, modes with key and
    limit, and its lists (bans, ban exceptions, invite exceptions)."""
    topic = (
        Topic(channel.topic, channel.topic_setter, channel.topic_time) if channel.topic else None
    )
    bans = tuple(
        ChannelBan(mask, setter, when, mode)
        for mode, entries in (("b", channel.bans), ("e", channel.exceptions), ("I", channel.invex))
        for mask, (setter, when) in entries.items()
    )
    return ChannelRecord(
        name=channel.name,
        name_folded=channel.name_folded,
        founder=founder,
        registered_at=registered_at,
        topic=topic,
        modes=" ".join(channel.mode_string(True)),
        bans=bans,
        identity=channel.identity,
    )


def apply_record(channel: Channel, record: ChannelRecord) -> None:
    """Restore a channel's identity, topic, modes, key, limit and lists from its stored record."""
    # Its history is under this key: the plain name for channels registered before identities.
    channel.identity = record.identity or record.name_folded
    if record.topic is not None:
        channel.topic = record.topic.text
        channel.topic_setter = record.topic.set_by
        channel.topic_time = record.topic.set_at
    flags, *params = record.modes.split(" ") if record.modes else ["+nt"]
    channel.modes = set()
    for char in flags.lstrip("+"):
        if char == "k" and params:
            channel.key = params.pop(0)
        elif char == "l" and params:
            value = params.pop(0)
            channel.limit = parse_count(value) or None
        elif char in "Dimnst":
            channel.modes.add(char)
    lists = {"b": channel.bans, "e": channel.exceptions, "I": channel.invex}
    for entries in lists.values():
        entries.clear()
    for ban in record.bans:
        kept = lists.get(ban.mode)
        if kept is not None:
            kept[ban.mask] = (ban.set_by, ban.set_at)


class ChannelRegistry:
    """The registered channels of one server.

    Args:
        network: where the channels live.
        store: where their records are kept.
        default_channels: channels that stay permanent even when unregistered.
    """

    def __init__(
        self,
        network: Network,
        store: ChannelStore,
        default_channels: Iterable[str],
        owner: str = "",
    ):
        self.network = network
        self.store = store
        self._defaults = frozenset(fold(name) for name in default_channels)
        self._owner = fold(owner) if owner else None
        self.registered: dict[str, ChannelRecord] = {}
        """The record of each registered channel, by folded name."""

    async def load(self) -> None:
        """Load every registered channel as a permanent channel with its stored state."""
        for record in await self.store.load_all():
            if record.founder is None:
                continue
            channel = self.network.keep_channel(record.name, record.registered_at or time.time())
            apply_record(channel, record)
            self.registered[record.name_folded] = record

    def set_defaults(self, default_channels: Iterable[str]) -> None:
        """The default channels changed (a configuration reload)."""
        self._defaults = frozenset(fold(name) for name in default_channels)

    def register(self, channel: Channel, founder: str) -> None:
        """Register ``channel`` to account ``founder``: it becomes permanent and is saved."""
        now = time.time()
        self.store.save(self.adopt(channel, founder, now))
        if self.network.observer is not None:
            self.network.observer.channel_registered(channel, founder, now)

    def adopt(self, channel: Channel, founder: str, registered_at: float) -> ChannelRecord:
        """Take ``channel`` as registered to ``founder`` (saved already, by this server or
        another node of the network): it becomes permanent. Returns its record."""
        record = channel_record(channel, founder, registered_at)
        self.registered[channel.name_folded] = record
        channel.permanent = True
        return record

    def unregister(self, name_folded: str, *, store: bool = True) -> None:
        """Forget a registered channel; it ends with its last member unless it is a default.

        Args:
            name_folded: the channel.
            store: delete its record too (False: another node of the network did).
        """
        record = self.registered.pop(name_folded, None)
        if record is None:
            return
        if store:
            self.store.delete(name_folded)
            if self.network.observer is not None:
                self.network.observer.channel_unregistered(name_folded)
        channel = self.network.channels.get(name_folded)
        if channel is not None and name_folded not in self._defaults:
            self.network.release_channel(channel)

    def channel_changed(self, channel: Channel) -> None:
        """Save a registered channel after its topic, modes or bans changed."""
        record = self.registered.get(channel.name_folded)
        if record is None:
            return
        record = channel_record(channel, record.founder, record.registered_at)
        self.registered[channel.name_folded] = record
        self.store.save(record)

    def may_op(self, client: Client, channel: Channel) -> bool:
        """Whether ChanServ ops ``client`` in ``channel``: its founder; and in the default
        channels (nobody creates those, so nobody would be op) the server's operators and the
        configured owner account."""
        if self.is_founder(client, channel):
            return True
        if channel.name_folded not in self._defaults:
            return False
        account = client.account
        return client.is_oper or (account is not None and fold(account) == self._owner)

    def is_founder(self, client: Client, channel: Channel) -> bool:
        """True when ``client`` is logged in to the founder account of registered ``channel``."""
        record = self.registered.get(channel.name_folded)
        account = client.account
        if record is None or record.founder is None or account is None:
            return False
        return fold(record.founder) == fold(account)
