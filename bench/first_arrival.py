"""How long the very first client waits for its welcome when it connects the moment a freshly
started ``chinwag serve`` opens its port.

Usage (from the repository root)::

    python -m bench.first_arrival            # 5 starts, a fresh data directory each
    python -m bench.first_arrival --reps 10

Whatever start-up work runs after the listener opens (once: the garbage collector's full pass
of `chinwag.server.app.tune_gc`, 10-15 ms of CPU) is work the first arrivals wait behind; a
client that connects as soon as the port accepts sees all of it in its registration time.
Printed per start: the time from the accepted connection to its ``001``. Wall-clock time, so
read it on a quiet machine (a busy one stretches everything; the load average is printed).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

from bench.servers import REPO

CONNECT_POLL = 0.0005  # seconds between two connection attempts while the server starts
START_TIMEOUT = 30.0


def _connect(port: int, server: subprocess.Popen[bytes]) -> socket.socket:
    """A socket connected the moment ``port`` accepts (the server's start-up goes on)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and server.poll() is None:
        sock = socket.socket()
        try:
            sock.connect(("127.0.0.1", port))
        except OSError:
            sock.close()
            time.sleep(CONNECT_POLL)
            continue
        return sock
    raise RuntimeError(f"chinwag serve never accepted on port {port}")


def first_welcome_ms(port: int) -> float:
    """Start a server in a fresh data directory, register one client as soon as it can
    connect, and return the milliseconds from its connection to its ``001``."""
    with tempfile.TemporaryDirectory(prefix="bench-first-") as data:
        command = [sys.executable, "-m", "chinwag", "serve", "--port", str(port), "--data", data]
        server = subprocess.Popen([*command, "--log-level", "warning"], cwd=REPO)
        try:
            sock = _connect(port, server)
            with sock:
                started = time.perf_counter()
                sock.sendall(b"NICK first\r\nUSER first 0 * :first\r\n")
                received = b""
                while b" 001 " not in received:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise RuntimeError("the server closed the connection before 001")
                    received += chunk
                return (time.perf_counter() - started) * 1e3
        finally:
            server.terminate()
            server.wait(timeout=START_TIMEOUT)


def main(argv: list[str] | None = None) -> int:
    """Start the server ``--reps`` times and print the first client's wait each time."""
    parser = argparse.ArgumentParser(description="The first client's wait after start-up.")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--port", type=int, default=17940)
    args = parser.parse_args(argv)
    print(f"# the first client of a fresh chinwag serve (load average {os.getloadavg()[0]:.2f})")
    waits = []
    for rep in range(args.reps):
        waits.append(first_welcome_ms(args.port))
        print(f"start {rep}: 001 {waits[-1]:.1f} ms after connecting")
    print(f"median {sorted(waits)[len(waits) // 2]:.1f} ms, longest {max(waits):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
