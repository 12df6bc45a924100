"""The app in a delayed-join (+D) room of a real chinwag server: the people list has everyone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import CHINWAG_CONFIG, LOBBY, RawClient, Server, eventually, server_kind
from .test_app import people, running, shows, view_text

LARGE_CHANNEL = 3
"""The server's ``large_channel``: #lobby turns +D when a fourth member arrives."""


@pytest.fixture
def large_room_server(tmp_path: Path) -> Iterator[Server]:
    """A chinwag server whose rooms turn delayed-join past `LARGE_CHANNEL` members."""
    if server_kind() != "chinwag":
        pytest.skip("needs chinwag's delayed-join rooms")
    config = CHINWAG_CONFIG.replace("[limits]\n", f"[limits]\nlarge_channel = {LARGE_CHANNEL}\n")
    server = Server("chinwag", tmp_path, config=config)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_people_list_shows_silent_members(
    large_room_server: Server, raw_clients: list[RawClient]
) -> None:
    """Joining a +D room lists its silent members too (from WHO, silently); one who arrives
    later shows up when they speak."""
    quiet = [f"quiet{i}" for i in range(LARGE_CHANNEL + 2)]
    for nick in quiet:
        raw_clients.append(await RawClient.connect(large_room_server, nick))
    async with running(large_room_server) as (app, _):
        everyone = sorted(["amy", *quiet])
        await eventually(lambda: people(app) == everyone, f"everyone listed, not {people(app)}")
        assert "+D" not in view_text(app) and "quiet4 (" not in view_text(app)
        late = await RawClient.connect(large_room_server, "late")
        raw_clients.append(late)
        late.send(f"PRIVMSG {LOBBY} :hello from the back row")
        await eventually(shows(app, "hello from the back row"), "late's line")
        assert "late" in people(app)
        quiet_one = raw_clients[-2]
        quiet_one.send(f"PRIVMSG {LOBBY} :I was here all along")
        await eventually(shows(app, "I was here all along"), f"{quiet_one.nick}'s line")
        assert f"{quiet_one.nick} has joined" not in view_text(app)
