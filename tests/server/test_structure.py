"""The shape of ``chinwag/server``: imports form layers with no circle, and only the builder and
the command line know the `Server`.

The import graph is read from the source (every ``import``, including those under
``if TYPE_CHECKING:`` and inside functions), not from ``sys.modules``, so that a cycle hidden
behind a late import is still a cycle. An arrow is an explicit import of a module; loading a
package's ``__init__`` before its submodule is Python's doing, not an arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "chinwag"
SERVER = PACKAGE / "server"

LAYERS: list[list[str]] = [
    [
        "errors",
        "config",
        "passwords",
        "tls",
        "tasks",
        "extbans",
        "webfiles",
        "join_hint",
        "replies",
        "stats",
        "cloak",
        "worker",
    ],
    ["state"],
    ["fanout", "monitors", "observer"],
    ["network"],
    ["connection", "motd", "websocket", "admission"],
    [
        "services",
        "history",
        "storage_health",
        "password_budget",
        "password_checks",
        "server_bans",
        "channel_registry",
        "outbox",
        "klines",
    ],
    ["nick_protection"],
    ["logins"],
    ["accounts"],
    ["reload"],
    ["commands.base"],
    ["commands.labels", "commands.welcome", "commands.who", "commands.monitor"],
    [
        "commands.authentication",
        "commands.bans",
        "commands.capabilities",
        "commands.channels",
        "commands.help",
        "commands.history",
        "commands.knock",
        "commands.link",
        "commands.messaging",
        "commands.modes",
        "commands.operators",
        "commands.queries",
        "commands.registration",
        "commands.sasl_scram",
        "commands.server_info",
        "commands.services",
        "commands.users",
    ],
    ["commands.fast_path"],
    ["commands"],
    ["metrics", "admin_commands", "admin_socket"],
    ["app"],
    ["workers"],
    [""],
]
"""The layers of ``chinwag.server``, lowest first (module names relative to the package; ""
is the package itself). A module may import modules of its own layer or of lower ones."""

ALLOWED_TO_NAME_SERVER = {
    "server/app.py",
    "server/__init__.py",
    "cli.py",
    "__main__.py",
    "admin.py",
    "client/cli.py",
}


def _module_name(path: Path) -> str:
    """``chinwag/server/commands/base.py`` -> ``commands.base``; a package's ``__init__`` -> its
    own name."""
    parts = list(path.relative_to(SERVER).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _server_modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(SERVER.rglob("*.py"))}


def _imports(source: str, own: str, is_package: bool, known: set[str]) -> set[str]:
    """The ``chinwag.server`` modules that module ``own`` imports, wherever the import is."""
    package = own if is_package else own.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            candidates = [{alias.name} for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
                origin = f"chinwag.server.{module}".rstrip(".")
            else:
                origin = node.module or ""
            # "from P import x" imports submodule P.x when there is one, else a name of P.
            candidates = [{f"{origin}.{alias.name}", origin} for alias in node.names]
        else:
            continue
        for options in candidates:
            names = [
                target.removeprefix("chinwag.server").lstrip(".")
                for target in sorted(options, key=len, reverse=True)
                if target == "chinwag.server" or target.startswith("chinwag.server.")
            ]
            chosen = next((name for name in names if name in known), None)
            if chosen is not None:
                found.add(chosen)
    found.discard(own)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _server_modules()
    known = set(modules)
    return {
        name: _imports(path.read_text(encoding="utf-8"), name, path.name == "__init__.py", known)
        for name, path in modules.items()
    }


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path of modules, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle is not None:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start)
            if cycle is not None:
                return cycle
    return None


def test_the_graph_reader_sees_hidden_imports() -> None:
    """Imports under TYPE_CHECKING, inside functions and relative ones all count as arrows."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import network\n"
        "if TYPE_CHECKING:\n"
        "    from chinwag.server.app import Server\n"
        "def f() -> None:\n"
        "    from chinwag.server.commands import registration\n"
        "    import chinwag.server.state\n"
    )
    known = {"app", "commands", "commands.registration", "network", "state", "sample"}
    found = _imports(source, "sample", False, known)
    assert found == {"app", "commands.registration", "network", "state"}


def test_a_cycle_is_found() -> None:
    """The cycle finder reports a circle, and none in a tree."""
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_every_server_module_has_a_layer() -> None:
    """Each module of chinwag/server is placed in exactly one layer (a new one must be placed)."""
    placed = [name for layer in LAYERS for name in layer]
    assert len(placed) == len(set(placed))
    assert sorted(placed) == sorted(_server_modules())


def test_no_import_cycle_inside_the_server() -> None:
    """No circle of imports inside chinwag/server, type-only and function-level ones included."""
    assert _find_cycle(_graph()) is None


def test_no_import_goes_up_a_layer() -> None:
    """No module imports one of a higher layer."""
    rank = {name: index for index, layer in enumerate(LAYERS) for name in layer}
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in _graph().items()
        for target in targets
        if rank[target] > rank[module]
    )
    assert upward == []


def test_only_the_builder_and_the_command_line_name_server() -> None:
    """The name `Server` appears only in server/app.py, the package re-export and the CLI."""
    offenders: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative in ALLOWED_TO_NAME_SERVER:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            named = (
                (isinstance(node, ast.Name) and node.id == "Server")
                or (isinstance(node, ast.Attribute) and node.attr == "Server")
                or (isinstance(node, ast.alias) and node.name.rpartition(".")[2] == "Server")
                or (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and node.value == "Server"
                )
            )
            if named:
                offenders.append(f"{relative}:{getattr(node, 'lineno', '?')}")
    assert offenders == []
