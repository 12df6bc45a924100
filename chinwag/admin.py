"""``chinwag admin``: run a server from the shell, whether it is running or not.

With a server running on the data directory, the commands go to it over its administration
socket (``DATA_DIR/admin.sock``, see `server.admin_socket`): ``status``, ``who``, ``kick``,
``kill``, ``ban``, ``reload``, ``say`` and ``forget`` act on the live network at once.

On a node of a network (``--redis``) ``nodes`` lists the network's nodes, and ``status`` adds
this node's bus figures. The workers of ``chinwag serve --workers N`` each have a socket
(``DATA_DIR/admin-<i>.sock``): the first that answers is asked.

The data directory itself needs no server: ``create NAME`` asks for a password and creates an
administrator account (it may then ``OPER NAME password`` on the server), ``list`` shows the
accounts, ``forget NAME`` drops an account and every private message it took part in (through
the server when one runs, so that its sessions are logged out first; without a server it takes
the data directory's lock, so that no server starts meanwhile), and ``backup FILE`` copies the
database consistently with SQLite's backup API, with or without a server. With a PostgreSQL
store (``--store URL``, or ``[cluster] store`` in the configuration) ``create``, ``list`` and
``forget`` work on that database instead, whether nodes run or not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import re
import socket
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from chinwag.protocol import fold, is_valid_nick
from chinwag.server.admin_socket import SOCKET_NAME, bindable_path
from chinwag.store import (
    DB_FILENAME,
    AccountExistsError,
    InvalidNameError,
    InvalidPasswordError,
    Store,
    StoreError,
    open_store,
)
from chinwag.store.lock import DataDirBusyError, DataDirLock

__all__ = [
    "ONLINE_ACTIONS",
    "NoServerError",
    "add_arguments",
    "admin_sockets",
    "ask_server",
    "ask_socket",
    "backup",
    "run",
]

ONLINE_ACTIONS = ("status", "who", "kick", "kill", "ban", "reload", "say", "nodes")
"""Actions that need the running server."""
SOCKET_TIMEOUT = 70.0  # a little more than the server gives a command
WORKER_SOCKET = re.compile(r"admin-(\d+)\.sock")
"""The admin socket of worker ``i`` of ``chinwag serve --workers N``."""


class NoServerError(Exception):
    """No server answers on the data directory's socket."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``admin`` options and sub-commands to ``parser``."""
    parser.add_argument("--data", metavar="DIR", help="data directory (default ./chinwag-data)")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML configuration file (for server.data_dir and cluster.store)",
    )
    parser.add_argument(
        "--store",
        metavar="URL",
        help="the network's PostgreSQL store (postgresql://user@host/db): create, list and "
        "forget work on it instead of the data directory's SQLite database",
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
        "forget",
        help="drop an account and the private messages it took part in (a running server "
        "logs its sessions out first)",
    )
    forget.add_argument("name", help="the account (or nick) to forget")
    actions.add_parser("list", help="list the accounts")
    backup = actions.add_parser(
        "backup",
        help="copy the database to FILE, consistently, even while the server runs",
        description="Copy the SQLite database with SQLite's online backup API: the copy is "
        "consistent even while the server writes. Keep cloak.key (and your TLS files) too.",
    )
    backup.add_argument("file", help="where to write the copy (replaced if it exists)")
    actions.add_parser("status", help="the running server's vital signs, as key: value lines")
    actions.add_parser("who", help="who is connected: nick, account, address, cloak, channels")
    kick = actions.add_parser("kick", help="kick a user out of a channel")
    kick.add_argument("words", nargs="+", metavar="#ROOM NICK [REASON]")
    kill = actions.add_parser("kill", help="disconnect a user")
    kill.add_argument("words", nargs="+", metavar="NICK [REASON]")
    ban = actions.add_parser(
        "ban",
        help="server bans: list, add MASK|account:NAME [DURATION] [REASON], remove MASK",
        description="ban list; ban add '*!*@10.0.0.*' 7d spam; ban add account:amy 30m; "
        "ban remove '*!*@10.0.0.*'. A duration is minutes (90) or 30m, 12h, 7d, 2w; none: "
        "permanent.",
    )
    ban.add_argument("words", nargs="+", metavar="list|add|remove ...")
    actions.add_parser("reload", help="make the running server re-read its configuration")
    say = actions.add_parser("say", help="announce as the server to a channel (or * for all)")
    say.add_argument("words", nargs="+", metavar="#ROOM|* TEXT")
    actions.add_parser(
        "nodes",
        help="the nodes of the network (a node of one only): name, epoch, lease age, users",
    )


def _data_dir(args: argparse.Namespace) -> Path:
    if args.data:
        return Path(args.data)
    from chinwag.server import load_config

    return Path(load_config(args.config).server.data_dir)


def _store_url(args: argparse.Namespace) -> str:
    """The PostgreSQL store's URL (``--store``, else the configuration's), or empty: SQLite."""
    if args.store:
        return str(args.store).strip()
    if not args.config:
        return ""
    from chinwag.server import load_config

    return load_config(args.config).cluster.store.strip()


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


def admin_sockets(data_dir: Path) -> list[Path]:
    """The admin sockets in ``data_dir``: the server's, or each worker's in order."""
    path = data_dir / SOCKET_NAME
    if path.exists():
        return [path]
    found: list[tuple[int, Path]] = []
    with contextlib.suppress(OSError):
        for entry in data_dir.iterdir():
            match = WORKER_SOCKET.fullmatch(entry.name)
            if match:
                found.append((int(match.group(1)), entry))
    return [path for _, path in sorted(found)]


def ask_server(data_dir: Path, argv: list[str]) -> dict[str, Any]:
    """Send one command to the server running on ``data_dir`` (the first worker that answers,
    under ``--workers``); returns its JSON answer.

    Raises:
        NoServerError: no server listens on the socket (none runs, or it left a stale file).
        PermissionError: the socket belongs to another user.
    """
    paths = admin_sockets(data_dir)
    if not paths:
        raise NoServerError(f"no server is running on {data_dir} (no {SOCKET_NAME})")
    for path in paths[:-1]:
        with contextlib.suppress(NoServerError):
            return ask_socket(path, argv)
    return ask_socket(paths[-1], argv)


def ask_socket(path: Path, argv: list[str]) -> dict[str, Any]:
    """Send ``argv`` over the admin socket at ``path``; its JSON answer."""
    data_dir = path.parent
    name, fd = bindable_path(path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(SOCKET_TIMEOUT)
        try:
            sock.connect(name)
        except (ConnectionRefusedError, FileNotFoundError):
            raise NoServerError(f"no server is running on {data_dir}") from None
        finally:
            if fd is not None:
                os.close(fd)
        sock.sendall(json.dumps({"argv": argv}).encode() + b"\n")
        with sock.makefile("rb") as answer:
            line = answer.readline()
    if not line:
        raise NoServerError("the server closed the admin socket without an answer")
    reply: dict[str, Any] = json.loads(line)
    return reply


def _online(data_dir: Path, argv: list[str], *, server_needed: bool = True) -> int | None:
    """Run ``argv`` on the running server and print its answer; the exit status, or None when
    no server runs and ``server_needed`` is false (the caller then works on the files)."""
    try:
        reply = ask_server(data_dir, argv)
    except NoServerError as exc:
        if not server_needed:
            return None
        print(f"chinwag: {exc}: {argv[0]} needs the running server", file=sys.stderr)
        return 1
    except PermissionError:
        print(
            f"chinwag: permission denied on {data_dir / SOCKET_NAME}: run this as the user "
            "the server runs as",
            file=sys.stderr,
        )
        return 1
    if not reply.get("ok"):
        print(f"chinwag: {reply.get('error', 'refused')}", file=sys.stderr)
        return 1
    output = str(reply.get("output", ""))
    if output:
        print(output)
    return 0


def backup(data_dir: Path, target: Path) -> None:
    """Copy ``data_dir``'s database to ``target`` with SQLite's backup API (mode 0600).

    The copy is one consistent snapshot even while a server writes (a read transaction in
    WAL mode), written next to ``target`` first and renamed over it when complete.

    Raises:
        FileNotFoundError: there is no database in ``data_dir``.
        sqlite3.Error, OSError: the copy failed (``target`` is then untouched).
    """
    source_file = data_dir / DB_FILENAME
    if not source_file.exists():
        raise FileNotFoundError(f"no database at {source_file}")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        source = sqlite3.connect(f"{source_file.resolve().as_uri()}?mode=ro", uri=True)
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # all pages in one step: one snapshot
        finally:
            copy.close()
            source.close()
        os.replace(partial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def _backup(data_dir: Path, target: str) -> int:
    try:
        backup(data_dir, Path(target))
    except (OSError, sqlite3.Error) as exc:
        print(f"chinwag: backup failed: {exc}", file=sys.stderr)
        return 1
    size = Path(target).stat().st_size
    print(f"backed up {data_dir / DB_FILENAME} to {target} ({size} bytes)")
    return 0


async def _run(args: argparse.Namespace, data_dir: Path) -> int:
    if args.action == "forget":
        # No server answered on the socket. One that runs all the same (its socket gone, or
        # not ours) would keep the account logged in and its name claimable: refuse.
        try:
            claim = DataDirLock(data_dir)
        except DataDirBusyError as exc:
            print(
                f"chinwag: {exc}, and its admin socket did not answer: run this as the user the "
                "server runs as, or stop it first (the account's owner can also /msg NickServ "
                "DROP)",
                file=sys.stderr,
            )
            return 1
        try:
            return await _run_store(args, data_dir)
        finally:
            claim.release()
    return await _run_store(args, data_dir)


async def _run_store(args: argparse.Namespace, data_dir: Path | None, url: str = "") -> int:
    try:
        store = open_store(data_dir, url=url)
    except StoreError as exc:
        print(f"chinwag: {exc}", file=sys.stderr)
        return 1
    try:
        if args.action == "create":
            return await _create(store, args.name)
        if args.action == "forget":
            return await _forget(store, args.name)
        return await _list(store)
    finally:
        await store.close()


def _run_on_postgres(args: argparse.Namespace, data_dir: Path, url: str) -> int:
    """``create``, ``list``, ``forget`` on the network's PostgreSQL store."""
    if not url.startswith(("postgresql://", "postgres://")):
        print(f"chinwag: --store must be a PostgreSQL URL, not {url!r}", file=sys.stderr)
        return 2
    if args.action == "backup":
        print(
            "chinwag: the store is PostgreSQL: back it up with pg_dump (or your provider's "
            "backups); backup copies a data directory's SQLite database",
            file=sys.stderr,
        )
        return 2
    if args.action == "forget" and str(data_dir).lower() != "none":
        # A node running on this data directory logs the account's sessions out first.
        status = _online(data_dir, ["forget", args.name], server_needed=False)
        if status is not None:
            return status
    return asyncio.run(_run_store(args, None, url))


def run(args: argparse.Namespace) -> int:
    """Run ``chinwag admin ACTION``; returns the exit status."""
    if not args.action:
        print(
            "chinwag admin: choose an action: create, list, forget, backup, status, who, kick, "
            "kill, ban, reload, say or nodes (chinwag admin --help)",
            file=sys.stderr,
        )
        return 2
    try:
        data_dir = _data_dir(args)
        url = _store_url(args)
    except ValueError as exc:  # ConfigError
        print(f"chinwag: {exc}", file=sys.stderr)
        return 2
    if url and args.action in ("create", "list", "forget", "backup"):
        return _run_on_postgres(args, data_dir, url)
    if str(data_dir).lower() == "none":
        print("chinwag: the data directory is 'none': nothing to manage", file=sys.stderr)
        return 2
    if args.action in ONLINE_ACTIONS:
        return _online(data_dir, [args.action, *getattr(args, "words", [])]) or 0
    if args.action == "backup":
        return _backup(data_dir, args.file)
    if args.action == "forget":
        # A running server logs the account's sessions out before it goes.
        status = _online(data_dir, ["forget", args.name], server_needed=False)
        if status is not None:
            return status
    return asyncio.run(_run(args, data_dir))
