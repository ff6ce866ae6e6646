"""Moderation's DynamoDB requests and capacity units (docs/moderation.md, docs/data-model.md "Moderation"):
each moderation command, and what moderation adds to a comment, beside a plain addComment of the same run.

Like bench/dynamodb.py: in-process moto with template.yaml's table, Roomcast's real use cases and adapters,
each operation metered on its own (bench/meter.py). The baseline of every addComment case is the plain
addComment measured first; that of each command is the design's count of its requests and units.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from bench.local import Chat, chat_on_moto
from bench.meter import Usage
from bench.results import Figure
from roomcast.domain.errors import Rejected
from roomcast.models import (
    AddComment,
    AddModerator,
    BanUser,
    Command,
    CreateChatRoom,
    DeleteComment,
    JoinChatRoom,
    MuteUser,
    RemoveModerator,
    SetRoomPolicy,
    UnbanUser,
    UnmuteUser,
)
from roomcast.usecases import commands

ROOM = "modbench"
TEXT = "x" * 100


@dataclass(frozen=True)
class Design:
    """What the design says the operation costs: requests, RCU, WCU (transactional writes 2 per item)."""

    requests: int
    rcu: float
    wcu: float
    why: str


def run(smoke: bool) -> list[Figure]:
    with chat_on_moto("modbench") as chat:
        return _measure_all(chat)


# (case, what, the command, built just before it is measured, and its design; None: a comment, against the plain one)
Step = tuple[str, str, Callable[[], Command], Design | None]


def _measure_all(chat: Chat) -> list[Figure]:
    store, meter = chat.store, chat.meter
    figures: list[Figure] = []

    def apply(command: Command) -> None:
        with contextlib.suppress(Rejected):  # a refused comment is a case measured here too
            commands.apply(command, store)

    setup: list[Command] = [
        CreateChatRoom(room_id=ROOM, user_id="alice"),
        *(JoinChatRoom(room_id=ROOM, user_id=user) for user in ("bob", "carol", "dave", "eve")),
    ]
    for command in setup:
        apply(command)
    base: list[float] = []
    for case, what, build, design in _steps(chat, apply):
        command = build()
        with meter.measure() as usage:
            apply(command)
        if not base:
            base = [usage.total_requests, usage.rcu, usage.total_wcu]
        figures += (
            _comment_figures(case, what, usage, base) if design is None else _command_figures(case, what, usage, design)
        )
    return figures


def _steps(chat: Chat, apply: Callable[[Command], None]) -> list[Step]:
    def comment(user: str) -> Callable[[], Command]:
        return lambda: AddComment(room_id=ROOM, user_id=user, text=TEXT)

    def given(command: Command) -> Callable[[], Command]:
        return lambda: command

    def delete_new_comment(by: str) -> Callable[[], Command]:
        def build() -> Command:
            apply(AddComment(room_id=ROOM, user_id="bob", text=TEXT))
            return DeleteComment(room_id=ROOM, user_id=by, comment_id=_last_comment(chat, "bob"))

        return build

    return [
        ("addComment", "a plain comment in a room without moderation", comment("bob"), None),
        (
            "addModerator",
            "the creator names a moderator",
            given(AddModerator(room_id=ROOM, user_id="alice", target_user_id="carol")),
            Design(2, 1, 2, "GetItem SC of the room; one Update of the room item (ADD Moderators) in a transaction"),
        ),
        (
            "setRoomPolicy",
            "the creator sets slow mode to 10 s",
            given(SetRoomPolicy(room_id=ROOM, user_id="alice", slow_mode_seconds=10)),
            Design(2, 1, 2, "GetItem SC of the room; one Update of the room item in a transaction"),
        ),
        ("addComment-slow-mode", "a comment in slow mode (the author's first)", comment("dave"), None),
        ("addComment-slow-mode-refused", "a second comment within the interval (SlowMode)", comment("dave"), None),
        (
            "muteUser",
            "a moderator mutes a member for 600 s",
            given(MuteUser(room_id=ROOM, user_id="carol", target_user_id="eve", duration_seconds=600)),
            Design(
                2, 2, 6, "BatchGetItem SC (room, the target's join); room check, Put of the mute, Update of the join"
            ),
        ),
        ("addComment-muted", "a muted member's comment (Muted)", comment("eve"), None),
        (
            "unmuteUser",
            "a moderator unmutes the member",
            given(UnmuteUser(room_id=ROOM, user_id="carol", target_user_id="eve")),
            Design(2, 2, 6, "BatchGetItem SC; room check, Delete of the mute, Update of the join"),
        ),
        (
            "banUser",
            "a moderator bans a member for an hour",
            given(BanUser(room_id=ROOM, user_id="carol", target_user_id="eve", duration_seconds=3600, reason="spam")),
            Design(
                2, 2, 8, "BatchGetItem SC (room, the target's join); room check, Put of the ban, 2 membership deletes"
            ),
        ),
        ("addComment-banned", "a banned user's comment (Banned)", comment("eve"), None),
        (
            "joinChatRoom-banned",
            "the banned user tries to join (Banned)",
            given(JoinChatRoom(room_id=ROOM, user_id="eve")),
            Design(1, 3, 0, "one BatchGetItem SC of room, ban and mute refuses it: no transaction"),
        ),
        (
            "unbanUser",
            "a moderator lifts the ban",
            given(UnbanUser(room_id=ROOM, user_id="carol", target_user_id="eve")),
            Design(2, 1, 4, "GetItem SC of the room; room check and Delete of the ban"),
        ),
        (
            "joinChatRoom",
            "a join, now with the ban check",
            given(JoinChatRoom(room_id=ROOM, user_id="eve")),
            Design(2, 3, 8, "BatchGetItem SC of room, ban, mute; room check, ban check, both membership puts"),
        ),
        (
            "deleteComment-author",
            "the author deletes their comment",
            delete_new_comment("bob"),
            Design(2, 2, 4, "BatchGetItem SC (room, the author's comment); room check and Update of the comment"),
        ),
        (
            "deleteComment-moderator",
            "a moderator deletes another's comment",
            delete_new_comment("carol"),
            Design(3, 2.5, 4, "the same, plus one Query on the comment index by position (eventually consistent)"),
        ),
        (
            "removeModerator",
            "the creator removes the moderator",
            given(RemoveModerator(room_id=ROOM, user_id="alice", target_user_id="carol")),
            Design(2, 1, 2, "GetItem SC of the room; one Update of the room item (DELETE Moderators)"),
        ),
    ]


def _last_comment(chat: Chat, author: str) -> str:
    from roomcast.usecases.history import history

    page = history(chat.store, ROOM, "latest", limit=10)
    return next(c.comment_id for c in page.comments if c.user_id == author and not getattr(c, "deleted", False))


def _comment_figures(case: str, what: str, usage: Usage, base: list[float]) -> list[Figure]:
    name = f"moderation/{case}"
    notes = usage.describe()
    label = "plain addComment, same run"
    return [
        Figure(f"{name}/requests", what, usage.total_requests, "requests", base[0], label, notes),
        Figure(f"{name}/rcu", what, usage.rcu, "RCU", base[1], label),
        Figure(
            f"{name}/wcu",
            what,
            usage.total_wcu,
            "WCU",
            base[2],
            label,
            f"table {usage.wcu:g} + index {usage.index_wcu:g}",
        ),
    ]


def _command_figures(case: str, what: str, usage: Usage, design: Design) -> list[Figure]:
    name = f"moderation/{case}"
    label = "design"
    notes = f"{usage.describe()}. Design: {design.why}."
    return [
        Figure(f"{name}/requests", what, usage.total_requests, "requests", design.requests, label, notes),
        Figure(f"{name}/rcu", what, usage.rcu, "RCU", design.rcu, label),
        Figure(
            f"{name}/wcu",
            what,
            usage.total_wcu,
            "WCU",
            design.wcu,
            label,
            f"table {usage.wcu:g} + index {usage.index_wcu:g}",
        ),
    ]
