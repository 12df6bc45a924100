"""What durable history costs the event loop per private message, in process:
``python -m bench.durable_path [REPS]``.

Two real servers (`Server`, the SQLite store with its journal and indexer process, real
`Connection` objects) in this one process, one with history on (the default: every message
stored in the journal) and one with it off, get the same load: 200 registered pairs, each
sender handing its connection 16 private messages a loop turn, the turn then ended as the
event loop ends it (``Outbox.end_turn``: the journal's frame is written, then the output).
Sockets are left out (a transport that drops what it is given), so what is measured is the
server's own Python (and the journal's ``write``): the turns of the two servers alternate,
and the best and median CPU time per message of each are printed, with the difference.

It measures what `bench.run` cannot separate on a shared machine: the durable path alone, to
0.05 us or so (best of ``REPS``, default 15). The figures behind the comments on the durable
hot path (``History.record``, ``JournalHistoryStore.add``, ``TurnRecords``) come from it. Not a
test: the figures depend on the machine and its load; compare within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time

from bench.arrivals import CountingTransport
from chinwag.server.app import Server
from chinwag.server.config import load_config
from chinwag.server.connection import Connection

PAIRS = 200
LINES = 16
"""Private messages each sender hands its connection per loop turn (one chunk)."""
TURNS = 20
"""Loop turns per measurement."""
_TEXT = "x" * 60  # about 100 bytes a line as relayed, as in the benchmark


class Bench:
    """One server with its pairs registered, and the chunk each sender sends per turn."""

    def __init__(self, server: Server, conns: list[Connection]) -> None:
        self.server = server
        self.conns = conns
        self.chunks = [
            (
                conns[2 * pair],
                "".join(f"PRIVMSG c{2 * pair + 1} :{_TEXT} {n}\r\n" for n in range(LINES)).encode(),
            )
            for pair in range(PAIRS)
        ]

    @classmethod
    async def start(cls, directory: str, *, history: bool) -> Bench:
        """A server on ``directory`` with ``PAIRS`` registered pairs."""
        config = load_config(
            None,
            environ={},
            overrides={
                "server": {"name": "bench.chinwag", "data_dir": directory, "default_channels": []},
                "limits": {"flood_rate": 0, "max_clients_per_ip": 0},
                "privacy": {"cloak_hosts": False},
                "history": {"enabled": history},
            },
        )
        server = Server(config)
        await server.accounts.start()
        conns = []
        for i in range(2 * PAIRS):
            conn = Connection(server, server.network, config.limits)
            conn.connection_made(CountingTransport())  # type: ignore[arg-type]
            conn.data_received(f"NICK c{i}\r\nUSER u 0 * :c{i}\r\n".encode())
            conns.append(conn)
        await asyncio.sleep(0)
        server.outbox.end_turn()
        return cls(server, conns)

    def measure(self) -> float:
        """CPU microseconds per message over `TURNS` turns."""
        gc.collect()
        outbox = self.server.outbox
        start = time.process_time()
        for _turn in range(TURNS):
            for conn, data in self.chunks:
                conn.data_received(data)
            outbox.end_turn()
        return (time.process_time() - start) / (TURNS * PAIRS * LINES) * 1e6

    async def stop(self) -> None:
        """Close the connections and the server."""
        for conn in self.conns:
            conn.close("bye")
        self.server.outbox.end_turn()
        await self.server.stop()


async def compare(reps: int) -> dict[str, float]:
    """Alternate measurements of history off and on: the best and median of each (us/msg),
    and how many messages the durable server stored (all of them, or it measured nothing)."""
    with tempfile.TemporaryDirectory() as off_dir, tempfile.TemporaryDirectory() as on_dir:
        off = await Bench.start(off_dir, history=False)
        on = await Bench.start(on_dir, history=True)
        try:
            offs, ons = [], []
            for _ in range(reps):
                offs.append(off.measure())
                await asyncio.sleep(0)  # let the loop run what the turns scheduled
                ons.append(on.measure())
                await asyncio.sleep(0)
            on.server.outbox.end_turn()
            stored = on.server.history.stored
        finally:
            await off.stop()
            await on.stop()
    return {
        "stored": stored,
        "off_best": min(offs),
        "durable_best": min(ons),
        "off_median": statistics.median(offs),
        "durable_median": statistics.median(ons),
    }


def main() -> None:
    """Print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reps", nargs="?", type=int, default=15, help="measurements of each")
    args = parser.parse_args()
    got = asyncio.run(compare(args.reps))
    for kind in ("best", "median"):
        off, on = got[f"off_{kind}"], got[f"durable_{kind}"]
        print(
            f"{kind:6}: history off {off:.3f} us/msg, durable {on:.3f} us/msg: "
            f"{on - off:+.3f} us ({on / off:.3f}x)"
        )


if __name__ == "__main__":
    main()
