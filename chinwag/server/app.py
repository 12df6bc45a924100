"""The server process: listeners, the flusher, the timer sweep, and an orderly start and stop.

Start: load configuration, open the listening sockets, start the sweep that enforces
registration and ping timeouts. Stop (SIGINT or SIGTERM): stop listening, tell every client
``ERROR :Server shutting down``, give the sockets a bounded moment to drain, then close what is
left. All of it in one event loop; nothing here blocks it.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import ipaddress
import logging
import signal
import ssl
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chinwag import logs
from chinwag.cluster.bus import NetworkUnreachableError
from chinwag.protocol import DecodeError, Message, core_name
from chinwag.server import commands
from chinwag.server.accounts import Accounts
from chinwag.server.admin_commands import AdminCommands
from chinwag.server.admin_socket import SOCKET_NAME, AdminSocket
from chinwag.server.admission import Handshakes, TlsGate
from chinwag.server.cloak import Cloaker, load_secret
from chinwag.server.commands.base import Context
from chinwag.server.commands.fast_path import FastPath
from chinwag.server.config import Config, parse_listen
from chinwag.server.connection import Connection
from chinwag.server.history import History
from chinwag.server.join_hint import join_hints, lan_address
from chinwag.server.klines import KLines
from chinwag.server.metrics import ChinwagCollector, MetricsEndpoint
from chinwag.server.motd import Motd
from chinwag.server.network import Network
from chinwag.server.outbox import Outbox
from chinwag.server.reload import Reloader, tls_files
from chinwag.server.state import Client
from chinwag.server.stats import LoopMonitor, Stats
from chinwag.server.tasks import Tasks
from chinwag.server.tls import server_context
from chinwag.server.websocket import WebSocketListener
from chinwag.store import Store, StoreError, open_store
from chinwag.store.lock import DataDirBusyError, DataDirLock

if TYPE_CHECKING:  # the cluster's modules need its extra (redis): imported when used
    from chinwag.cluster.network_history import NetworkHistory
    from chinwag.cluster.node import ClusterNode
    from chinwag.server.worker import Worker

__all__ = ["Server", "data_path", "run_server"]

log = logging.getLogger("chinwag.server")

SWEEP_INTERVAL = 1.0
LAZY_FLUSH = 0.05
"""Seconds output that may wait (others' JOINs) waits at most: one write then carries the JOINs
of every arrival in that time, shared by the members as one batch (`fanout.announce_arrival`).
Nobody notices an arrival shown 50 ms late; a join storm costs a write per member per 50 ms
instead of per 10 ms (a 1k storm with every JOIN shown: 5-8% less server CPU in two runs).
The window opens once the outbox has written the last one's output (a big room's is written
in slices over a few turns, ``outbox.py``): opened at once, the windows of a 5k storm with every
JOIN shown were 14% more, as were its writes, for 20% more server CPU."""
LAZY_FLUSH_MAX = 0.1
"""Seconds output that may wait waits at most while the outbox is behind (a big room busy every
turn may keep it behind for long): then it goes even if the outbox has not caught up. A crowded
window (`LAZY_CROWD`) waits `LAZY_FLUSH_CROWD` at most, behind or not."""
LAZY_CROWD = 100
"""Connections with output waiting lazily that make a window a crowded one (`LAZY_FLUSH_CROWD`):
below it a window's writes cost well under a millisecond."""
LAZY_FLUSH_CROWD = 0.2
"""Seconds a crowded window waits: the arrivals into a room of hundreds. A window costs one
write per member, and those writes were a fifth of the server's CPU in a 1k join storm with
every JOIN shown (``perf record``; 12,100 writes, 10,100 of them the windows'). Measured on that
storm against 50 ms windows in the same run: 100 ms windows 0.21 s of server CPU against 0.24;
200 ms (with `fanout.Tail`, which keeps a longer window cheap) 6,400 writes and 0.20 s against
0.24. 200 ms is still well under what anyone notices of somebody else's JOIN, and nothing else
waits for it: the members' own replies go at once, and a line said in the room closes the
window (``fanout.send_to_channel``)."""
SHUTDOWN_GRACE = 1.0  # seconds; the whole stop must fit in the 2 s promised in the README


def data_path(config: Config) -> Path | None:
    """The data directory, or None when ``data_dir`` is ``none`` (everything kept in memory)."""
    data_dir = config.server.data_dir.strip()
    return None if data_dir.lower() in ("", "none") else Path(data_dir)


@functools.lru_cache(maxsize=1024)  # asked at every connection: parsing costs microseconds
def _is_loopback(ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback  # ::ffff:127.0.0.1 from a dual-stack listener
    return address.is_loopback


class Server:
    """A running chinwag server: it builds the parts and gives each the collaborators it uses.

    Args:
        config: the validated configuration.
        store: the store to run on; by default the one ``data_dir`` says (opened here).
        config_source: reads the configuration again, for a reload (SIGHUP, REHASH).
        worker: this server's place among the node processes of ``--workers`` (None: a
            server on its own): its listeners share their ports, the data directory is the
            supervisor's (which holds its lock), and its admin socket is named after it.

    Raises:
        OSError, sqlite3.Error, StoreError: when the store or the cloak secret cannot be opened.
    """

    def __init__(
        self,
        config: Config,
        store: Store | None = None,
        config_source: Callable[[], Config] | None = None,
        worker: Worker | None = None,
    ) -> None:
        self.config = config
        self.worker = worker
        self.store = (
            store
            if store is not None
            else open_store(
                data_path(config),
                url=config.cluster.store.strip(),
                indexer="process",
                fsync=config.history.fsync == "turn",
            )
        )
        self._tasks = Tasks()
        self.network = Network(config)
        # Every worker cloaks with the supervisor's secret: one address, one cloak on all.
        secret = load_secret(data_path(config)) if worker is None else worker.cloak_secret
        self.network.cloaks = Cloaker(config.privacy, secret)
        self.stats = Stats()
        self.monitor = LoopMonitor(self.stats, self.store.history.after_writes)
        self.motd = Motd(config.server)
        self.accounts = Accounts(
            config, self.network, self.store, self._tasks.spawn, lambda: self.tls_port
        )
        redis_url = config.cluster.redis.strip()
        node_name = config.cluster.node_name.strip() or config.server.name
        history_store = self.store.history
        kept: NetworkHistory | None = None
        if redis_url:  # history is kept in Redis first, then moved into PostgreSQL
            from chinwag.cluster.history_feed import HistoryFeed
            from chinwag.cluster.network_history import NetworkHistory

            feed = HistoryFeed(redis_url, node_name, history_store)
            history_store = kept = NetworkHistory(history_store, feed)
        # The store's turn ends first: the journal is written before any output.
        self.outbox = Outbox(history_store.end_turn, self._outbox_caught_up)
        self.history = History(
            config.history,
            history_store,
            self.network,
            self.spawn,
            self.outbox,
            accounts=self.store.accounts,
        )
        self.cluster: ClusterNode | None = None
        if redis_url:
            from chinwag.cluster.node import ClusterNode

            self.cluster = ClusterNode(
                self.network,
                self.history,
                redis_url,
                node_name,
                kept,
                bans=self.accounts.bans,
                registry=self.accounts.channels,
            )
        # On a node of a network it relays through the observer, as the handlers do.
        self.fast_path: FastPath | None = FastPath(self.network, self.history)
        """Runs the common lines without the general dispatch; None sends every line through
        `commands.dispatch` (the reference, which tests compare it with)."""
        self.reloader = Reloader(
            config,
            config_source,
            network=self.network,
            accounts=self.accounts,
            history=self.history,
            motd=self.motd,
            spawn=self.spawn,
        )
        self.klines = KLines(self.accounts.bans, self.store.bans, self.network, self.spawn)
        self.metrics: MetricsEndpoint | None = None
        self.admin: AdminSocket | None = None
        self.servers: list[asyncio.Server] = []
        self.handshakes = Handshakes()
        self._lock: DataDirLock | None = None
        self._lazy: list[Connection] = []
        # Connections closed (KILL, a ban, QUIT) whose last bytes still wait to be written: no
        # longer in the network, and no timer of theirs applies, so `stop` cuts them itself.
        self._closing: set[Connection] = set()
        self._lazy_handle: asyncio.TimerHandle | None = None
        self._lazy_opened = 0.0  # loop time the lazy window opened
        self._sweeper: asyncio.TimerHandle | None = None
        self._stopped = asyncio.Event()
        self.websocket: WebSocketListener | None = None

    @property
    def tasks(self) -> set[asyncio.Task[Any]]:
        """The background tasks running now."""
        return self._tasks.running

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self, *, before_listening: Callable[[], object] | None = None) -> None:
        """Open the store, the listener(s) and start the timers.

        Args:
            before_listening: called once the store and the network's state are ready, just
                before the first listener opens: start-up work that would otherwise make the
                first arrivals wait (`tune_gc`'s full collection, for ``chinwag serve``).
        """
        loop = asyncio.get_running_loop()
        directory = data_path(self.config)
        if directory is not None and self._lock is None and self.worker is None:
            self._lock = DataDirLock(directory)  # shell commands see that the server runs
        self.motd.load()
        await self.accounts.start()
        self.history.start()
        if self.cluster is not None:
            await self.cluster.start()  # before any user can come: they must be claimed
            log.info("node %s of the network at %s", self.cluster.node, self.config.cluster.redis)
        if before_listening is not None:
            before_listening()
        limits = self.config.limits
        stats = self.stats
        # Workers each listen on the same ports; the kernel spreads connections over them.
        reuse_port = self.worker is not None
        send_buffer = 0  # what the listening sockets give every socket they accept

        def accepted() -> Connection:
            return Connection(self, self.network, limits, stats=stats, send_buffer=send_buffer)

        server = await loop.create_server(
            accepted,
            self.config.server.host,
            self.config.server.port,
            reuse_address=True,
            reuse_port=reuse_port,
            backlog=4096,
            start_serving=False,
        )
        self.servers.append(server)
        # Before it listens, so that every socket it accepts inherits the size.
        send_buffer = min(
            Connection.set_send_buffer(sock, limits.socket_send_buffer) for sock in server.sockets
        )
        await server.start_serving()
        tls_context = self.reloader.tls_context = self._tls_context()
        if tls_context is not None:
            # Plain TCP: each socket is counted and then upgraded by a TlsGate (see admission).
            secure = await loop.create_server(
                lambda: TlsGate(self, self.network, limits, tls_context, stats=stats),
                self.config.server.host,
                self.config.server.tls_port,
                reuse_address=True,
                reuse_port=reuse_port,
                backlog=4096,
            )
            self.servers.append(secure)
        if self.config.websocket.listen:
            self.websocket = WebSocketListener(
                self.config.websocket,
                lambda: Connection(
                    self, self.network, limits, tls=tls_context is not None, stats=stats
                ),
                self.admission_refusal,
                max_pending_per_ip=self.config.limits.max_clients_per_ip,
                exempt=lambda ip: self.config.limits.exempt_loopback and _is_loopback(ip),
            )
            await self.websocket.start(tls_context, reuse_port=reuse_port)
        self._sweeper = loop.call_later(SWEEP_INTERVAL, self._sweep)
        self.monitor.start()
        await self._start_admin_socket()
        if self.config.metrics.listen:
            collector = ChinwagCollector(
                self.stats,
                self.network,
                self.history,
                self.accounts.passwords,
                cluster=self.cluster,
            )
            self.metrics = MetricsEndpoint(collector)
            await self.metrics.start(*parse_listen(self.config.metrics.listen, "metrics.listen"))
            log.info("metrics on http://%s/metrics", self.metrics.address)
        # Whoever waits for this line (a supervisor, the tests) may use everything now.
        log.info("listening on %s (core=%s)", ", ".join(self.addresses()), core_name())
        host = self.config.server.host
        for line in join_hints(host, self.port, self.tls_port, lan_address()):
            log.info("%s", line)
        if self.worker is not None:
            self.worker.ready()  # the supervisor counts this worker as started

    async def _start_admin_socket(self) -> None:
        """Listen on ``DATA_DIR/admin.sock`` for ``chinwag admin`` (not without a data dir)."""
        directory = data_path(self.config)
        if directory is None:
            return
        commands = AdminCommands(
            self.network,
            self.stats,
            monitor=self.monitor,
            klines=self.klines,
            reloader=self.reloader,
            accounts=self.accounts,
            history=self.history,
            store=self.store,
            cluster=self.cluster,
        )
        name = SOCKET_NAME if self.worker is None else self.worker.admin_socket
        admin = AdminSocket(commands, directory / name)
        if await admin.start():
            self.admin = admin

    def _tls_context(self) -> ssl.SSLContext | None:
        """The TLS context when TLS is configured: given files, or a generated certificate."""
        files = tls_files(self.config)
        return None if files is None else server_context(*files)

    @property
    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS listener's context (a reload loads new certificates into it)."""
        return self.reloader.tls_context

    @property
    def tls_port(self) -> int | None:
        """The port of the TLS listener, when there is one."""
        if len(self.servers) < 2:
            return None
        return int(self.servers[1].sockets[0].getsockname()[1])

    def addresses(self) -> list[str]:
        """``host:port`` of every listening socket (the real port when 0 was asked for)."""
        out: list[str] = []
        for server in self.servers:
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                out.append(f"{host}:{port}")
        return out

    @property
    def port(self) -> int:
        """The port of the first listener."""
        return int(self.servers[0].sockets[0].getsockname()[1])

    async def stop(self, reason: str = "Server shutting down") -> None:
        """Stop in order: listeners, clients (with an ERROR line), timers, tasks."""
        for server in self.servers:
            server.close()
        if self.websocket is not None:
            self.websocket.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        self.monitor.stop()
        if self.metrics is not None:
            self.metrics.close()
        if self.admin is not None:
            self.admin.close()
        self.accounts.stop()
        self.history.stop()
        # Only this server's own connections: a user of another node of a network is closed
        # by its own node, which a close here would ask to do.
        conns = [client.conn for client in self.network.connections if not client.conn.remote]
        for conn in conns:
            conn.close(reason)
        # And those closed earlier whose ERROR waits behind a peer that stopped reading (one
        # with nothing left to write is gone the moment its socket closes: not waited for).
        conns += [
            conn
            for conn in self._closing.difference(conns)
            if conn.transport is not None and conn.transport.get_write_buffer_size() > 0
        ]
        if self._lazy_handle is not None:
            self._lazy_handle.cancel()
        self._flush_lazy()
        self.outbox.end_turn()
        # Give the ERROR lines a bounded moment to reach the peers, then drop what is left.
        lost = [conn.lost for conn in conns if not conn.lost.done()]
        if lost:
            await asyncio.wait(lost, timeout=SHUTDOWN_GRACE)
        for conn in conns:
            if conn.transport is not None and not conn.lost.done():
                conn.transport.abort()
        if self.cluster is not None:
            await self.cluster.stop()  # after the clients: their QUITs reach the other nodes
        await self._tasks.cancel_all(SHUTDOWN_GRACE / 2)
        await self.store.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        self._stopped.set()
        log.info("stopped")

    async def wait_stopped(self) -> None:
        """Wait until `stop` has finished."""
        await self._stopped.wait()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run background work (password hashing, store queries) and keep a reference to it."""
        return self._tasks.spawn(coro)

    # -- connections ---------------------------------------------------------------------------

    def admission_refusal(self, ip: str) -> str | None:
        """Why a new connection from ``ip`` must be refused, or None to accept it."""
        limits = self.config.limits
        handshakes = self.handshakes  # TLS connections still in their handshake count too
        connections = len(self.network.connections) + handshakes.total
        if limits.max_clients and connections >= limits.max_clients:
            return "Too many connections on this server"
        if (
            limits.max_clients_per_ip
            and self.network.per_ip[ip] + handshakes.per_ip[ip] >= limits.max_clients_per_ip
            and not (limits.exempt_loopback and _is_loopback(ip))
        ):
            return "Too many connections from your IP address"
        return None

    def dispatch(self, client: Client, item: Message | DecodeError) -> None:
        """Run one received line; a bug in a handler drops only this client."""
        if isinstance(item, Message):  # one dict update per line: cheaper than its parse
            verb = item.command if item.command in commands.COMMANDS else "unknown"
            received = self.stats.received
            received[verb] = received.get(verb, 0) + 1
        try:
            fast = self.fast_path
            if fast is None or not fast.handle(client, item):
                commands.dispatch(self.context(client), item)
        except Exception:
            log.exception("error handling a line from %s; dropping that client", client.nick)
            client.conn.close("Internal error")

    def context(self, client: Client) -> Context:
        """What a command of ``client`` may use: the parts, not the server."""
        return Context(
            self.network,
            self.history,
            self.accounts,
            self.store,
            self.config,
            self.motd,
            self._tasks.spawn,
            client,
            stats=self.stats,
            reload=self.reloader.reload,
        )

    def client_gone(self, client: Client, reason: str) -> None:
        """A connection ended: remove the user and tell its peers."""
        self.accounts.client_gone(client)
        self.network.remove(client, reason)
        self.history.client_gone(client)
        self.outbox.forget(client)

    def mark_dirty(self, conn: Connection) -> None:
        """``conn`` has output: the outbox writes it at the end of this loop turn."""
        self.outbox.mark_dirty(conn)

    def mark_lazy(self, conn: Connection) -> None:
        """Remember that ``conn`` has output that may wait: written within `LAZY_FLUSH`, or,
        while the outbox writes earlier output in slices, `LAZY_FLUSH` after it has caught up
        but within `LAZY_FLUSH_MAX` anyway; a window of `LAZY_CROWD` connections or more is
        written `LAZY_FLUSH_CROWD` after it opened."""
        lazy = self._lazy
        lazy.append(conn)
        handle = self._lazy_handle
        if handle is None:
            loop = asyncio.get_running_loop()
            delay = LAZY_FLUSH_MAX if self.outbox.behind else LAZY_FLUSH
            self._lazy_opened = loop.time()
            self._lazy_handle = loop.call_later(delay, self._flush_lazy)
        elif len(lazy) == LAZY_CROWD:  # once per window: it is a crowded one from now on
            due = self._lazy_opened + LAZY_FLUSH_CROWD
            if handle.when() < due:
                handle.cancel()
                self._lazy_handle = asyncio.get_running_loop().call_at(due, self._flush_lazy)

    def _outbox_caught_up(self) -> None:
        """The outbox wrote its last slice: what waits goes `LAZY_FLUSH` from now (a crowded
        window `LAZY_FLUSH_CROWD`), if not sooner."""
        lazy = self._lazy
        if not lazy:
            return
        loop = asyncio.get_running_loop()
        delay = LAZY_FLUSH_CROWD if len(lazy) >= LAZY_CROWD else LAZY_FLUSH
        handle = self._lazy_handle
        if handle is not None:
            if handle.when() <= loop.time() + delay:
                return
            handle.cancel()
        self._lazy_handle = loop.call_later(delay, self._flush_lazy)

    def _flush_lazy(self) -> None:
        """Hand the output that waited to the outbox (which keeps it behind earlier commits)."""
        self._lazy_handle = None
        lazy, self._lazy = self._lazy, []
        for conn in lazy:
            if conn.due_lazily():  # not already written with something urgent
                self.outbox.mark_dirty(conn)

    def finish(self, conn: Connection, data: bytes) -> None:
        """Write ``conn``'s last bytes in turn, then close its socket (see the outbox)."""
        self._closing.add(conn)
        conn.lost.add_done_callback(lambda _lost: self._closing.discard(conn))
        self.outbox.finish(conn, data)

    # -- timers --------------------------------------------------------------------------------

    def _sweep(self) -> None:
        """Enforce registration timeouts and ping the idle; runs every SWEEP_INTERVAL."""
        self._sweeper = asyncio.get_running_loop().call_later(SWEEP_INTERVAL, self._sweep)
        self.check_timeouts(time.monotonic())

    def check_timeouts(self, now: float) -> None:
        """Apply the timeouts as of monotonic time ``now`` (tests call this with a fake clock)."""
        limits = self.config.limits
        for client in list(self.network.connections):
            conn = client.conn
            if conn.closing:
                continue
            if not client.registered:
                if now - conn.connected_at > limits.registration_timeout:
                    conn.close("Registration timed out")
                continue
            if conn.ping_sent_at is not None:
                if now - conn.ping_sent_at > limits.ping_timeout:
                    seconds = int(now - conn.last_read)
                    conn.close(f"Ping timeout: {seconds} seconds")
            elif now - conn.last_read > limits.ping_interval:
                conn.ping_sent_at = now
                self.network.send_from_server(client, "PING", self.network.name)


def _install_uvloop() -> bool:
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


async def _serve(config: Config, source: Callable[[], Config] | None, worker: Worker | None) -> int:
    try:
        server = Server(config, config_source=source, worker=worker)
        # The collector's one full pass runs before anyone can connect, not in their way.
        await server.start(before_listening=tune_gc)
    except (StoreError, NetworkUnreachableError) as exc:
        log.error("%s", exc)
        return 1
    except DataDirBusyError as exc:
        log.error("cannot start: %s", exc)
        return 1
    except (OSError, ssl.SSLError) as exc:
        log.error("cannot start listening on %s: %s", config.server.host, exc)
        return 1
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []

    def request_stop(signame: str) -> None:
        if not stopping:
            log.info("%s received, shutting down", signame)
            stopping.append(loop.create_task(server.stop()))

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop, sig.name)
    loop.add_signal_handler(signal.SIGHUP, _reload_on_signal, server)
    server.reloader.on_reload = _reconfigure_logging
    await server.wait_stopped()
    return 0


def _reconfigure_logging(config: Config) -> None:
    logs.configure(config.logging.format, config.logging.level)


def _reload_on_signal(server: Server) -> None:
    log.info("SIGHUP received, reloading the configuration")
    server.reloader.reload()


GC_THRESHOLDS = (10_000, 50, 100)
"""Generation thresholds for a running server (Python's defaults: 700, 10, 10)."""


def tune_gc() -> None:
    """Make the garbage collector cheaper for a long-running server (called once it is set up,
    before it listens: `Server.start`).

    Nearly everything the server allocates is freed by reference counting; the collector is
    only needed for the rare cycle. With the defaults it runs a young collection every 700
    allocations, and objects that live a little while (a message waiting for its commit) get
    promoted and walked again by every older collection: about a tenth of the CPU of a busy
    server with durable history. So: collect once, freeze what start-up built (modules,
    configuration: never garbage, never walked again), and collect young objects every 10,000
    allocations (each pass about a millisecond) and old ones far more rarely. The one full
    collection costs 10-15 ms of CPU (30-80 ms on a busy machine): run after the listeners
    opened, the first clients to arrive waited for it.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run_server(
    config: Config, source: Callable[[], Config] | None = None, worker: Worker | None = None
) -> int:
    """Run the server until SIGINT or SIGTERM; return the process exit status.

    Args:
        config: the configuration to start with.
        source: reads the configuration again, for SIGHUP (None: SIGHUP reloads nothing).
        worker: this process's place among the workers of ``--workers`` (`workers.py`).
    """
    if _install_uvloop():
        log.debug("using uvloop")
    return asyncio.run(_serve(config, source, worker))
