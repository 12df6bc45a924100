"""irc.js, the web client's IRC module, run in Chromium: the ircdocs parser vectors and formatting.

The module is imported by the page the listener serves, so this is the code browsers run.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml
from playwright.async_api import Browser, Page

from .conftest import WAIT_MS, Web


def _vectors(name: str) -> list[dict[str, Any]]:
    path = resources.files("parser_tests").joinpath("data", f"{name}.yaml")
    tests: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
    return tests


async def _module_page(browser: Browser, web: Web) -> Page:
    page = await browser.new_page()
    page.set_default_timeout(WAIT_MS)
    await page.goto(web.url)
    await page.evaluate("async () => { window.irc = await import('/irc.js'); }")
    return page


def _expected(atoms: dict[str, Any]) -> dict[str, Any]:
    return {
        "tags": {str(k): "" if v is None else str(v) for k, v in (atoms.get("tags") or {}).items()},
        "source": atoms.get("source") or "",
        "command": str(atoms["verb"]).upper(),
        "params": [str(p) for p in atoms.get("params") or []],
    }


async def test_parse_line_splits_the_ircdocs_vectors(browser: Browser, web: Web) -> None:
    """parseLine gives every msg-split vector's tags, source, verb and parameters."""
    page = await _module_page(browser, web)
    cases = _vectors("msg-split")
    parsed = await page.evaluate(
        "inputs => inputs.map(line => window.irc.parseLine(line))", [c["input"] for c in cases]
    )
    for case, got in zip(cases, parsed, strict=True):
        assert got == _expected(case["atoms"]), case["input"]


async def test_build_line_round_trips_the_ircdocs_messages(browser: Browser, web: Web) -> None:
    """What buildLine writes for a msg-join message parses back to the same verb and params."""
    page = await _module_page(browser, web)
    cases = [c["atoms"] for c in _vectors("msg-join") if not c["atoms"].get("tags")]
    messages = [[str(a["verb"]), *[str(p) for p in a.get("params") or []]] for a in cases]
    parsed = await page.evaluate(
        "messages => messages.map(m => window.irc.parseLine(window.irc.buildLine(...m)))", messages
    )
    for message, got in zip(messages, parsed, strict=True):
        assert [got["command"], *got["params"]] == [message[0].upper(), *message[1:]]


# IRC text -> the runs renderText makes: [its classes, or its CSSOM colours ("" for none), text].
FORMATTING = [
    ("plain", [["", "plain"]]),
    ("\x02bold\x02 not", [["irc-bold", "bold"], ["", " not"]]),
    ("\x1di\x1fiu\x0f x", [["irc-italic", "i"], ["irc-italic irc-underline", "iu"], ["", " x"]]),
    ("\x0304red\x03 plain", [["color:rgb(255, 0, 0)", "red"], ["", " plain"]]),
    ("\x034,12on blue", [["color:rgb(255, 0, 0);background:rgb(0, 0, 252)", "on blue"]]),
    ("\x0399not a colour", [["", "not a colour"]]),
    ("\x04ff8800hex", [["color:rgb(255, 136, 0)", "hex"]]),
    ("\x1b[31mred?\x1b[0m", [["", "\u241b[31mred?\u241b[0m"]]),
    ("<b>&amp;</b>", [["", "<b>&amp;</b>"]]),
    ("a\x07b\x7fc", [["", "a\u2407b\u2421c"]]),
]  # fmt: skip


async def test_render_text_turns_formatting_into_styles(browser: Browser, web: Web) -> None:
    """renderText makes text nodes and styled spans; control characters become visible."""
    page = await _module_page(browser, web)
    got = await page.evaluate(
        """texts => texts.map(text => [...window.irc.renderText(text).childNodes].map(node => {
            if (node.nodeType === Node.TEXT_NODE) return ["", node.textContent];
            const style = [];
            if (node.style.color) style.push("color:" + node.style.color);
            if (node.style.backgroundColor) style.push("background:" + node.style.backgroundColor);
            const label = [...node.classList].join(" ") || style.join(";");
            return [label, node.textContent];
        }))""",
        [text for text, _ in FORMATTING],
    )
    for (text, runs), rendered in zip(FORMATTING, got, strict=True):
        assert rendered == runs, repr(text)
