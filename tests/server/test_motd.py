"""The message of the day: the text, or the file read at start and again on reload."""

from __future__ import annotations

from pathlib import Path

from chinwag.server.config import ServerConfig
from chinwag.server.motd import Motd


async def test_the_file_is_read_at_load_and_again_at_reload(tmp_path: Path) -> None:
    """Editing the file changes nothing until reload (SIGHUP); then the new text is sent."""
    path = tmp_path / "motd.txt"
    path.write_text("first\n", encoding="utf-8")
    motd = Motd(ServerConfig(motd="unused", motd_file=str(path)))
    motd.load()
    assert motd.text == "first\n"
    path.write_text("second\n", encoding="utf-8")
    assert motd.text == "first\n"
    await motd.reload()
    assert motd.text == "second\n"


async def test_without_a_file_the_text_is_used_and_a_lost_file_means_no_motd(
    tmp_path: Path,
) -> None:
    """No motd_file: the configured text. A file that cannot be read: empty (422 ERR_NOMOTD)."""
    assert Motd(ServerConfig(motd="hello")).text == "hello"
    path = tmp_path / "motd.txt"
    path.write_text("there\n", encoding="utf-8")
    motd = Motd(ServerConfig(motd_file=str(path)))
    motd.load()
    path.unlink()
    await motd.reload()
    assert motd.text == ""
