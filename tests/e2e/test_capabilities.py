"""IRCv3 capabilities and user features: AWAY, echo, tags, labels, prefixes, targets, operators."""

from __future__ import annotations

import re
import time

from chinwag.protocol import parse_server_time

from .conftest import Serve
from .harness import ANY, Harness, cheap_hash

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


async def test_away_replies_and_notify(h: Harness) -> None:
    """AWAY gives 306 / 305; away-notify peers get AWAY lines, others do not; PRIVMSG gets 301."""
    amy = await h.connect("amy")
    watcher = await h.connect("watcher", caps=["away-notify"])
    plain = await h.connect("plain")
    await watcher.expect("JOIN", ["#lobby"], source="plain")
    await amy.send("AWAY :at lunch")
    await amy.expect_numeric("306", ANY)
    await watcher.expect("AWAY", ["at lunch"], source="amy")
    await plain.assert_nothing()
    await plain.send("PRIVMSG amy :there?")
    await plain.expect_numeric("301", "amy", "at lunch")
    await plain.send("WHO amy")
    who = await plain.expect_numeric("352")
    assert who.params[6].startswith("G")
    await amy.send("AWAY")
    await amy.expect_numeric("305", ANY)
    await watcher.expect("AWAY", [], source="amy")


async def test_away_notify_on_join(h: Harness) -> None:
    """An away user joining a channel is announced as away to away-notify members."""
    amy = await h.connect("amy")
    watcher = await h.connect("watcher", caps=["away-notify"])
    await watcher.send("JOIN #c")
    await watcher.expect("366")
    await amy.send("AWAY :gone", "JOIN #c")
    await watcher.expect("JOIN", ["#c"], source="amy")
    await watcher.expect("AWAY", ["gone"], source="amy")


async def test_echo_message(h: Harness) -> None:
    """With echo-message the sender gets its own PRIVMSG back; without it, it does not."""
    amy = await h.connect("amy", caps=["echo-message"])
    bob = await h.connect("bob")
    await amy.send("PRIVMSG #lobby :echo me", "PRIVMSG bob :and me")
    await amy.expect("PRIVMSG", ["#lobby", "echo me"], source="amy")
    await amy.expect("PRIVMSG", ["bob", "and me"], source="amy")
    await bob.send("PRIVMSG #lobby :not echoed")
    await amy.expect("PRIVMSG", ["#lobby", "not echoed"], source="bob")
    echoed = [m for m in await bob.sync() if m.command == "PRIVMSG" and m.source_nick == "bob"]
    assert not echoed


async def test_server_time(h: Harness) -> None:
    """server-time clients get a millisecond @time tag close to now; others get no tags."""
    amy = await h.connect("amy", caps=["server-time"])
    bob = await h.connect("bob")
    before = time.time()
    await bob.send("PRIVMSG #lobby :what time is it")
    msg = await amy.expect("PRIVMSG", tags={"time": TIME})
    assert abs(parse_server_time(msg.tags["time"]) - before) < 5
    assert "msgid" not in msg.tags
    await amy.send("PRIVMSG #lobby :no tags for you")
    plain = await bob.expect("PRIVMSG")
    assert not plain.tags


async def test_message_tags_relay_client_tags(h: Harness) -> None:
    """Client-only (+) tags are relayed to message-tags clients with a msgid; others get none."""
    amy = await h.connect("amy", caps=["message-tags"])
    bob = await h.connect("bob", caps=["message-tags"])
    cid = await h.connect("cid")
    await amy.send("@+draft/reply=abc;+example.com/x=1\\s2;vendor=no PRIVMSG #lobby :tagged")
    msg = await bob.expect("PRIVMSG", ["#lobby", "tagged"])
    assert msg.tags["+draft/reply"] == "abc"
    assert msg.tags["+example.com/x"] == "1 2"
    assert "vendor" not in msg.tags
    assert msg.tags["msgid"]
    assert TIME.fullmatch(msg.tags["time"])
    plain = await cid.expect("PRIVMSG", ["#lobby", "tagged"])
    assert not plain.tags


async def test_tagmsg_only_to_message_tags_clients(h: Harness) -> None:
    """TAGMSG reaches message-tags clients only."""
    amy = await h.connect("amy", caps=["message-tags"])
    bob = await h.connect("bob", caps=["message-tags"])
    cid = await h.connect("cid")
    await amy.send("@+typing=active TAGMSG #lobby")
    msg = await bob.expect("TAGMSG", ["#lobby"], source="amy")
    assert msg.tags["+typing"] == "active"
    await cid.assert_nothing()


async def test_client_tags_dropped_without_message_tags(h: Harness) -> None:
    """A sender without message-tags cannot push client tags to anyone."""
    amy = await h.connect("amy")
    bob = await h.connect("bob", caps=["message-tags"])
    await amy.send("@+draft/reply=abc PRIVMSG bob :hi")
    msg = await bob.expect("PRIVMSG", ["bob", "hi"])
    assert "+draft/reply" not in msg.tags


async def test_labeled_response_ack(h: Harness) -> None:
    """A labeled command with no reply gets an ACK carrying the label."""
    amy = await h.connect("amy", caps=["labeled-response", "batch"])
    await amy.send("@label=q1 PONG :x")
    await amy.expect("ACK", [], tags={"label": "q1"})


async def test_labeled_response_single(h: Harness) -> None:
    """A labeled command with one reply gets that reply with the label."""
    amy = await h.connect("amy", caps=["labeled-response", "batch"])
    await amy.send("@label=q2 PING tok")
    await amy.expect("PONG", [ANY, "tok"], tags={"label": "q2"})


async def test_labeled_response_batch(h: Harness) -> None:
    """A labeled command with several replies gets them in a labeled-response batch."""
    amy = await h.connect("amy", caps=["labeled-response", "batch"])
    await amy.send("@label=q3 WHOIS amy")
    start = await amy.expect("BATCH", tags={"label": "q3"})
    assert start.params[0].startswith("+")
    assert start.params[1] == "labeled-response"
    ref = start.params[0][1:]
    lines = await amy.collect_until("BATCH")
    assert lines[-1].params == ("-" + ref,)
    inner = lines[:-1]
    assert inner[0].command == "311"
    assert inner[-1].command == "318"
    assert all(m.tags.get("batch") == ref for m in inner)
    assert all("label" not in m.tags for m in inner)


async def test_labeled_echo_message(h: Harness) -> None:
    """With echo-message, a labeled PRIVMSG's echo is the labeled reply."""
    amy = await h.connect("amy", caps=["labeled-response", "batch", "echo-message"])
    await amy.send("@label=m1 PRIVMSG #lobby :hello")
    await amy.expect("PRIVMSG", ["#lobby", "hello"], tags={"label": "m1"})


async def test_label_ignored_without_the_cap(h: Harness) -> None:
    """Without labeled-response a label tag changes nothing."""
    amy = await h.connect("amy")
    await amy.send("@label=x PING tok")
    msg = await amy.expect("PONG")
    assert "label" not in msg.tags


async def test_multi_prefix(h: Harness) -> None:
    """With multi-prefix NAMES and WHO show every prefix (@+); without, only the highest."""
    amy = await h.connect("amy", caps=["multi-prefix"])
    bob = await h.connect("bob")
    await amy.send("JOIN #c", "MODE #c +v amy")
    await amy.expect("MODE", ["#c", "+v", "amy"])
    await amy.send("NAMES #c")
    await amy.expect_numeric("353", "=", "#c", "@+amy")
    await amy.send("WHO #c")
    who = await amy.expect_numeric("352")
    assert who.params[6] == "H@+"
    await bob.send("NAMES #c")
    await bob.expect_numeric("353", "=", "#c", "@amy")
    await bob.send("WHOIS amy")
    channels = await bob.expect_numeric("319")
    assert "@#c" in channels.params[-1].split()


async def test_userhost_in_names(h: Harness) -> None:
    """With userhost-in-names, NAMES entries are nick!user@host."""
    amy = await h.connect("amy", caps=["userhost-in-names"])
    await amy.send("NAMES #lobby")
    await amy.expect_numeric("353", "=", "#lobby", "amy!~amy@127.0.0.1")


async def test_multiple_targets(h: Harness) -> None:
    """PRIVMSG bob,cid,#c delivers once to each target (TARGMAX)."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    cid = await h.connect("cid")
    await bob.send("JOIN #c")
    await bob.expect("366")
    await amy.send("JOIN #c")
    await amy.expect("366")
    await amy.send("PRIVMSG bob,cid,#c,bob :to many")
    await bob.expect("PRIVMSG", ["bob", "to many"])
    await cid.expect("PRIVMSG", ["cid", "to many"])
    await bob.expect("PRIVMSG", ["#c", "to many"])
    assert not [m for m in await bob.sync() if m.command == "PRIVMSG"]


async def test_multiple_targets_report_each_failure(h: Harness) -> None:
    """A bad target among several gets its numeric; the good ones are still delivered."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send("PRIVMSG zed,bob :hi")
    await amy.expect_numeric("401", "zed", ANY)
    await bob.expect("PRIVMSG", ["bob", "hi"])


async def test_oper_kill_wallops(serve: Serve) -> None:
    """OPER from the config gives 381 and +o; KILL ends a user (ERROR, QUIT); WALLOPS to +w."""
    h = await serve(opers=[("root", cheap_hash("hunter2"))])
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    cid = await h.connect("cid")
    await cid.send("MODE cid +w")
    await cid.expect("MODE", ["cid", "+w"])
    await amy.send("OPER root hunter2")
    await amy.expect_numeric("381", ANY)
    await amy.expect("MODE", ["amy", "+o"])
    await amy.send("WHOIS amy")
    await amy.expect_numeric("313", "amy", ANY)
    await amy.send("WALLOPS :maintenance at noon")
    await cid.expect("WALLOPS", ["maintenance at noon"], source="amy")
    await amy.send("KILL bob :spamming")
    error = await bob.expect_error("spamming")
    assert "Killed" in error.params[0]
    quit_ = await cid.expect("QUIT", source="bob")
    assert "spamming" in quit_.params[0]
    await amy.send("MODE amy -o")
    await amy.expect("MODE", ["amy", "-o"])
    await amy.send("KILL cid :again")
    await amy.expect_numeric("481", ANY)


async def test_oper_may_act_as_chanop(serve: Serve) -> None:
    """A server operator may change modes of a channel it does not operate."""
    h = await serve(opers=[("root", cheap_hash("hunter2"))])
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send("JOIN #c")
    await amy.expect("366")
    await bob.send("JOIN #c", "OPER root hunter2")
    await bob.expect_numeric("381")
    await bob.send("MODE #c +m")
    await amy.expect("MODE", ["#c", "+m"], source="bob")


async def test_echo_of_a_note_to_self_comes_once(h: Harness) -> None:
    """With echo-message, a PRIVMSG to one's own nick arrives once (as the echo), not twice."""
    amy = await h.connect("amy", caps=["echo-message"])
    await amy.send("PRIVMSG amy :note to self")
    await amy.expect("PRIVMSG", ["amy", "note to self"], source="amy")
    await amy.assert_nothing()


async def test_oper_guessing_is_throttled(serve: Serve) -> None:
    """Failed OPER attempts spend the failed-login budget; then even the right password waits."""
    # No refill: the budget must not earn a token back while the guesses run, however slowly.
    h = await serve(opers=[("root", cheap_hash("hunter2"))], accounts={"login_per_minute": 0})
    amy = await h.connect("amy")
    burst = h.server.config.accounts.login_burst
    for _ in range(burst):
        await amy.send("OPER root wrong")
        await amy.expect_numeric("464", "Password incorrect")
    await amy.send("OPER root hunter2")
    refused = await amy.expect_numeric("464")
    assert "too many failed attempts" in refused.params[-1]
