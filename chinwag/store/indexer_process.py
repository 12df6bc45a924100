"""The indexer process: ``python -m chinwag.store.indexer_process DB_PATH JOURNAL_DIR``.

``chinwag serve`` starts it (`IndexerProcess` in ``indexer_link.py``); the passes themselves are
in ``indexer.py``. It speaks on its pipes: it prints ``I <offset>`` to stdout when it starts and
after each pass that moved, and reads stdin: any line wakes it at once (a reader waits for it);
``q`` or end-of-file (the server stopped, or died) makes it exit after the pass it is in, so an
orphan never outlives its server by more than one pass. What it has not indexed stays in the
journal for the next start.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
from pathlib import Path

from chinwag.store.indexer import INDEX_INTERVAL, Indexer, lock_journal, prepare_writer
from chinwag.store.sqlite_connection import connect

__all__ = ["main"]


def _say(offset: int) -> None:
    os.write(1, f"I {offset}\n".encode())


def main(argv: list[str]) -> int:
    """The indexer process: ``DB_PATH JOURNAL_DIR``; see the module header."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Ctrl-C reaches the whole process group: the server stops, then tells this process to.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    db, journal_dir = Path(argv[0]), Path(argv[1])
    lock = lock_journal(journal_dir)
    conn = connect(db)
    prepare_writer(conn)
    indexer = Indexer(conn, journal_dir)
    _say(indexer.offset)
    stdin = sys.stdin.fileno()
    try:
        while True:
            before = indexer.offset
            if indexer.run_once() != before:
                _say(indexer.offset)
            ready, _, _ = select.select([stdin], [], [], INDEX_INTERVAL)
            if ready:
                data = os.read(stdin, 4096)
                if (
                    not data or b"q" in data
                ):  # the server stops (or died): the journal keeps the rest
                    return 0
    except BrokenPipeError:  # the server is gone: what is committed stays committed
        return 0
    finally:
        indexer.close()
        os.close(lock)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
