"""docs/websocket.md, the history route: the four modes, limits, cursor paging without gap or overlap,
refusals as InvalidRequest, and pages shortened to fit a frame; through ``handle_message``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from roomcast.domain.chat import CommentView, Room
from roomcast.domain.commands import Command, CreateChatRoom, DeleteChatRoom, JoinChatRoom
from roomcast.domain.errors import InvalidRequest, TransientError
from roomcast.domain.events import Outcome
from roomcast.edges.websocket import handle_message
from roomcast.usecases.history import history
from roomcast.usecases.ports import Store
from roomcast.usecases.subscriptions import Caller, Routes
from roomcast.wire.cursor import encode_cursor
from support.recording import RecordingPoster, positions

Send = Callable[..., list[dict[str, Any]]]
Write = Callable[..., list[CommentView]]


@pytest.fixture
def written(art: Room, write: Write) -> list[CommentView]:
    """Given 23 comments in art, one millisecond apart."""
    return write(23)


@pytest.fixture
def bob(connect: Callable[..., Caller]) -> Caller:
    return connect("c-bob", "bob")


def read_all(send: Send, caller: Caller, limit: int, **request: Any) -> list[list[str]]:
    """Page on with each page's cursor until it is null; returns each page's positions."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        frame = send(caller, {"action": "history", "roomId": "art", "limit": limit, "cursor": cursor, **request})[0]
        assert frame["type"] == "history", frame
        assert len(frame["comments"]) <= limit
        pages.append(positions([frame]))
        cursor = frame["cursor"]
        if cursor is None:
            return pages


def flat(pages: list[list[str]]) -> list[str]:
    return [position for page in pages for position in page]


def ordered(comments: list[CommentView]) -> list[str]:
    return [c.position for c in comments]


def test_history_answers_one_page_with_the_request_id(written: list[CommentView], bob: Caller, send: Send) -> None:
    frames = send(bob, {"action": "history", "roomId": "art", "mode": "all", "limit": 5, "requestId": "h1"})

    assert len(frames) == 1
    frame = frames[0]
    assert (frame["type"], frame["roomId"], frame["mode"], frame["requestId"]) == ("history", "art", "all", "h1")
    assert positions(frames) == ordered(written[:5]) and frame["cursor"] is not None
    assert frame["comments"][0] == written[0].model_dump(by_alias=True)


@pytest.mark.parametrize("limit", [1, 4, 23, 100])
def test_all_pages_through_the_whole_history_oldest_first(
    written: list[CommentView], bob: Caller, send: Send, limit: int
) -> None:
    pages = read_all(send, bob, limit, mode="all")

    assert flat(pages) == ordered(written)
    assert len(pages) == -(-len(written) // limit)  # the last page carries no cursor, and none is empty


def test_the_default_page_is_fifty(art: Room, write: Write, bob: Caller, send: Send) -> None:
    written = write(51)

    frame = send(bob, {"action": "history", "roomId": "art"})[0]

    assert positions([frame]) == ordered(written[:50]) and frame["cursor"] is not None


def test_latest_is_newest_first_and_pages_backwards(written: list[CommentView], bob: Caller, send: Send) -> None:
    pages = read_all(send, bob, 10, mode="latest")

    assert pages[0] == ordered(written[::-1][:10])
    assert flat(pages) == ordered(written[::-1])


@pytest.mark.parametrize("index", [0, 4, 21, 22])
def test_after_is_strictly_after_the_position(written: list[CommentView], bob: Caller, send: Send, index: int) -> None:
    pages = read_all(send, bob, 4, mode="after", **{"from": written[index].position})

    assert flat(pages) == ordered(written[index + 1 :])


@pytest.mark.parametrize(("low", "high"), [(0, 22), (3, 9), (5, 5)])
def test_between_includes_both_ends(written: list[CommentView], bob: Caller, send: Send, low: int, high: int) -> None:
    request = {"mode": "between", "from": written[low].position, "to": written[high].position}

    pages = read_all(send, bob, 3, **request)

    assert flat(pages) == ordered(written[low : high + 1])


def test_positions_need_not_name_comments(written: list[CommentView], bob: Caller, send: Send) -> None:
    pages = read_all(send, bob, 100, mode="between", **{"from": "0" * 26, "to": "Z" * 26})

    assert flat(pages) == ordered(written)


def test_an_empty_room_has_one_empty_last_page(art: Room, bob: Caller, send: Send) -> None:
    assert read_all(send, bob, 10, mode="all") == [[]]


def test_from_and_to_are_ignored_by_the_modes_that_do_not_use_them(
    written: list[CommentView], bob: Caller, send: Send
) -> None:
    frame = send(bob, {"action": "history", "roomId": "art", "mode": "all", "from": "nonsense", "to": "x"})[0]

    assert positions([frame]) == ordered(written)


def test_only_the_current_incarnations_comments_are_read(
    written: list[CommentView], apply: Callable[[Command], Outcome], bob: Caller, send: Send
) -> None:
    apply(DeleteChatRoom(room_id="art", user_id="alice"))
    apply(CreateChatRoom(room_id="art", user_id="alice"))
    apply(JoinChatRoom(room_id="art", user_id="bob"))

    assert read_all(send, bob, 100, mode="all") == [[]]


# ---- refusals ---------------------------------------------------------------------------

POSITION = "01KB0000000000000000000000"


@pytest.mark.parametrize(
    "request_fields",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "10"},
        {"mode": "sideways"},
        {"mode": "after"},
        {"mode": "between", "from": POSITION},
        {"mode": "between", "to": POSITION},
        {"mode": "after", "from": "not-a-position"},
        {"mode": "between", "from": POSITION, "to": "01kb0000000000000000000000"},
        {"mode": "between", "from": "01KB0000000000000000000009", "to": "01KB0000000000000000000001"},
        {"cursor": "bm90IGEgY3Vyc29y"},
        {"cursor": "!!!"},
        {"unknown": 1},
    ],
    ids=lambda fields: ",".join(f"{k}={v}" for k, v in fields.items()),
)
def test_bad_arguments_are_refused_as_invalid_request(
    written: list[CommentView], bob: Caller, send: Send, request_fields: dict[str, Any]
) -> None:
    frames = send(bob, {"action": "history", "roomId": "art", **request_fields})

    assert [(f["type"], f["code"]) for f in frames] == [("error", "InvalidRequest")]
    assert frames[0]["message"] and "\n" not in frames[0]["message"]


@pytest.mark.parametrize(
    ("mode", "bounds", "cursor_at"),
    [("after", (10, None), 5), ("between", (10, 15), 20), ("between", (10, 15), 3)],
    ids=["after-before-from", "between-past-to", "between-before-from"],
)
def test_a_cursor_outside_the_querys_bounds_is_refused(
    written: list[CommentView],
    bob: Caller,
    send: Send,
    mode: str,
    bounds: tuple[int, int | None],
    cursor_at: int,
) -> None:
    low, high = bounds
    request: dict[str, Any] = {"mode": mode, "from": written[low].position}
    if high is not None:
        request["to"] = written[high].position

    frames = send(bob, {"action": "history", "roomId": "art", "cursor": encode_cursor(written[cursor_at]), **request})

    assert (frames[0]["type"], frames[0]["code"]) == ("error", "InvalidRequest")


# ---- frames that would pass 32 KB ------------------------------------------------------


@pytest.mark.parametrize("mode", ["all", "latest"])
def test_a_page_too_big_for_one_frame_is_shortened_and_its_cursor_resumes_without_gap(
    art: Room, write: Write, bob: Caller, send: Send, poster: RecordingPoster, mode: str
) -> None:
    # 2,000 characters of é are 4,000 bytes of UTF-8: 50 of them are about 200 KB.
    written = write(50, text="é" * 1_990 + "{index:>10}")

    pages = read_all(send, bob, 50, mode=mode)

    assert len(pages) > 1 and all(pages)
    assert flat(pages) == ordered(written if mode == "all" else written[::-1])
    for frame in send(bob, {"action": "history", "roomId": "art", "mode": mode, "limit": 50}):
        assert len(frame["comments"]) < 50
    assert max(len(data) for _, data in poster.posts) <= 32 * 1024


def test_a_transient_failure_is_raised_and_answered_with_no_frame(
    written: list[CommentView], bob: Caller, routes: Routes, poster: RecordingPoster, monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(*_: object) -> None:
        raise TransientError("DynamoDB: ThrottlingException")

    monkeypatch.setattr(routes.store.rooms, "get_room_and_membership", throttled)

    with pytest.raises(TransientError):
        handle_message(routes, bob, '{"action": "history", "roomId": "art"}')

    assert poster.frames("c-bob") == []


def test_history_refuses_an_unknown_mode_even_past_the_wire(art: Room, store: Store) -> None:
    with pytest.raises(InvalidRequest, match="unknown mode"):
        history(store, "art", "sideways")  # type: ignore[arg-type]
