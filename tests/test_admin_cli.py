"""``chinwag admin`` as a user runs it: a subprocess on a data directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from chinwag.store import open_store


def _admin(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chinwag", "admin", "--data", str(data), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_create_list_forget(tmp_path: Path) -> None:
    """create makes an admin account with the password read from stdin; list shows it;
    forget drops it; mistakes exit non-zero with a message."""
    created = _admin(tmp_path, "create", "Boss", stdin="s3cret pass\n")
    assert created.returncode == 0, created.stderr
    assert "created administrator account Boss" in created.stdout
    store = open_store(tmp_path)
    try:
        account = await store.accounts.verify("boss", "s3cret pass")
        assert account is not None and account.admin and account.name == "Boss"
        await store.accounts.register("amy", "amy", "amypw")
    finally:
        await store.close()

    listed = _admin(tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t")[:2] for line in listed.stdout.splitlines()]
    assert rows == [["amy", "user"], ["Boss", "admin"]]

    again = _admin(tmp_path, "create", "boss", stdin="other\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = _admin(tmp_path, "create", "no way", stdin="pw\n")
    assert bad.returncode == 1 and "not a valid account name" in bad.stderr
    empty = _admin(tmp_path, "create", "carol", stdin="\n")
    assert empty.returncode == 1 and "password" in empty.stderr

    forgot = _admin(tmp_path, "forget", "AMY")
    assert forgot.returncode == 0, forgot.stderr
    assert "dropped the account AMY" in forgot.stdout
    gone = _admin(tmp_path, "forget", "amy")
    assert gone.returncode == 0 and "no account amy" in gone.stdout
    assert [line.split("\t")[0] for line in _admin(tmp_path, "list").stdout.splitlines()] == [
        "Boss"
    ]
    nothing = _admin(tmp_path)
    assert nothing.returncode == 2


async def test_create_list_forget_on_a_postgresql_store(tmp_path: Path, postgres_url: str) -> None:
    """With --store URL, create, list and forget work on the network's PostgreSQL database,
    where every node sees the accounts; the data directory is not touched."""
    created = _admin(tmp_path, "--store", postgres_url, "create", "Boss", stdin="s3cret pass\n")
    assert created.returncode == 0, created.stderr
    store = open_store(None, url=postgres_url)
    try:
        account = await store.accounts.verify("boss", "s3cret pass")
        assert account is not None and account.admin
        await store.accounts.register("amy", "amy", "amypw")
    finally:
        await store.close()
    assert not (tmp_path / "chinwag.sqlite3").exists()

    config = tmp_path / "chinwag.toml"
    config.write_text(f'[cluster]\nstore = "{postgres_url}"\n', encoding="utf-8")
    listed = _admin(tmp_path, "--config", str(config), "list")  # the store from the file
    assert listed.returncode == 0, listed.stderr
    assert [line.split("\t")[:2] for line in listed.stdout.splitlines()] == [
        ["amy", "user"],
        ["Boss", "admin"],
    ]
    forgot = _admin(tmp_path, "--store", postgres_url, "forget", "amy")
    assert forgot.returncode == 0 and "dropped the account amy" in forgot.stdout
    listed = _admin(tmp_path, "--store", postgres_url, "list")
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == ["Boss"]


def test_a_postgresql_store_refuses_backup_and_bad_urls(tmp_path: Path) -> None:
    """backup on a PostgreSQL store points to pg_dump; a store URL that is not PostgreSQL and
    one that cannot be reached are refused with a message, nothing created."""
    url = f"postgresql://nobody@/chinwag?host={tmp_path}&connect_timeout=2"
    backup = _admin(tmp_path, "--store", url, "backup", str(tmp_path / "copy"))
    assert backup.returncode == 2 and "pg_dump" in backup.stderr
    wrong = _admin(tmp_path, "--store", "mysql://x/y", "list")
    assert wrong.returncode == 2 and "must be a PostgreSQL URL" in wrong.stderr
    unreachable = _admin(tmp_path, "--store", url, "list")
    assert unreachable.returncode == 1 and "PostgreSQL" in unreachable.stderr
    assert list(tmp_path.iterdir()) == []
