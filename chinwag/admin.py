"""``chinwag admin``: manage accounts in a server's data directory from the shell.

``chinwag admin create NAME`` asks for a password and creates an administrator account (it may
then ``OPER NAME password`` on the server); ``admin forget NAME`` drops an account and every
private message it took part in; ``admin list`` shows the accounts. The commands open the same
SQLite file as the server (WAL mode lets both work at once), but ``forget`` refuses while a
server runs on the directory: the server would keep the account logged in.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
from pathlib import Path
from typing import Any

from chinwag.protocol import fold, is_valid_nick
from chinwag.store import (
    AccountExistsError,
    InvalidNameError,
    InvalidPasswordError,
    Store,
    open_store,
)
from chinwag.store.lock import DataDirBusyError, DataDirLock

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``admin`` options and sub-commands to ``parser``."""
    parser.add_argument("--data", metavar="DIR", help="data directory (default ./chinwag-data)")
    parser.add_argument(
        "--config", metavar="FILE", help="TOML configuration file (for server.data_dir)"
    )
    actions: Any = parser.add_subparsers(dest="action", metavar="ACTION")
    create = actions.add_parser(
        "create",
        help="create an administrator account",
        description="Create an administrator account. The password is asked twice on a "
        "terminal, read as one line from standard input otherwise.",
    )
    create.add_argument("name", help="the account name (a valid nick)")
    forget = actions.add_parser(
        "forget", help="drop an account and the private messages it took part in"
    )
    forget.add_argument("name", help="the account (or nick) to forget")
    actions.add_parser("list", help="list the accounts")


def _data_dir(args: argparse.Namespace) -> Path:
    if args.data:
        return Path(args.data)
    from chinwag.server import load_config

    return Path(load_config(args.config).server.data_dir)


def _read_password() -> str | None:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            print("chinwag: the passwords differ", file=sys.stderr)
            return None
        return password
    return sys.stdin.readline().rstrip("\r\n")


async def _create(store: Store, name: str) -> int:
    if not is_valid_nick(name, 200):
        print(f"chinwag: {name!r} is not a valid account name (it must be a nick)", file=sys.stderr)
        return 1
    password = _read_password()
    if password is None:
        return 1
    try:
        await store.accounts.register(name, fold(name), password, admin=True)
    except AccountExistsError:
        print(f"chinwag: the account {name} already exists", file=sys.stderr)
        return 1
    except (InvalidPasswordError, InvalidNameError) as exc:
        print(f"chinwag: {exc}", file=sys.stderr)
        return 1
    print(f"created administrator account {name}")
    return 0


async def _forget(store: Store, name: str) -> int:
    try:
        dropped, deleted = await store.forget(fold(name))
    except InvalidNameError as exc:
        print(f"chinwag: {exc}", file=sys.stderr)
        return 1
    what = f"dropped the account {name}" if dropped else f"no account {name}"
    print(f"{what}; deleted {deleted} private messages")
    return 0


async def _list(store: Store) -> int:
    for account in await store.accounts.list_all():
        when = time.strftime("%Y-%m-%d", time.gmtime(account.created_at))
        role = "admin" if account.admin else "user"
        print(f"{account.name}\t{role}\t{when}\t{account.email or ''}".rstrip())
    return 0


async def _run(args: argparse.Namespace, data_dir: Path) -> int:
    if args.action == "forget":
        # A running server would keep the account logged in and its name claimable: refuse.
        try:
            claim = DataDirLock(data_dir)
        except DataDirBusyError as exc:
            print(
                f"chinwag: {exc}: stop it first, or drop the account on the running server "
                "(the account's owner: /msg NickServ DROP)",
                file=sys.stderr,
            )
            return 1
        try:
            return await _run_store(args, data_dir)
        finally:
            claim.release()
    return await _run_store(args, data_dir)


async def _run_store(args: argparse.Namespace, data_dir: Path) -> int:
    store = open_store(data_dir)
    try:
        if args.action == "create":
            return await _create(store, args.name)
        if args.action == "forget":
            return await _forget(store, args.name)
        return await _list(store)
    finally:
        await store.close()


def run(args: argparse.Namespace) -> int:
    """Run ``chinwag admin ACTION``; returns the exit status."""
    if not args.action:
        print("chinwag admin: choose an action: create, forget or list", file=sys.stderr)
        return 2
    try:
        data_dir = _data_dir(args)
    except ValueError as exc:  # ConfigError
        print(f"chinwag: {exc}", file=sys.stderr)
        return 2
    if str(data_dir).lower() == "none":
        print("chinwag: the data directory is 'none': nothing to manage", file=sys.stderr)
        return 2
    return asyncio.run(_run(args, data_dir))
