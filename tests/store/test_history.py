"""History queries (CHATHISTORY semantics), identical for every store."""

from __future__ import annotations

import functools

import pytest

from chinwag.protocol.timestamps import format_server_time, parse_server_time
from chinwag.store import (
    NO_TAGS,
    ChannelTarget,
    DirectTarget,
    HistoryEntry,
    HistoryStore,
    InvalidNameError,
    MsgidBound,
    Store,
    TimeBound,
)
from chinwag.store._query import time_key

from .factories import LOBBY, T0, direct, entry, ids

OTHER = ChannelTarget("#other")


async def fill(history: HistoryStore, count: int = 10, step: float = 1.0) -> None:
    """Append m0..m{count-1} to #lobby, one per ``step`` seconds, and flush."""
    for i in range(count):
        history.append(entry(f"m{i}", T0 + i * step))
    await history.flush()


def m(*numbers: int) -> list[str]:
    """Msgids m<n> for the given numbers."""
    return [f"m{n}" for n in numbers]


async def test_latest_returns_newest_in_chronological_order(store: Store) -> None:
    """LATEST * 3 returns the three newest entries, oldest first."""
    await fill(store.history)
    assert ids(await store.history.latest(LOBBY, None, 3)) == m(7, 8, 9)


async def test_latest_with_more_limit_than_entries(store: Store) -> None:
    """A limit above the entry count returns everything."""
    await fill(store.history, 4)
    assert ids(await store.history.latest(LOBBY, None, 100)) == m(0, 1, 2, 3)


async def test_latest_after_msgid_and_timestamp(store: Store) -> None:
    """LATEST with a bound keeps only entries after it, still the newest ones."""
    await fill(store.history)
    h = store.history
    assert ids(await h.latest(LOBBY, MsgidBound("m6"), 10)) == m(7, 8, 9)
    assert ids(await h.latest(LOBBY, MsgidBound("m2"), 2)) == m(8, 9)
    assert ids(await h.latest(LOBBY, TimeBound(T0 + 7), 10)) == m(8, 9)
    assert await h.latest(LOBBY, MsgidBound("m9"), 10) == []


async def test_empty_target_and_zero_limit(store: Store) -> None:
    """Unknown targets and non-positive limits return nothing."""
    await fill(store.history)
    h = store.history
    assert await h.latest(OTHER, None, 10) == []
    assert await h.latest(LOBBY, None, 0) == []
    assert await h.before(LOBBY, MsgidBound("m5"), -1) == []
    assert await h.around(LOBBY, MsgidBound("m5"), 0) == []
    assert await h.between(LOBBY, MsgidBound("m1"), MsgidBound("m5"), 0) == []


async def test_before_msgid_is_exclusive(store: Store) -> None:
    """BEFORE msgid returns the entries just before it, not the entry itself."""
    await fill(store.history)
    h = store.history
    assert ids(await h.before(LOBBY, MsgidBound("m5"), 3)) == m(2, 3, 4)
    assert ids(await h.before(LOBBY, MsgidBound("m1"), 3)) == m(0)
    assert await h.before(LOBBY, MsgidBound("m0"), 3) == []


async def test_before_and_after_timestamp(store: Store) -> None:
    """Timestamp bounds are exclusive too."""
    await fill(store.history)
    h = store.history
    assert ids(await h.before(LOBBY, TimeBound(T0 + 5), 2)) == m(3, 4)
    assert ids(await h.after(LOBBY, TimeBound(T0 + 5), 2)) == m(6, 7)
    assert ids(await h.after(LOBBY, TimeBound(T0 + 4.5), 2)) == m(5, 6)
    assert ids(await h.before(LOBBY, TimeBound(T0 + 100), 1)) == m(9)
    assert await h.after(LOBBY, TimeBound(T0 + 100), 1) == []


async def test_after_msgid(store: Store) -> None:
    """AFTER msgid returns the entries just after it."""
    await fill(store.history)
    h = store.history
    assert ids(await h.after(LOBBY, MsgidBound("m5"), 3)) == m(6, 7, 8)
    assert ids(await h.after(LOBBY, MsgidBound("m8"), 3)) == m(9)
    assert await h.after(LOBBY, MsgidBound("m9"), 3) == []


async def test_around_msgid_includes_pivot_and_balances(store: Store) -> None:
    """AROUND msgid: limit//2 before the pivot, then the pivot and what follows."""
    await fill(store.history)
    h = store.history
    assert ids(await h.around(LOBBY, MsgidBound("m5"), 4)) == m(3, 4, 5, 6)
    assert ids(await h.around(LOBBY, MsgidBound("m5"), 5)) == m(3, 4, 5, 6, 7)
    assert ids(await h.around(LOBBY, MsgidBound("m5"), 1)) == m(5)


async def test_around_near_the_edges_fills_from_the_other_side(store: Store) -> None:
    """AROUND near either end still returns ``limit`` entries when there are enough."""
    await fill(store.history)
    h = store.history
    assert ids(await h.around(LOBBY, MsgidBound("m0"), 4)) == m(0, 1, 2, 3)
    assert ids(await h.around(LOBBY, MsgidBound("m9"), 4)) == m(6, 7, 8, 9)
    assert ids(await h.around(LOBBY, MsgidBound("m5"), 50)) == m(*range(10))


async def test_around_timestamp_splits_at_that_time(store: Store) -> None:
    """AROUND timestamp: entries before the time, then entries at or after it."""
    await fill(store.history)
    h = store.history
    assert ids(await h.around(LOBBY, TimeBound(T0 + 5), 4)) == m(3, 4, 5, 6)
    assert ids(await h.around(LOBBY, TimeBound(T0 + 4.5), 2)) == m(4, 5)


async def test_between_ascending_and_descending(store: Store) -> None:
    """BETWEEN is exclusive; it keeps the entries closest to the first bound."""
    await fill(store.history)
    h = store.history
    assert ids(await h.between(LOBBY, MsgidBound("m2"), MsgidBound("m7"), 10)) == m(3, 4, 5, 6)
    assert ids(await h.between(LOBBY, MsgidBound("m2"), MsgidBound("m7"), 2)) == m(3, 4)
    assert ids(await h.between(LOBBY, MsgidBound("m7"), MsgidBound("m2"), 2)) == m(5, 6)
    assert ids(await h.between(LOBBY, TimeBound(T0 + 1), TimeBound(T0 + 4), 10)) == m(2, 3)
    assert ids(await h.between(LOBBY, MsgidBound("m8"), TimeBound(T0 + 5.5), 10)) == m(6, 7)
    assert await h.between(LOBBY, MsgidBound("m4"), MsgidBound("m5"), 10) == []
    assert await h.between(LOBBY, MsgidBound("m4"), MsgidBound("m4"), 10) == []


async def test_unknown_msgid_or_msgid_of_another_target_selects_nothing(store: Store) -> None:
    """A msgid bound only counts inside its own conversation."""
    await fill(store.history)
    store.history.append(entry("elsewhere", T0 + 3.5, OTHER))
    await store.history.flush()
    h = store.history
    for bound in (MsgidBound("nope"), MsgidBound("elsewhere")):
        assert await h.before(LOBBY, bound, 5) == []
        assert await h.after(LOBBY, bound, 5) == []
        assert await h.around(LOBBY, bound, 5) == []
        assert await h.latest(LOBBY, bound, 5) == []
        assert await h.between(LOBBY, bound, MsgidBound("m9"), 5) == []
    assert ids(await h.latest(OTHER, None, 5)) == ["elsewhere"]


async def test_same_millisecond_keeps_arrival_order(store: Store) -> None:
    """Entries in one millisecond keep arrival order; a timestamp bound takes all or none."""
    h = store.history
    for i in range(5):
        h.append(entry(f"m{i}", T0 + 1.0 + i * 0.0001))
    h.append(entry("m5", T0 + 2.0))
    await h.flush()
    assert ids(await h.latest(LOBBY, None, 10)) == m(0, 1, 2, 3, 4, 5)
    assert ids(await h.after(LOBBY, MsgidBound("m1"), 2)) == m(2, 3)
    assert ids(await h.before(LOBBY, MsgidBound("m3"), 10)) == m(0, 1, 2)
    assert ids(await h.after(LOBBY, TimeBound(T0 + 1.0), 10)) == m(5)
    assert await h.before(LOBBY, TimeBound(T0 + 1.0), 10) == []


async def test_late_arrivals_are_sorted_by_time(store: Store) -> None:
    """An entry appended late but stamped earlier takes its place in time."""
    h = store.history
    h.append(entry("b", T0 + 2))
    h.append(entry("a", T0 + 1))
    h.append(entry("c", T0 + 3))
    await h.flush()
    assert ids(await h.latest(LOBBY, None, 10)) == ["a", "b", "c"]


async def test_duplicate_msgid_is_ignored(store: Store) -> None:
    """Appending a msgid twice keeps the first entry only."""
    h = store.history
    h.append(entry("x", T0, text="first"))
    h.append(entry("x", T0 + 1, text="second"))
    await h.flush()
    [kept] = await h.latest(LOBBY, None, 10)
    assert kept.text == "first"


async def test_entries_round_trip_exactly(store: Store) -> None:
    """Every field of an entry comes back unchanged, private targets included."""
    h = store.history
    sent = [
        entry("t", T0 + 0.123, tags={"+draft/reply": "abc", "+x": "a;b c"}, account="amy"),
        entry("p", T0 + 1, direct("bob", "amy"), text="héllo \u263a"),
    ]
    for e in sent:
        h.append(e)
    await h.flush()
    assert await h.latest(LOBBY, None, 1) == [sent[0]]
    assert await h.latest(direct("amy", "bob"), None, 1) == [sent[1]]


def test_entries_are_immutable_and_share_one_empty_tags_mapping() -> None:
    """An entry cannot be changed after it is made, nor can the tags of an entry without any."""
    first = HistoryEntry("a", T0, LOBBY, "#lobby", "amy!a@h", None, "PRIVMSG", "hi")
    second = HistoryEntry("b", T0, LOBBY, "#lobby", "amy!a@h", None, "PRIVMSG", "hi")
    assert first.tags is second.tags is NO_TAGS
    assert first.tags == {}
    with pytest.raises(AttributeError):
        first.text = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        first.tags["+x"] = "y"  # type: ignore[index]


async def test_then_runs_after_commit_in_append_order(store: Store) -> None:
    """``then`` callbacks run on the loop, in append order, and the entries are readable."""
    h = store.history
    seen: list[int] = []
    for i in range(50):
        h.append(entry(f"m{i}", T0 + i), then=functools.partial(seen.append, i))
    await h.flush()
    assert seen == list(range(50))
    assert len(await h.latest(LOBBY, None, 100)) == 50


async def test_private_history_only_reaches_its_two_parties(store: Store) -> None:
    """amy and bob both see their conversation; carol can phrase no query that reaches it."""
    h = store.history
    h.append(entry("ab1", T0 + 1, direct("amy", "bob"), sender="amy!a@h"))
    h.append(entry("ab2", T0 + 2, direct("bob", "amy"), sender="bob!b@h"))
    h.append(entry("ac1", T0 + 3, direct("amy", "carol"), sender="amy!a@h"))
    await h.flush()
    assert ids(await h.latest(direct("amy", "bob"), None, 10)) == ["ab1", "ab2"]
    assert ids(await h.latest(direct("bob", "amy"), None, 10)) == ["ab1", "ab2"]
    for other in ("amy", "bob", "dave", "carol"):
        got = await h.latest(direct("carol", other), None, 10)
        for e in got:
            assert isinstance(e.target, DirectTarget)
            assert "carol" in (e.target.party_a, e.target.party_b)
        assert not {"ab1", "ab2"} & set(ids(got))
    assert await h.around(direct("carol", "bob"), MsgidBound("ab1"), 10) == []
    listed = await h.targets("carol", ["amy bob", "#lobby"], T0, T0 + 10, 10)
    assert ids(listed) == ["ac1"]


async def test_private_targets_reject_malformed_parties() -> None:
    """A party name with a space (or empty) cannot be built, so keys cannot be forged."""
    with pytest.raises(InvalidNameError):
        DirectTarget("amy bob", "carol")
    with pytest.raises(InvalidNameError):
        DirectTarget("", "carol")
    with pytest.raises(InvalidNameError):
        ChannelTarget("#a b")
    assert DirectTarget("bob", "amy") == DirectTarget("amy", "bob")
    assert DirectTarget("bob", "amy").key == "amy bob"
    assert hash(DirectTarget("bob", "amy")) == hash(DirectTarget("amy", "bob"))
    assert DirectTarget("bob", "amy").peer_of("bob") == "amy"
    with pytest.raises(ValueError, match="not a party"):
        DirectTarget("bob", "amy").peer_of("carol")


async def test_targets_lists_latest_entry_per_conversation(store: Store) -> None:
    """TARGETS: one (latest) entry per readable conversation in the window, by time."""
    h = store.history
    h.append(entry("l1", T0 + 1))
    h.append(entry("o1", T0 + 2, OTHER))
    h.append(entry("p1", T0 + 3, direct("amy", "bob")))
    h.append(entry("l2", T0 + 4))
    h.append(entry("x1", T0 + 5, ChannelTarget("#secret")))
    h.append(entry("l3", T0 + 20))
    await h.flush()
    chans = ["#lobby", "#other"]
    assert ids(await h.targets("amy", chans, T0, T0 + 10, 10)) == ["o1", "p1", "l2"]
    assert ids(await h.targets("amy", chans, T0, T0 + 10, 2)) == ["o1", "p1"]
    assert ids(await h.targets("amy", chans, T0 + 10, T0, 2)) == ["p1", "l2"]
    assert ids(await h.targets("bob", [], T0, T0 + 10, 10)) == ["p1"]
    assert ids(await h.targets("amy", chans, T0 + 2, T0 + 4, 10)) == ["p1"]
    assert await h.targets("amy", chans, T0, T0 + 10, 0) == []


async def test_prune_by_age_and_by_lines(store: Store) -> None:
    """Retention deletes entries older than N days, then all but the newest N per target."""
    h = store.history
    day = 86400.0
    for i in range(6):
        h.append(entry(f"m{i}", T0 + i * day))
        h.append(entry(f"o{i}", T0 + i * day, OTHER))
    await h.flush()
    assert await h.prune(None, None) == 0
    assert await h.prune(3.5, None, now=T0 + 6 * day) == 6
    assert ids(await h.latest(LOBBY, None, 10)) == m(3, 4, 5)
    assert await h.prune(None, 2) == 2
    assert ids(await h.latest(LOBBY, None, 10)) == m(4, 5)
    assert ids(await h.latest(OTHER, None, 10)) == ["o4", "o5"]
    assert await h.prune(None, 0) == 4
    assert await h.latest(LOBBY, None, 10) == []


async def test_prune_by_lines_keeps_the_last_arrivals_of_one_millisecond(store: Store) -> None:
    """Entries of one millisecond are ordered by arrival: retention keeps the latest to arrive."""
    h = store.history
    for i in range(5):
        h.append(entry(f"m{i}", T0))
    await h.flush()
    assert await h.prune(None, 2) == 3
    assert ids(await h.latest(LOBBY, None, 10)) == ["m3", "m4"]
    assert await h.prune(None, 2) == 0


async def test_forget_deletes_only_private_history_of_that_party(store: Store) -> None:
    """forget(party) removes their private conversations and leaves channels alone."""
    h = store.history
    h.append(entry("c1", T0, sender="amy!a@h", account="amy"))
    h.append(entry("ab", T0 + 1, direct("amy", "bob")))
    h.append(entry("bc", T0 + 2, direct("bob", "carol")))
    await h.flush()
    assert await h.forget("amy") == 1
    assert await h.latest(direct("amy", "bob"), None, 10) == []
    assert ids(await h.latest(direct("bob", "carol"), None, 10)) == ["bc"]
    assert ids(await h.latest(LOBBY, None, 10)) == ["c1"]
    assert await h.targets("bob", [], T0 - 1, T0 + 10, 10) == await h.latest(
        direct("bob", "carol"), None, 10
    )


async def test_store_forget_drops_account_and_private_history(store: Store) -> None:
    """Store.forget removes the account and the private history of its identity together."""
    amy = await store.accounts.register("Amy", "amy", "pw-amy")
    store.history.append(entry("ab", T0, direct(amy.party, "bob")))
    assert await store.forget("amy") == (True, 1)
    assert await store.accounts.get("amy") is None
    assert await store.forget("amy") == (False, 0)


def test_time_key_matches_server_time_rounding() -> None:
    """A timestamp copied from a server-time tag maps to the entry's own millisecond."""
    for t in (T0 + 0.0004, T0 + 0.0005, T0 + 0.0006, T0 + 0.9996, T0 + 0.1234567):
        assert time_key(parse_server_time(format_server_time(t))) == time_key(t)


async def test_after_writes_keeps_order_with_append_callbacks(store: Store) -> None:
    """Callbacks queued with after_writes run in order with append callbacks."""
    h = store.history
    seen: list[str] = []
    h.append(entry("a", T0), then=functools.partial(seen.append, "a"))
    h.after_writes(functools.partial(seen.append, "part"))
    h.append(entry("b", T0 + 1), then=functools.partial(seen.append, "b"))
    await h.flush()
    assert seen == ["a", "part", "b"]
    assert ids(await h.latest(LOBBY, None, 10)) == ["a", "b"]


async def test_a_new_account_of_the_same_name_is_another_party(store: Store) -> None:
    """Dropping an account and registering its name again gives another identity."""
    first = await store.accounts.register("Amy", "amy", "pw-amy")
    await store.forget("amy")
    second = await store.accounts.register("Amy", "amy", "pw-amy2")
    assert first.party != second.party
    assert first.party.startswith("amy!") and second.party.startswith("amy!")
