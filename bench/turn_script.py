"""What one `TURN` call costs Redis: this checkout's script against another revision's, in one run.

``python -m bench.turn_script [--against REV] [--lines 64] [--calls 500] [--rounds 10]`` starts
its own Redis (``bench.redis_server``), loads this checkout's ``scripts.TURN`` and the one of
git revision ``REV`` (default ``main``), and sends both the same calls, in alternating blocks of
``--calls`` (so that whatever else the machine does weighs on both alike): each call carries
``--lines`` lines of one shape, as a busy node sends them:

- ``room``: a line to a 100-member room on two nodes (``chan``), history off (``bench.cluster``);
- ``room+keep``: the same with its history record (``keep`` first, as a node sends it);
- ``pm``: a private line to a user of another node, its echo and its record (``keep``, ``to``
  the other node, ``to`` this one).

It reports Redis's time inside the script per line (``INFO commandstats``, the script's
microseconds: the fsync of ``appendfsync always`` comes after and is left out), for each
script, and the difference. A figure for one machine: compare the two columns of one run.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path
from typing import Any

import redis

from bench.redis_server import throwaway_redis
from chinwag.cluster import scripts
from chinwag.cluster.events import private_message, room_message
from chinwag.server.fanout import Outgoing

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
OTHER = "other.bench"
"""The node a room shares members with, and that private lines go to."""
SHAPES = ("room", "room+keep", "pm")


def _script_of(revision: str) -> str:
    """``scripts.TURN`` as git revision ``revision`` has it."""
    source = subprocess.run(
        ["git", "show", f"{revision}:chinwag/cluster/scripts.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    namespace: dict[str, Any] = {"__name__": "old_scripts"}
    # This repository's own module, at that revision: it only defines strings.
    exec(compile(source, f"{revision}:scripts.py", "exec"), namespace)
    return str(namespace["TURN"])


def _ops(node: str, shape: str, lines: int) -> bytes:
    """One call's operations: ``lines`` lines of ``shape`` sent by ``node``."""
    parts: list[bytes] = []
    for i in range(lines):
        msgid = f"{node}-{i:012d}"
        said = Outgoing("amy!~amy@host", "PRIVMSG", "#room", "x" * 60, msgid=msgid)
        record = f"{msgid}\0{'0' * 16}\0#room\0\0\0:amy!~amy@host PRIVMSG #room :{'x' * 60}\r\n"
        if shape == "pm":
            event = private_message(node, "1", said, command="PRIVMSG", recipient_uid="2")
            parts += [b"keep - " + record.encode()]
            parts += [f"to {OTHER} ".encode() + event, f"to {node} ".encode() + event]
            continue
        event = room_message(node, "1", said, command="PRIVMSG", channel_folded="#room")
        if shape == "room+keep":
            parts.append(b"keep - " + record.encode())
        parts.append(b"chan #room " + event)
    return b"".join(parts)


def _usec(client: redis.Redis) -> int:
    """Redis's microseconds in script calls so far."""
    stats: dict[str, Any] = client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("usec", 0))


def _measure(client: redis.Redis, old: str, lines: int, calls: int, rounds: int) -> None:
    nodes = {"old": ("old.bench", old), "new": ("new.bench", scripts.TURN)}
    for node, _ in nodes.values():
        client.hset("cw:nodes", node, "1")
    client.hset("cw:nodes", OTHER, "1")
    client.hset("cw:chan:#room", mapping={OTHER: 50, "old.bench": 50, "new.bench": 50})
    print(f"Redis's time per line in TURN ({lines} lines a call, {calls * rounds} calls each)")
    print(f"{'shape':<10} {'before us':>10} {'after us':>10} {'change':>8}")
    for shape in SHAPES:
        spent = {"old": 0, "new": 0}
        numbers = {"old": 0, "new": 0}
        for _ in range(rounds):
            for name, (node, text) in nodes.items():
                turn = client.register_script(text)
                ops = _ops(node, shape, lines)
                count = ops.count(b"\n")  # one line end per operation
                before = _usec(client)
                for _ in range(calls):
                    numbers[name] += 1
                    turn(args=[node, "1", numbers[name], ops, count])
                spent[name] += _usec(client) - before
        client.delete("cw:turn", "cw:history")  # a new shape numbers its calls from 1 again
        per_line = {name: spent[name] / (calls * rounds * lines) for name in spent}
        change = per_line["new"] / per_line["old"] - 1
        print(f"{shape:<10} {per_line['old']:>10.3f} {per_line['new']:>10.3f} {change:>+8.1%}")


def main() -> None:
    """Run the comparison (see the module header)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", default="main", help="git revision to compare with")
    parser.add_argument("--lines", type=int, default=64, help="lines per call")
    parser.add_argument("--calls", type=int, default=500, help="calls per block")
    parser.add_argument("--rounds", type=int, default=10, help="blocks of each script")
    args = parser.parse_args()
    old = _script_of(args.against)
    with throwaway_redis() as server:
        client = redis.Redis.from_url(server.url)
        try:
            _measure(client, old, args.lines, args.calls, args.rounds)
        finally:
            client.close()


if __name__ == "__main__":
    main()
