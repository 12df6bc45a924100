"""``chinwag connect``: the client's command-line arguments and entry point.

`chinwag.cli` builds the parser and calls `add_arguments` and `run`. Textual is imported only when
the full-screen app is about to start, so ``chinwag --help`` and plain mode stay quick.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Callable
from typing import TextIO

from chinwag.client.conversation import DEFAULT_SCROLLBACK
from chinwag.client.credentials import Credentials
from chinwag.client.net import Options
from chinwag.client.render import flat
from chinwag.client.session import Session
from chinwag.client.settings import Settings
from chinwag.client.trust import KnownHosts, config_dir, host_key
from chinwag.protocol import is_valid_nick

__all__ = ["add_arguments", "ask_nick_on_terminal", "parse_target", "run"]

DEFAULT_TARGET = "127.0.0.1:6667"
_NICKLEN = 30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``connect`` arguments to ``parser``."""
    parser.add_argument(
        "target",
        nargs="?",
        default=DEFAULT_TARGET,
        metavar="HOST[:PORT]",
        help=f"server to connect to (default {DEFAULT_TARGET}; port 6697 with --tls)",
    )
    parser.add_argument(
        "--nick",
        help="your nick (default: the --account NAME; asked for on a terminal when neither is "
        "given, and needed when input is not a terminal). A taken nick is asked for again, or, "
        "when input is not a terminal, becomes NICK_ then NICK__",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="connect with TLS, verified by the system CA store; a certificate no CA vouches "
        "for (self-signed) is shown by fingerprint and trusted on first use if you say so "
        "(remembered in ~/.config/chinwag/known_hosts, like SSH)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="with --tls: do not check the server certificate at all (no CA, no fingerprint)",
    )
    parser.add_argument(
        "--trust-new",
        action="store_true",
        help="with --tls: trust a certificate no CA vouches for when this host:port has none "
        "remembered, without asking (its fingerprint is shown and remembered in "
        "~/.config/chinwag/known_hosts; a different certificate later is refused)",
    )
    parser.add_argument(
        "--forget-host",
        action="store_true",
        help="with --tls: forget the certificate remembered for this host:port first "
        "(after the server's certificate changed on purpose)",
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="line mode: one event per line on stdout, one message per line on stdin "
        "(automatic when stdin or stdout is not a terminal). Lines are paced to what the "
        "server acknowledges; the exit status is 0 only when every line went out",
    )
    parser.add_argument(
        "--no-colour",
        "--no-color",
        dest="colour",
        action="store_false",
        help="do not show IRC colours and styles (bold, italic...): they are stripped, never "
        "shown as digits. Also when the NO_COLOR environment variable is set",
    )
    parser.add_argument(
        "--raw",
        action="store_true",
        help="plain mode, printing what others send exactly as received. UNSAFE on a "
        "terminal: escape sequences in messages then reach it (they can retitle the window, "
        "move the cursor, fake lines). Without it, control characters are shown as visible "
        "markers such as \u241b for ESC (implies --plain)",
    )
    parser.add_argument(
        "--password",
        help="server password (sent with PASS); with --account, the account's password",
    )
    parser.add_argument(
        "--account",
        metavar="NAME",
        help="log in to this account (SASL PLAIN); the password is --password or asked for",
    )
    parser.add_argument(
        "--save-password",
        action="store_true",
        help="with --account: once the login succeeds, save the account and password for this "
        "server in ~/.config/chinwag/credentials and log in with them next time without "
        "--account/--password. The password is stored IN PLAIN TEXT, protected only by the "
        "file's mode 0600 (as many IRC clients do)",
    )
    parser.add_argument(
        "--forget-password",
        action="store_true",
        help="delete the saved login for this server from ~/.config/chinwag/credentials",
    )
    parser.add_argument(
        "--join",
        action="append",
        default=[],
        metavar="#ROOM",
        help="join this room after connecting (repeatable); the server may also put you in rooms",
    )
    parser.add_argument(
        "--scrollback",
        type=int,
        default=DEFAULT_SCROLLBACK,
        metavar="LINES",
        help=f"lines kept per conversation (default {DEFAULT_SCROLLBACK})",
    )
    parser.add_argument(
        "--no-reconnect",
        dest="reconnect",
        action="store_false",
        help="exit when the connection drops instead of reconnecting (always so in plain "
        "mode when input is not a terminal)",
    )


def parse_target(target: str, tls: bool) -> tuple[str, int]:
    """Split ``HOST[:PORT]`` (``[v6addr]:port`` too); the port defaults to 6667, or 6697 with TLS.

    Raises:
        ValueError: the port is not a number in 1..65535.
    """
    default_port = 6697 if tls else 6667
    host, port_text = target, ""
    if target.startswith("["):
        host, _, rest = target[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif target.count(":") == 1:
        host, _, port_text = target.partition(":")
    if not port_text:
        return host or "127.0.0.1", default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"invalid port {port_text!r}")
    return host or "127.0.0.1", int(port_text)


def ask_nick_on_terminal(stdin: TextIO, stderr: TextIO, prompt: bool) -> str | None:
    """Ask for a nick until a valid one is given; None at end of input."""
    while True:
        if prompt:
            stderr.write("Your nick: ")
            stderr.flush()
        line = stdin.readline()
        if not line:
            return None
        nick = line.strip()
        if is_valid_nick(nick, _NICKLEN):
            return nick
        stderr.write(
            f"chinwag: {nick!r} is not a valid nick: use letters, digits and -_[]{{}}\\|^` "
            f"(not starting with a digit or -), at most {_NICKLEN} characters\n"
        )


def _saver(credentials: Credentials, key: str) -> Callable[[str, str], None]:
    def save(account: str, password: str) -> None:
        try:
            credentials.save(key, account, password)
        except (OSError, ValueError) as exc:
            print(f"chinwag: could not save the password: {exc}", file=sys.stderr)
            return
        print(
            f"chinwag: saved the password of {account} for {key} in {credentials.path} "
            "(plain text, readable only by you)",
            file=sys.stderr,
        )

    return save


def run(args: argparse.Namespace) -> int:
    """Run the client with parsed arguments; return the exit status."""
    plain = args.plain or args.raw or not (sys.stdin.isatty() and sys.stdout.isatty())
    colour = args.colour and not os.environ.get("NO_COLOR")
    try:
        host, port = parse_target(args.target, args.tls)
    except ValueError as exc:
        print(f"chinwag: {exc}", file=sys.stderr)
        return 2
    nick = args.nick
    if nick is None and args.account and is_valid_nick(args.account, _NICKLEN):
        nick = args.account  # --account NAME: the nick is NAME unless --nick says otherwise
    if nick is not None and not is_valid_nick(nick, _NICKLEN):
        print(f"chinwag: {nick!r} is not a valid nick", file=sys.stderr)
        return 2
    if nick is None and not sys.stdin.isatty():
        # Every input line is a message: none of them may be taken for a nick.
        print("chinwag: --nick is needed when input is not a terminal", file=sys.stderr)
        return 2
    if nick is None:
        nick = ask_nick_on_terminal(sys.stdin, sys.stderr, prompt=True)
        if nick is None:
            print("chinwag: no nick given", file=sys.stderr)
            return 1
    config = config_dir()
    key = host_key(host, port)
    credentials = Credentials(config / "credentials")
    if args.forget_password and credentials.forget(key):
        print(f"chinwag: forgot the saved login for {key}", file=sys.stderr)
    password, account, account_password = args.password, args.account, None
    saved = None if args.forget_password else credentials.get(key, account)
    if account:
        password, account_password = None, args.password
        if account_password is None and saved is not None:
            account_password = saved[1]
        if account_password is None:
            if not sys.stdin.isatty():
                print("chinwag: --account needs --password when not on a terminal", file=sys.stderr)
                return 2
            account_password = getpass.getpass(f"Password for {account}: ")
    elif saved is not None:
        account, account_password = saved
        print(f"chinwag: logging in as {account} with the saved password", file=sys.stderr)
    if args.save_password and not account:
        print("chinwag: --save-password needs --account", file=sys.stderr)
        return 2
    session = Session(
        nick,
        password=password,
        account=account,
        account_password=account_password,
        scrollback=max(args.scrollback, 1),
    )
    settings = Settings.load(config / "client.toml")
    session.ignores = list(settings.ignore)
    for room in args.join:
        session.want_room(room if session.is_channel(room) else "#" + room)
    known_hosts = config / "known_hosts"
    if args.forget_host and KnownHosts(known_hosts).forget(key):
        print(f"chinwag: forgot the certificate of {key}", file=sys.stderr)
    options = Options(
        host=host,
        port=port,
        tls=args.tls,
        tls_verify=not args.insecure,
        known_hosts=known_hosts,
        reconnect=args.reconnect,
        on_login=_saver(credentials, key) if args.save_password else None,
        formatting=colour,
    )
    if plain:
        from chinwag.client.plain import output_filter, run_plain

        clean = output_filter(raw=args.raw, colours=colour and sys.stdout.isatty())
        try:
            return asyncio.run(run_plain(session, options, trust_new=args.trust_new, clean=clean))
        except KeyboardInterrupt:
            return 130
    from chinwag.client.app import ChatApp

    app = ChatApp(session, options, settings)
    app.run()
    if app.failure:
        print(f"chinwag: {flat(app.failure)}", file=sys.stderr)
        return 1
    return app.return_code or 0
