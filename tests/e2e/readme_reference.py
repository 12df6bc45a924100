"""The README's reference of what the server speaks, generated from what a running server says.

``python -m tests.e2e.readme_reference`` starts a server with the default settings (plus a TLS
certificate, so that ``sts`` shows), reads its ``CAP LS 302``, its ``005`` lines and its HELP
index over a real socket, and rewrites the block between the markers in README.md.
``tests/e2e/test_readme.py`` renders the same block and fails when the README differs, so the
list of capabilities and commands cannot drift from the code.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from pathlib import Path

from chinwag.server.tls import ensure_self_signed

from .harness import Harness, make_server

__all__ = ["BEGIN", "END", "README", "render", "replace_block", "served_reference"]

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN = "<!-- reference:begin (python -m tests.e2e.readme_reference writes this block) -->"
END = "<!-- reference:end -->"


async def served_reference() -> tuple[list[str], list[str], list[str]]:
    """(capabilities, ISUPPORT tokens, commands) as a default server announces them."""
    with tempfile.TemporaryDirectory() as directory:
        cert, key = ensure_self_signed(Path(directory), "chat.example.org")
        server = make_server(
            server={"name": "chat.example.org", "tls_cert": str(cert), "tls_key": str(key)}
        )
        await server.start()
        harness = Harness(server)
        try:
            raw = await harness.open("reference")
            await raw.send("CAP LS 302")
            caps = (await raw.expect("CAP", None)).params[-1].split()
            await raw.send("NICK reference", "USER ref 0 * :Reference", "CAP END")
            burst = await raw.collect_until("376")
            tokens = [p for m in burst if m.command == "005" for p in m.params[1:-1]]
            await raw.send("HELP")
            index = await raw.collect_until("706")
            commands = " ".join(m.params[-1] for m in index if m.command == "705").split()
            tls_port = str(server.tls_port)
        finally:
            await harness.close()
            await server.stop()
    # The TLS listener's port is whatever was free: show the configured default instead.
    caps = [re.sub(rf"^sts=port={tls_port}$", "sts=port=6697", cap) for cap in caps]
    return sorted(caps), sorted(tokens), sorted(commands)


def render(caps: list[str], tokens: list[str], commands: list[str]) -> str:
    """The README block (markers included)."""

    def codes(items: list[str]) -> str:
        return ", ".join(f"`{item}`" for item in items)

    return "\n".join(
        [
            BEGIN,
            "",
            "**Capabilities** (`CAP LS 302` of a server with accounts on and a TLS certificate; "
            f"`sts` only when one is configured): {codes(caps)}.",
            "",
            f"**ISUPPORT** (`005`, default settings): {codes(tokens)}.",
            "",
            f"**Commands** (`HELP <command>` explains each): {codes(commands)}.",
            "",
            END,
        ]
    )


def replace_block(text: str, block: str) -> str:
    """``text`` with the block between the markers replaced by ``block``."""
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + block + text[end:]


def main() -> int:
    """Rewrite the README block from a running server."""
    block = render(*asyncio.run(served_reference()))
    README.write_text(replace_block(README.read_text(encoding="utf-8"), block), encoding="utf-8")
    print(f"{README}: reference block written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
