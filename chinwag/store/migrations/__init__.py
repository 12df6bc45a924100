"""Ordered schema migrations: ``NNNN_name.sql`` files applied once each, in order.

The ``schema_version`` table records every applied migration. Each migration runs in its own
transaction together with its ``schema_version`` row, so a crash leaves the database at one
version or the next, never in between. A database newer than this code is refused.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from importlib import resources

from chinwag.store.errors import StoreError

__all__ = ["Migration", "apply_migrations", "load_migrations", "schema_version"]

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step."""

    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """The SQL split into complete statements (DDL cannot be parameterised)."""
        found: list[str] = []
        pending = ""
        for line in self.sql.splitlines(keepends=True):
            if not pending and (not line.strip() or line.lstrip().startswith("--")):
                continue
            pending += line
            if sqlite3.complete_statement(pending):
                found.append(pending.strip())
                pending = ""
        if pending.strip():
            raise StoreError(f"migration {self.version}: incomplete statement {pending!r}")
        return found


def load_migrations() -> list[Migration]:
    """Every packaged migration, by version.

    Raises:
        StoreError: when two files share a version or versions are not 1, 2, 3, ...
    """
    found: list[Migration] = []
    for item in resources.files(__package__).iterdir():
        match = _NAME.match(item.name)
        if match:
            found.append(Migration(int(match[1]), match[2], item.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise StoreError("migrations must be numbered 0001, 0002, ... without gaps")
    return found


def schema_version(conn: sqlite3.Connection) -> int:
    """The highest applied migration, 0 for an empty database."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def apply_migrations(
    conn: sqlite3.Connection, migrations: list[Migration] | None = None
) -> list[int]:
    """Bring the schema up to date.

    Args:
        conn: an autocommit-mode connection (``isolation_level=None``).
        migrations: the steps to consider (default: the packaged ones).

    Returns:
        The versions applied now (empty when already up to date).

    Raises:
        StoreError: when the database is newer than the newest known migration.
    """
    steps = load_migrations() if migrations is None else migrations
    current = schema_version(conn)
    newest = max((m.version for m in steps), default=0)
    if current > newest:
        raise StoreError(f"database schema {current} is newer than this chinwag ({newest})")
    applied: list[int] = []
    for step in steps:
        if step.version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            done = "SELECT 1 FROM schema_version WHERE version = ?"
            if conn.execute(done, (step.version,)).fetchone():  # another process was quicker
                conn.execute("COMMIT")
                continue
            for statement in step.statements():
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (step.version, step.name, time.time()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(step.version)
    return applied
