"""Nothing that runs after a client is gone re-creates its state: work a departed client left
in flight (a CHATHISTORY query, a password check) finds it gone and keeps nothing of it."""

from __future__ import annotations

from .conftest import Serve

CH = ["draft/chathistory", "batch", "server-time", "message-tags"]


async def test_targets_then_quit_leaves_no_guest_entry(serve: Serve) -> None:
    """CHATHISTORY TARGETS followed by QUIT in one write, again and again: the server's table
    of guest identities does not grow."""
    h = await serve()
    history = h.server.history
    before = history.guest_count()
    for i in range(5):
        guest = await h.connect(f"guest{i}", caps=CH)
        query = (
            "CHATHISTORY TARGETS timestamp=2020-01-01T00:00:00.000Z"
            " timestamp=2100-01-01T00:00:00.000Z 10"
        )
        await guest.send(f"{query}\r\nQUIT :bye\r\n".encode())
        await guest.expect_closed()
    watcher = await h.connect("watcher")
    await watcher.sync()  # every departed client's queued work has run by now
    assert history.guest_count() == before
