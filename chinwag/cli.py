"""The ``chinwag`` command: ``serve`` runs a server, ``connect`` opens the chat client,
``passwd`` prints a password hash for the configuration file, ``admin`` administers a server
(running or not), ``doctor`` checks a configuration and data directory."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from typing import Any

from chinwag import __version__
from chinwag.protocol import core_name

__all__ = ["build_parser", "main"]


def _add_serve(subparsers: Any) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run a chat server",
        description=(
            "Run a chinwag server. With no flags it listens on 127.0.0.1:6667 and puts every "
            "user in #lobby. Settings come from the embedded defaults, then --config FILE, then "
            "CHINWAG__SECTION__KEY environment variables, then these flags."
        ),
    )
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 6667)")
    serve.add_argument(
        "--name",
        help="server name shown to clients, at most 63 bytes (default: this host's name)",
    )
    serve.add_argument(
        "--motd",
        metavar="FILE",
        help="file with the message of the day (read at start and on SIGHUP)",
    )
    serve.add_argument("--config", metavar="FILE", help="TOML configuration file")
    serve.add_argument(
        "--password",
        help="server password that clients must send with PASS (hashed in memory, never stored)",
    )
    serve.add_argument("--data", metavar="DIR", help="data directory (default ./chinwag-data)")
    serve.add_argument(
        "--store",
        metavar="URL",
        help="keep accounts, channels, bans and history in PostgreSQL instead of SQLite, shared "
        "by every server given the same URL: postgresql://user@host/db or "
        "postgresql://user@/db?host=/socket/dir (needs pip install 'chinwag[cluster]')",
    )
    serve.add_argument(
        "--redis",
        metavar="URL",
        help="be one node of a network whose nodes share this Redis (redis://host:port/db, "
        "rediss://..., unix:///path/redis.sock); needs --store",
    )
    serve.add_argument(
        "--node-name",
        metavar="NAME",
        help="this node's name in the network, a server name with a dot (default: --name)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="run N nodes of the network in processes of their own on this machine, all "
        "listening on the same ports (SO_REUSEPORT), to use N cores; each is named NODE-NAME "
        "with -1, -2... added to its first label; needs --redis and --store (default 1)",
    )
    serve.add_argument(
        "--tls",
        action="store_true",
        default=None,
        help="also listen with TLS on port 6697, with a self-signed certificate generated once "
        "into the data directory unless --tls-cert/--tls-key are given",
    )
    serve.add_argument("--tls-port", type=int, help="port of the TLS listener (default 6697)")
    serve.add_argument("--tls-cert", metavar="FILE", help="TLS certificate chain (PEM)")
    serve.add_argument("--tls-key", metavar="FILE", help="TLS private key (PEM)")
    serve.add_argument(
        "--websocket",
        metavar="HOST:PORT",
        help="also serve IRC over WebSocket at /irc and the web client at / on this address "
        "(HTTPS when the server has a TLS certificate); for example 127.0.0.1:8080",
    )
    serve.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="how much to log to stderr (default info)",
    )
    serve.add_argument(
        "--log-format",
        choices=["text", "json"],
        help="text for people (default) or one JSON object per line for log collectors",
    )
    serve.add_argument(
        "--metrics",
        metavar="HOST:PORT",
        help="serve Prometheus metrics on http://HOST:PORT/metrics (default: off)",
    )
    serve.add_argument(
        "--version",
        action="version",
        version=f"chinwag {__version__} (core={core_name()})",
        help="show the version and whether the compiled protocol core is in use, and exit",
    )
    serve.set_defaults(func=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    from chinwag import logs
    from chinwag.server import ConfigError, load_config, run_server
    from chinwag.server.passwords import hash_password

    overrides: dict[str, dict[str, Any]] = {
        "server": {
            "host": args.host,
            "port": args.port,
            "name": args.name,
            "motd_file": args.motd,
            "password_hash": hash_password(args.password) if args.password else None,
            "data_dir": args.data,
            "tls": args.tls,
            "tls_port": args.tls_port,
            "tls_cert": args.tls_cert,
            "tls_key": args.tls_key,
        },
        "websocket": {"listen": args.websocket},
        "cluster": {
            "store": args.store,
            "redis": args.redis,
            "node_name": args.node_name,
            "workers": args.workers,
        },
        "logging": {"level": args.log_level, "format": args.log_format},
        "metrics": {"listen": args.metrics},
    }
    try:
        config = load_config(args.config, overrides=overrides)
    except ConfigError as exc:
        print(f"chinwag: {exc}", file=sys.stderr)
        return 2
    logs.configure(config.logging.format, config.logging.level)
    # A reload reads the same file with the same flags (the password already hashed).
    source = lambda: load_config(args.config, overrides=overrides)  # noqa: E731
    if config.cluster.workers > 1:
        from chinwag.server.workers import run_workers

        return run_workers(config, source)
    return run_server(config, source)


def _add_connect(subparsers: Any) -> None:
    from chinwag.client import cli as client_cli

    connect = subparsers.add_parser(
        "connect",
        help="open the chat client",
        description="Connect to a chinwag (or any IRC) server and chat.",
    )
    client_cli.add_arguments(connect)
    connect.set_defaults(func=client_cli.run)


def _add_passwd(subparsers: Any) -> None:
    passwd = subparsers.add_parser(
        "passwd",
        help="print an argon2id password hash for chinwag.toml",
        description=(
            "Read a password (asked twice on a terminal, one line from standard input otherwise) "
            "and print its argon2id hash, to paste as password_hash in chinwag.toml."
        ),
    )
    passwd.set_defaults(func=_run_passwd)


def _run_passwd(args: argparse.Namespace) -> int:
    from chinwag.server.passwords import hash_password
    from chinwag.store import InvalidPasswordError

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            print("chinwag: the passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        print(hash_password(password))
    except InvalidPasswordError as exc:
        print(f"chinwag: {exc}", file=sys.stderr)
        return 1
    return 0


def _add_admin(subparsers: Any) -> None:
    from chinwag import admin

    parser = subparsers.add_parser(
        "admin",
        help="administer a server: status, who, kick, kill, ban, reload, say, nodes, accounts, "
        "backup",
        description="Administer a server. status, who, kick, kill, ban, reload, say and nodes "
        "talk to the running server over DATA_DIR/admin.sock (only the user the server runs as "
        "may; under --workers, the first worker's DATA_DIR/admin-<i>.sock that answers); "
        "create, list, forget and backup also work on the data directory of a stopped server, "
        "and create, list and forget on a PostgreSQL store given with --store.",
    )
    admin.add_arguments(parser)
    parser.set_defaults(func=admin.run)


def _add_doctor(subparsers: Any) -> None:
    from chinwag import doctor

    parser = subparsers.add_parser(
        "doctor",
        help="check a configuration and data directory and say what is wrong",
        description="Check the configuration, the data directory's permissions, the TLS "
        "certificate's expiry, free disk space and the database's integrity. Only reads; "
        "safe while the server runs. Exit status 1 when something is wrong.",
    )
    doctor.add_arguments(parser)
    parser.set_defaults(func=doctor.run)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="chinwag", description="A console chat: an IRC server and a terminal client."
    )
    parser.add_argument("--version", action="version", version=f"chinwag {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_serve(subparsers)
    _add_connect(subparsers)
    _add_passwd(subparsers)
    _add_admin(subparsers)
    _add_doctor(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``chinwag`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    result: int = args.func(args)
    return result
