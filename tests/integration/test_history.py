"""The four history queries: page boundaries, tied timestamps, cursors, on each backend."""

from __future__ import annotations

from itertools import count

import pytest

from roomcast.domain.errors import InvalidRequest
from roomcast.models import AddComment, CommentAdded, CommentView, CreateChatRoom, JoinChatRoom
from roomcast.usecases import commands
from roomcast.usecases.history import Mode, history
from support.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
def comments(stack: Stack) -> list[CommentView]:
    """Given 23 comments by two users in a room, written in groups of 5 sharing one millisecond."""
    commands.apply(CreateChatRoom(room_id="art", user_id="alice"), stack.store)
    commands.apply(JoinChatRoom(room_id="art", user_id="bob"), stack.store)
    ticks = count()

    def clock() -> int:
        return 1_764_000_000_000 + next(ticks) // 5

    written = []
    for n in range(23):
        comment = AddComment(room_id="art", user_id=("alice", "bob")[n % 2], text=f"c{n}")
        outcome = commands.apply(comment, stack.store, clock)
        assert isinstance(outcome.event, CommentAdded)
        written.append(outcome.event.comment)
    return sorted(written, key=lambda c: c.position)


def read_all(stack: Stack, mode: Mode, limit: int, **kwargs: str) -> tuple[list[CommentView], int]:
    pages, cursor, seen = 0, None, []
    while True:
        page = history(stack.store, "art", mode, limit=limit, cursor=cursor, **kwargs)
        pages += 1
        seen.extend(page.comments)
        assert len(page.comments) <= limit
        cursor = page.cursor
        if cursor is None:
            return seen, pages


@pytest.mark.parametrize("limit", [1, 5, 7, 23, 100])
def test_all_returns_the_whole_history_in_order_without_gap_or_duplicate(
    stack: Stack, comments: list[CommentView], limit: int
) -> None:
    seen, pages = read_all(stack, "all", limit)

    assert seen == comments
    assert pages == -(-len(comments) // limit)  # the last page carries no cursor


def test_latest_is_newest_first_and_pages_backwards(stack: Stack, comments: list[CommentView]) -> None:
    first = history(stack.store, "art", "latest", limit=10)
    assert first.comments == comments[::-1][:10]

    seen, _ = read_all(stack, "latest", 10)
    assert seen == comments[::-1]


@pytest.mark.parametrize("index", [0, 4, 5, 11, 21, 22])
def test_after_returns_exactly_the_later_comments(stack: Stack, comments: list[CommentView], index: int) -> None:
    seen, _ = read_all(stack, "after", 4, after=comments[index].position)

    assert seen == comments[index + 1 :]


@pytest.mark.parametrize(("low", "high"), [(0, 22), (3, 9), (5, 5), (6, 14)])
def test_between_includes_both_ends(stack: Stack, comments: list[CommentView], low: int, high: int) -> None:
    seen, _ = read_all(stack, "between", 3, after=comments[low].position, to=comments[high].position)

    assert seen == comments[low : high + 1]


def test_ties_are_ordered_and_all_present(comments: list[CommentView]) -> None:
    created = [c.created_at for c in comments]
    assert len(set(created)) < len(created), "the fixture must produce tied timestamps"
    assert len({c.position for c in comments}) == len(comments)


def test_empty_room_has_one_empty_page(stack: Stack) -> None:
    commands.apply(CreateChatRoom(room_id="art", user_id="alice"), stack.store)

    page = history(stack.store, "art", "all")

    assert page.comments == [] and page.cursor is None


@pytest.mark.parametrize(
    ("mode", "kwargs"),
    [
        ("after", {}),
        ("between", {"after": "01KB0000000000000000000000"}),
        ("after", {"after": "not-a-position"}),
        ("between", {"after": "01KB0000000000000000000009", "to": "01KB0000000000000000000001"}),
        ("sideways", {}),
        ("all", {"cursor": "bm90IGEgY3Vyc29y"}),
        ("all", {"limit": 0}),
        ("all", {"limit": 101}),
    ],
)
def test_bad_arguments_are_refused_clearly(stack: Stack, mode: str, kwargs: dict[str, object]) -> None:
    commands.apply(CreateChatRoom(room_id="art", user_id="alice"), stack.store)

    with pytest.raises(InvalidRequest):
        history(stack.store, "art", mode, **kwargs)  # type: ignore[arg-type]
