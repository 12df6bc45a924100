"""INFO, ADMIN, LINKS, USERS (refused), HELP/HELPOP and KNOCK."""

from __future__ import annotations

from chinwag.server.commands import COMMANDS
from chinwag.server.commands.help import TOPICS

from .conftest import Serve
from .harness import ANY, Harness


async def test_info_admin_links_users(serve: Serve) -> None:
    """INFO 371..374, ADMIN 256-259 with the configured contact, LINKS 364/365, USERS 446."""
    h = await serve(server={"admin": "Ada <ada@example.org>"})
    amy = await h.connect("amy")
    await amy.send("INFO")
    lines = await amy.collect_until("374")
    assert lines[0].command == "371" and "chinwag" in lines[0].params[-1]
    await amy.send("ADMIN")
    await amy.expect_numeric("256", "test.chinwag", ANY)
    await amy.expect("257")
    await amy.expect("258")
    await amy.expect_numeric("259", "Ada <ada@example.org>")
    await amy.send("LINKS")
    await amy.expect_numeric("364", "*", "test.chinwag", ANY)
    await amy.expect_numeric("365", "*", ANY)
    await amy.send("USERS")
    await amy.expect_numeric("446", ANY)


def test_every_command_has_help_and_every_help_a_command() -> None:
    """HELP covers the command table exactly: no command without text, no text without command."""
    assert set(TOPICS) == set(COMMANDS)


async def test_help_index_topic_and_unknown(h: Harness) -> None:
    """HELP lists every command; HELP JOIN gives its syntax and text; HELPOP too; 524 else."""
    amy = await h.connect("amy")
    await amy.send("HELP")
    lines = await amy.collect_until("706")
    listed = " ".join(m.params[-1] for m in lines if m.command == "705").split()
    assert set(listed) == set(COMMANDS)
    await amy.send("HELPOP join")
    start = await amy.expect("704")
    assert start.params[1] == "JOIN" and start.params[2].startswith("JOIN <channel>")
    await amy.expect("705")
    await amy.expect_numeric("706", "JOIN", ANY)
    await amy.send("HELP FROB")
    await amy.expect_numeric("524", "FROB", ANY)


async def test_knock_reaches_the_operators_once_a_minute(h: Harness) -> None:
    """KNOCK on a +i room: ops get 710, the knocker 711; again at once: 712; open room: 713."""
    amy = await h.connect("amy")
    await amy.send("JOIN #c", "MODE #c +i", "JOIN #open")
    await amy.expect("JOIN", ["#open"])
    bob = await h.connect("bob")
    await bob.send("KNOCK #c :let me in")
    await amy.expect_numeric("710", "#c", "bob!~bob@127.0.0.1", "let me in")
    await bob.expect_numeric("711", "#c", ANY)
    await bob.send("KNOCK #c")
    await bob.expect_numeric("712", "#c", ANY)
    await bob.send("KNOCK #open")
    await bob.expect_numeric("713", "#open", ANY)
    await amy.send("KNOCK #c")
    await amy.expect_numeric("714", "#c", ANY)
