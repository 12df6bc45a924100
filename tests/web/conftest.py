"""Fixtures for the web client's tests: a server with its WebSocket listener, and a real browser.

The browser is Debian's Chromium (installed by ``.ci/install-system-deps.sh``), driven headless by
the Python ``playwright`` package with that executable: nothing is downloaded at test time. Where
Chromium is missing the tests are skipped, except under ``CI=true``, where they fail.

Screenshots go to ``test-artifacts/`` at the repository root (ignored by git), kept after the run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e.harness import Harness, make_server
from playwright.async_api import Browser, Page, async_playwright

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 5000


def chromium_path() -> str:
    """The system Chromium, or a skip (a failure under CI) naming how to install it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "Chromium is missing: run .ci/install-system-deps.sh"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A headless Chromium, closed after the test."""
    executable = chromium_path()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class Web:
    """A running server with its web client: the page's address and a harness for IRC clients."""

    url: str
    irc: Harness


@pytest.fixture
async def web() -> AsyncIterator[Web]:
    """A server listening for IRC on TCP and for browsers on a free WebSocket port."""
    server = make_server(websocket={"listen": "127.0.0.1:0"})
    await server.start()
    assert server.websocket is not None
    harness = Harness(server)
    try:
        yield Web(url=f"http://{server.websocket.address}/", irc=harness)
    finally:
        await harness.close()
        await server.stop()
    assert not harness.violations(), harness.violations()


async def join_as(browser: Browser, url: str, nick: str, **context: object) -> Page:
    """Open the web client in a new page, join as ``nick`` and wait for the room to show."""
    page = await browser.new_page(**context)  # type: ignore[arg-type]
    page.set_default_timeout(WAIT_MS)
    await page.goto(url)
    await page.get_by_label("Nick").fill(nick)
    await page.get_by_label("Nick").press("Enter")
    await page.get_by_role("heading", name="#lobby").wait_for()
    return page


def artifact(name: str) -> Path:
    """Where to keep a test artifact (the directory is made)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
