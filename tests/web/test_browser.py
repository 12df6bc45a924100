"""The web client in a real headless Chromium, chatting with IRC clients over TCP."""

from __future__ import annotations

import pytest
from e2e.accounts_support import FAST_HASHER, register
from e2e.harness import ANY
from playwright.async_api import Browser, Locator, Page, expect

from chinwag.store import passwords

from .conftest import WAIT_MS, Web, artifact, join_as

HOSTILE = (
    "<script>window.pwned = 1</script><img src=x onerror=window.pwned=1>"
    " <b>not bold</b> &amp; \x1b[31mred?\x1b[0m"
)


def chat_log(page: Page) -> Locator:
    """The list of lines of the open conversation."""
    return page.get_by_role("list", name="Chat", exact=True)


def log_line(page: Page, text: str) -> Locator:
    """The line of the open conversation that contains ``text``."""
    return chat_log(page).get_by_role("listitem").filter(has_text=text)


async def test_browser_and_terminal_users_chat_both_ways(browser: Browser, web: Web) -> None:
    """A browser user sees a TCP user arrive; room and private messages go both ways; leaving
    is told to the others."""
    page = await join_as(browser, web.url, "webby")
    people = page.get_by_role("list", name="People")
    await expect(people.get_by_role("button", name="webby")).to_be_visible()

    tom = await web.irc.connect("tom")
    await expect(people.get_by_role("button", name="tom")).to_be_visible()
    await expect(log_line(page, "tom joined")).to_have_class("line event")

    await web.irc.connect("ann")  # a second person, so the screenshot shows a room
    await tom.send("PRIVMSG #lobby :hello from the terminal")
    await expect(log_line(page, "hello from the terminal")).to_be_visible()

    await page.get_by_label("Message").fill("hi tom, from a browser")
    await page.get_by_label("Message").press("Enter")
    await tom.expect("PRIVMSG", ["#lobby", "hi tom, from a browser"], source="webby")

    # Privately: click tom, write; tom answers privately.
    await people.get_by_role("button", name="tom").click()
    await expect(page.get_by_role("heading", name="Private: tom")).to_be_visible()
    await page.get_by_label("Message").fill("just between us")
    await page.get_by_label("Message").press("Enter")
    await tom.expect("PRIVMSG", ["tom", "just between us"], source="webby")
    await tom.send("PRIVMSG webby :a private answer")
    await expect(log_line(page, "a private answer")).to_be_visible()

    # A room message while the private conversation is open: an unread count on the room.
    await tom.send("PRIVMSG #lobby :are you there?")
    conversations = page.get_by_role("list", name="Conversations")
    await expect(conversations.get_by_label("1 unread")).to_be_visible()
    await conversations.get_by_role("button", name="#lobby").click()
    await expect(log_line(page, "are you there?")).to_be_visible()
    await expect(conversations.get_by_label("1 unread")).to_have_count(0)

    await page.set_viewport_size({"width": 1100, "height": 640})
    await page.screenshot(path=artifact("web-client.png"))

    await page.get_by_role("button", name="Leave").click()
    await tom.expect("QUIT", [ANY], source="webby")
    await expect(page.get_by_label("Nick")).to_be_visible()


async def test_hostile_text_is_shown_as_text(browser: Browser, web: Web) -> None:
    """HTML, script tags and escape sequences from IRC are text in the DOM, never markup."""
    page = await join_as(browser, web.url, "webby")
    eve = await web.irc.connect("eve")
    await eve.send(f"PRIVMSG #lobby :{HOSTILE}")
    line = log_line(page, "not bold")
    await expect(line).to_be_visible()
    text = chat_log(page).locator(".text").last
    assert await line.locator("script, img, b").count() == 0
    shown = await text.text_content()
    assert shown == HOSTILE.replace("\x1b", "\u241b")  # ESC as its visible control picture
    assert await page.evaluate("window.pwned") is None


async def test_irc_formatting_becomes_styles(browser: Browser, web: Web) -> None:
    """Bold, italic, underline and colour codes become styled spans around the right text."""
    page = await join_as(browser, web.url, "webby")
    fay = await web.irc.connect("fay")
    await fay.send(
        "PRIVMSG #lobby :plain \x02bold\x02 \x1ditalic\x1d \x1funder\x1f \x0304red\x03 end"
    )
    line = log_line(page, "plain bold")
    await expect(line).to_be_visible()
    await expect(line.locator(".irc-bold")).to_have_text("bold")
    await expect(line.locator(".irc-italic")).to_have_text("italic")
    await expect(line.locator(".irc-underline")).to_have_text("under")
    red = line.locator("span.text span").filter(has_text="red")
    assert await red.evaluate("node => getComputedStyle(node).color") == "rgb(255, 0, 0)"
    await expect(line.locator(".text")).to_have_text("plain bold italic under red end")


async def test_history_shows_when_the_room_opens(browser: Browser, web: Web) -> None:
    """Lines said before the browser user came are shown when the room opens (chathistory)."""
    gus = await web.irc.connect("gus")
    await gus.send("PRIVMSG #lobby :said before you came")
    await gus.sync()
    page = await join_as(browser, web.url, "webby")
    await expect(log_line(page, "said before you came")).to_be_visible()


async def test_keyboard_only_use(browser: Browser, web: Web) -> None:
    """Nick, message and a private conversation, with the keyboard alone."""
    hal = await web.irc.connect("hal")
    page = await browser.new_page()
    page.set_default_timeout(WAIT_MS)
    await page.goto(web.url)
    await expect(page.get_by_label("Nick")).to_be_focused()
    await page.screenshot(path=artifact("web-client-login.png"))
    await page.keyboard.type("keys")
    await page.keyboard.press("Enter")
    await expect(page.get_by_label("Message")).to_be_focused()
    await page.get_by_role("heading", name="#lobby").wait_for()
    await page.keyboard.type("typed, not clicked")
    await page.keyboard.press("Enter")
    await hal.expect("PRIVMSG", ["#lobby", "typed, not clicked"], source="keys")
    # Tab to hal in the People list, Enter opens the private conversation.
    people = page.get_by_role("list", name="People")
    await expect(people.get_by_role("button", name="hal")).to_be_visible()
    hal_button = people.get_by_role("button", name="hal")
    for _ in range(30):
        await page.keyboard.press("Tab")
        if await hal_button.evaluate("button => button === document.activeElement"):
            break
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Private: hal")).to_be_visible()
    await page.keyboard.type("only keys")
    await page.keyboard.press("Enter")
    await hal.expect("PRIVMSG", ["hal", "only keys"], source="keys")


async def test_phone_sized_screen(browser: Browser, web: Web) -> None:
    """On a phone the conversation fills the screen and the people are behind a button."""
    page = await join_as(browser, web.url, "pocket", viewport={"width": 390, "height": 760})
    ivy = await web.irc.connect("ivy")
    await ivy.send("PRIVMSG #lobby :a message long enough to need more than one line on a phone")
    await expect(log_line(page, "more than one line")).to_be_visible()
    await page.screenshot(path=artifact("web-client-phone.png"))
    people = page.get_by_role("list", name="People")
    await expect(people).to_be_hidden()
    await page.get_by_role("button", name="People (2)").click()
    await expect(people.get_by_role("button", name="ivy")).to_be_visible()
    await people.get_by_role("button", name="ivy").click()
    await expect(page.get_by_role("heading", name="Private: ivy")).to_be_visible()
    message = page.get_by_label("Message")
    box = await message.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390


async def test_reconnects_after_the_connection_drops(browser: Browser, web: Web) -> None:
    """When the server drops the connection the page says so, tries again, and is back in."""
    page = await join_as(browser, web.url, "webby")
    tom = await web.irc.connect("tom")
    (conn,) = [c.conn for c in web.irc.server.network.connections if c.nick == "webby"]
    conn.close("Testing a drop")
    await tom.expect("QUIT", source="webby")
    await expect(page.get_by_role("status")).to_contain_text("Trying again")
    await tom.expect("JOIN", ["#lobby"], source="webby", timeout=5.0)
    await expect(page.get_by_role("status")).to_have_text("Connected as webby")
    await tom.send("PRIVMSG #lobby :welcome back")
    await expect(log_line(page, "welcome back")).to_be_visible()


async def test_a_taken_nick_gets_an_underscore(browser: Browser, web: Web) -> None:
    """Asking for a nick someone has gives the nick with an underscore, and says so."""
    await web.irc.connect("webby")
    page = await join_as(browser, web.url, "webby")
    await expect(page.get_by_role("status")).to_have_text("Connected as webby_")


async def test_log_in_to_an_account(
    browser: Browser, web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the account's password the browser user logs in (SASL PLAIN); a wrong one is told."""
    monkeypatch.setattr(passwords, "_DEFAULT_HASHER", FAST_HASHER)
    owner = await register(web.irc, "alice", "correct horse")
    await owner.send("QUIT")
    await owner.expect_closed()
    page = await browser.new_page()
    page.set_default_timeout(WAIT_MS)
    await page.goto(web.url)
    await page.get_by_label("Nick").fill("alice")
    await page.get_by_text("I have an account").click()
    await page.get_by_label("Password").fill("wrong horse")
    await page.get_by_label("Nick").press("Enter")
    await expect(page.get_by_role("alert")).to_have_text("Wrong nick or password.")
    await page.get_by_label("Password").fill("correct horse")
    await page.get_by_label("Password").press("Enter")
    await expect(page.get_by_role("status")).to_have_text("Connected as alice (logged in)")


async def test_long_text_is_sent_in_pieces(browser: Browser, web: Web) -> None:
    """Text longer than one IRC line goes out as several messages, cut at spaces, nothing lost."""
    page = await join_as(browser, web.url, "webby")
    tom = await web.irc.connect("tom")
    words = [f"word{n}" for n in range(150)]
    await page.get_by_label("Message").fill(" ".join(words))
    await page.get_by_label("Message").press("Enter")
    received: list[str] = []
    while len(" ".join(received).split()) < len(words):
        received.append((await tom.expect("PRIVMSG", source="webby")).params[-1])
    assert len(received) > 1
    assert " ".join(received).split() == words


async def test_joins_and_parts_are_dimmed(browser: Browser, web: Web) -> None:
    """Someone leaving a room is told, dimmer than what people say, and leaves the People list."""
    page = await join_as(browser, web.url, "webby")
    tom = await web.irc.connect("tom")
    await tom.send("PRIVMSG #lobby :bye for now")
    await tom.send("PART #lobby :lunch")
    left = log_line(page, "tom left (lunch)")
    await expect(left).to_be_visible()
    people = page.get_by_role("list", name="People")
    await expect(people.get_by_role("button", name="tom")).to_have_count(0)
    said = log_line(page, "bye for now").locator(".text")
    dim = await left.locator(".text").evaluate("node => getComputedStyle(node).color")
    normal = await said.evaluate("node => getComputedStyle(node).color")
    assert dim != normal


async def test_mentions_are_highlighted(browser: Browser, web: Web) -> None:
    """A line that names the browser user stands out; one that only contains the name does not."""
    page = await join_as(browser, web.url, "webby")
    tom = await web.irc.connect("tom")
    await tom.send("PRIVMSG #lobby :WEBBY: lunch?")
    await tom.send("PRIVMSG #lobby :webbyish is not a mention")
    await expect(log_line(page, "lunch?")).to_have_class("line message mention")
    await expect(log_line(page, "webbyish")).to_have_class("line message")
