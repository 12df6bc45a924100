"""The README's list of capabilities, ISUPPORT tokens and commands is what the server says."""

from __future__ import annotations

from .readme_reference import README, render, replace_block, served_reference


async def test_the_readme_reference_matches_the_server() -> None:
    """CAP LS 302, 005 and HELP of a running server render exactly the README's block
    (regenerate it with ``python -m tests.e2e.readme_reference``)."""
    block = render(*await served_reference())
    text = README.read_text(encoding="utf-8")
    assert replace_block(text, block) == text, "README reference is stale: regenerate it"
