"""Persistent channels and server bans, identical for every store."""

from __future__ import annotations

from chinwag.store import (
    BanKind,
    ChannelBan,
    ChannelRecord,
    ServerBan,
    Store,
    Topic,
)

from .factories import T0

LOBBY = ChannelRecord(
    name="#Lobby",
    name_folded="#lobby",
    founder="amy",
    registered_at=T0,
    topic=Topic("Welcome, all", "amy!a@host", T0 + 1),
    modes="+nt",
    bans=(
        ChannelBan("*!*@spam.example", "amy", T0 + 2),
        ChannelBan("troll!*@*", "bob", T0 + 3),
        ChannelBan("~a:friend", "amy", T0 + 4, "e"),
        ChannelBan("guest!*@*", "amy", T0 + 5, "I"),
    ),
)


async def test_channel_save_get_load_delete(store: Store) -> None:
    """A saved channel comes back whole; saving again replaces it; delete removes it."""
    store.channels.save(LOBBY)
    store.channels.save(ChannelRecord("#Dev", "#dev"))
    await store.flush()
    assert await store.channels.get("#lobby") == LOBBY
    assert await store.channels.get("#nope") is None
    assert [r.name for r in await store.channels.load_all()] == ["#Dev", "#Lobby"]
    changed = ChannelRecord("#lobby", "#lobby", topic=None, modes="+s")
    store.channels.save(changed)
    store.channels.delete("#dev")
    await store.flush()
    assert await store.channels.load_all() == [changed]


async def test_server_bans_add_remove_and_expire(store: Store) -> None:
    """Bans by mask and by account are listed until removed or expired."""
    mask = ServerBan(BanKind.MASK, "*!*@bad.example", "spam", "oper", T0)
    acct = ServerBan(BanKind.ACCOUNT, "troll", "abuse", "oper", T0 + 1, expires_at=T0 + 100)
    await store.bans.add(mask)
    await store.bans.add(acct)
    assert await store.bans.list_active(T0 + 50) == [mask, acct]
    assert acct.expired(T0 + 100) and not mask.expired(T0 + 10**9)
    assert await store.bans.list_active(T0 + 100) == [mask]
    assert await store.bans.remove(BanKind.ACCOUNT, "troll") is False
    assert await store.bans.remove(BanKind.MASK, "*!*@bad.example") is True
    assert await store.bans.list_active(T0) == []


async def test_server_ban_is_replaced_by_same_target(store: Store) -> None:
    """Adding a ban for the same kind and target updates it."""
    await store.bans.add(ServerBan(BanKind.MASK, "*!*@x", "one", "oper", T0))
    updated = ServerBan(BanKind.MASK, "*!*@x", "two", "oper", T0 + 5)
    await store.bans.add(updated)
    assert await store.bans.list_active(T0) == [updated]
