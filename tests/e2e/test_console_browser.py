"""The console page in a real headless Chromium (Debian's), driven by Playwright, on the running local stack.

Playwright's own browser download cannot work on these machines: the test launches /usr/bin/chromium
(`apt-get install chromium`; .ci/run installs it) and fails, never skips, when it is missing.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect, sync_playwright

from support.local_stack import RunningStack

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
# The README's screenshots are retaken only on request (ROOMCAST_SCREENSHOTS=1), so that a test run
# never changes tracked files; otherwise they go to a temporary folder.
README_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"
# Commands travel through SQS and the stream on a loaded two-core machine: generous, never timed.
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the console's browser test needs Debian's chromium: apt-get install chromium"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    return README_IMAGES if os.environ.get("ROOMCAST_SCREENSHOTS") == "1" else tmp_path


@pytest.fixture
def page(browser: Browser, stack: RunningStack) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("console", lambda message: _keep_errors(message, errors))
    opened.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    opened.goto(f"{stack.state.callback_url}/console")
    expect(opened.locator("body[data-ready=true]")).to_be_attached(timeout=WAIT_MS)
    yield opened
    context.close()
    assert errors == [], "the page logged errors"


def _keep_errors(message: ConsoleMessage, errors: list[str]) -> None:
    if message.type == "error":
        errors.append(message.text)


def send(page: Page, command: str, user: str, text: str | None = None) -> Locator:
    """Send a command from the form as ``user``; the row of the commands table that follows its outcome."""
    page.get_by_label("User", exact=True).fill(user)
    page.get_by_label("Command", exact=True).select_option(command)
    if text is not None:
        page.get_by_label("text", exact=True).fill(text)
    rows = page.locator("#commands tbody tr")
    before = rows.count()
    page.get_by_role("button", name="Send command").click()
    expect(rows).to_have_count(before + 1, timeout=WAIT_MS)
    return rows.first.locator("td.outcome")


def until_shown(page: Page, button: Locator, shown: Locator, status: str) -> None:
    """Click ``button`` (a one-off read) until ``shown`` appears: what it reads arrives asynchronously."""
    for _ in range(60):
        button.click()
        expect(page.locator(status)).not_to_have_text("reading", timeout=WAIT_MS)
        if shown.count():
            return
        page.wait_for_timeout(1_000)
    expect(shown.first).to_be_visible()  # fails, saying what was never shown


def open_pane(page: Page, user: str) -> Locator:
    page.get_by_label("Watch as").fill(user)
    page.get_by_role("button", name="Open pane").click()
    pane = page.locator(f"article.pane[data-user='{user}']")
    expect(pane.locator(".pane-status")).to_contain_text(f"subscribed as {user}", timeout=WAIT_MS)
    return pane


def test_a_room_live_in_two_panes_a_refusal_a_dead_letter_and_the_deletion(
    page: Page, stack: RunningStack, screenshots: Path
) -> None:
    room = f"studio-{uuid.uuid4().hex[:6]}"
    page.get_by_label("Room", exact=True).fill(room)
    expect(send(page, "createChatRoom", "alice")).to_have_text("applied chatRoomCreated", timeout=WAIT_MS)
    expect(send(page, "joinChatRoom", "bob")).to_have_text("applied memberJoined", timeout=WAIT_MS)
    alice, bob = open_pane(page, "alice"), open_pane(page, "bob")

    expect(send(page, "addComment", "alice", "hello bob")).to_have_text("applied commentAdded", timeout=WAIT_MS)
    expect(bob.locator(".comments li")).to_contain_text(["alicehello bob"], timeout=WAIT_MS)
    expect(alice.locator(".comments li")).to_contain_text(["alicehello bob"], timeout=WAIT_MS)
    expect(send(page, "addComment", "bob", "hi alice")).to_have_text("applied commentAdded", timeout=WAIT_MS)
    expect(alice.locator(".comments li .text")).to_have_text(["hello bob", "hi alice"], timeout=WAIT_MS)

    refused = send(page, "addComment", "carol", "can I come in?")
    expect(refused).to_have_text(f"rejected NotAMember: 'carol' is not a member of room '{room}'", timeout=WAIT_MS)
    expect(send(page, "joinChatRoom", "carol")).to_have_text("applied memberJoined", timeout=WAIT_MS)
    for pane in (alice, bob):
        expect(pane.locator(".presence li")).to_have_text(["carol joined"], timeout=WAIT_MS)
    logs = page.locator("#commands tbody tr").nth(1).get_by_role("button", name="Log lines")
    until_shown(page, logs, page.locator("#log-lines li").filter(has_text="command rejected"), "#logs-status")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshots / "console-room.png"))

    # A producer's poison message: the command function parks it with its reason.
    poison = json.dumps({"type": "addComment", "roomId": room, "userId": "alice"})
    stack.client("sqs").send_message(
        QueueUrl=stack.state.outputs["CommandQueueUrl"],
        MessageBody=poison,
        MessageGroupId=f"{room}#alice",
        MessageDeduplicationId=uuid.uuid4().hex,
    )
    parked = page.locator("#dlq li").filter(has_text=room)
    until_shown(page, page.get_by_role("button", name="Refresh dead letters"), parked, "#dlq-status")
    expect(parked.locator(".reason")).to_have_text("InvalidCommand: addComment.text: Field required")
    page.get_by_role("button", name="Refresh stream failures").click()
    expect(page.locator("#sfq-status")).to_have_text(re.compile(r"^(empty|\d+ message\(s\))$"), timeout=WAIT_MS)
    page.locator("#queues").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "console-queues.png"))
    parked.get_by_role("button", name="Redrive to the command queue").click()
    expect(page.locator("#dlq-status")).to_contain_text("redriven as message", timeout=WAIT_MS)
    expect(parked).to_have_count(0)

    expect(send(page, "deleteChatRoom", "alice")).to_have_text("applied chatRoomDeleted", timeout=WAIT_MS)
    for pane in (alice, bob):
        expect(pane.locator(".pane-deleted")).to_have_text(f"Room {room} was deleted.", timeout=WAIT_MS)
    assert unlabelled_controls(page) == []


def unlabelled_controls(page: Page) -> list[str]:
    """Form controls (panes' included) that a screen reader could not name."""
    found: list[str] = page.evaluate(
        """[...document.querySelectorAll('input, select, textarea')]
             .filter(e => !e.closest('template') && !(e.labels && e.labels.length)).map(e => e.id || e.className)"""
    )
    return found


def test_a_dropped_pane_reconnects_and_resumes_since_its_last_comment(page: Page) -> None:
    room = f"resume-{uuid.uuid4().hex[:6]}"
    page.get_by_label("Room", exact=True).fill(room)
    expect(send(page, "createChatRoom", "dana")).to_have_text("applied chatRoomCreated", timeout=WAIT_MS)
    pane = open_pane(page, "dana")
    expect(send(page, "addComment", "dana", "one")).to_have_text("applied commentAdded", timeout=WAIT_MS)
    expect(pane.locator(".comments li .text")).to_have_text(["one"], timeout=WAIT_MS)

    pane.get_by_role("button", name="Drop connection").click()
    expect(pane.locator(".pane-status")).to_contain_text("connection closed", timeout=WAIT_MS)
    expect(pane.locator(".pane-status")).to_contain_text("subscribed as dana", timeout=WAIT_MS)
    expect(send(page, "addComment", "dana", "two")).to_have_text("applied commentAdded", timeout=WAIT_MS)
    expect(pane.locator(".comments li .text")).to_have_text(["one", "two"], timeout=WAIT_MS)

    pane.locator("summary").click()
    pane.get_by_label("Mode").select_option("latest")
    pane.get_by_label("Limit").fill("1")
    pane.get_by_role("button", name="Read").click()
    expect(pane.locator(".history-comments li .text")).to_have_text(["two"], timeout=WAIT_MS)
    pane.get_by_role("button", name="Next page").click()
    expect(pane.locator(".history-comments li .text")).to_have_text(["two", "one"], timeout=WAIT_MS)


def test_readable_on_a_phone_sized_window(browser: Browser, stack: RunningStack, tmp_path: Path) -> None:
    phone_shot = tmp_path / "phone.png"
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = context.new_page()
    phone.goto(f"{stack.state.callback_url}/console/")
    expect(phone.locator("body[data-ready=true]")).to_be_attached(timeout=WAIT_MS)
    # Nothing wider than the screen: no sideways scrolling of the whole page.
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert unlabelled_controls(phone) == []
    # Keyboard reachable: tabbing from the top reaches the form's controls in order.
    focused = []
    for _ in range(4):
        phone.keyboard.press("Tab")
        focused.append(phone.evaluate("document.activeElement.id"))
    assert focused == ["room", "actor", "command-type", "send-command"]
    phone.screenshot(path=str(phone_shot))
    context.close()
