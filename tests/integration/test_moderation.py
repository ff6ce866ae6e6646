"""Moderation on each backend: the DynamoDB adapter's requests and conditions (docs/data-model.md,
"Moderation"), the CommandFunction recording each command once, and the stream's frames."""

from __future__ import annotations

import time
from typing import Any

import pytest

from roomcast.domain.chat import DeletedComment
from roomcast.domain.errors import Banned, CommentNotFound, Muted, NotAMember, NotModerator, SlowMode
from roomcast.domain.ids import new_ulid
from roomcast.domain.moderation import comment_pace
from roomcast.domain.outcomes import outcome_key, producer_of
from roomcast.models import (
    FRAME_ADAPTER,
    AddComment,
    AddModerator,
    BannedFrame,
    BanUser,
    Command,
    CommentAdded,
    CommentDeletedFrame,
    CommentView,
    CreateChatRoom,
    DeleteChatRoom,
    DeleteComment,
    JoinChatRoom,
    LeaveChatRoom,
    MemberLeft,
    MuteUser,
    Outcome,
    SetRoomPolicy,
    Subscription,
    UnbanUser,
    UnmuteUser,
)
from roomcast.usecases import commands
from roomcast.usecases.history import history
from support.fakes import RecordingApi
from support.recording import StepClock
from support.stack import Stack

pytestmark = pytest.mark.integration


class Room:
    """Room art on one backend: alice created it, carol moderates, bob and dave are members."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.clock = StepClock(time.time_ns() // 1_000_000)
        for command in (
            CreateChatRoom(room_id="art", user_id="alice"),
            *(JoinChatRoom(room_id="art", user_id=user) for user in ("bob", "carol", "dave")),
            AddModerator(room_id="art", user_id="alice", target_user_id="carol"),
        ):
            self.apply(command)

    def apply(self, command: Command) -> Outcome:
        self.clock.step()
        return commands.apply(command, self.stack.store, self.clock)

    def comment(self, user_id: str, text: str = "hello") -> CommentView:
        event = self.apply(AddComment(room_id="art", user_id=user_id, text=text)).event
        assert isinstance(event, CommentAdded)
        return event.comment


@pytest.fixture
def art(stack: Stack) -> Room:
    return Room(stack)


def test_the_author_and_a_moderator_delete_comments_to_tombstones(art: Room) -> None:
    own, other, kept = art.comment("bob", "mine"), art.comment("dave", "troll"), art.comment("dave", "fine")

    art.apply(DeleteComment(room_id="art", user_id="bob", comment_id=own.comment_id))
    art.apply(DeleteComment(room_id="art", user_id="carol", comment_id=other.comment_id))  # found on the index

    assert history(art.stack.store, "art").comments == [
        DeletedComment(comment_id=own.comment_id, position=own.position, user_id="bob"),
        DeletedComment(comment_id=other.comment_id, position=other.position, user_id="dave"),
        kept,
    ]
    item = next(i for i in art.stack.items() if i["SK"] == f"Comment:{other.comment_id}")
    assert "Comment" not in item and item["DeletedBy"] == "carol"
    assert art.apply(DeleteComment(room_id="art", user_id="bob", comment_id=own.comment_id)).event.type == "unchanged"
    with pytest.raises(NotModerator):
        art.apply(DeleteComment(room_id="art", user_id="bob", comment_id=kept.comment_id))
    with pytest.raises(CommentNotFound):
        art.apply(DeleteComment(room_id="art", user_id="carol", comment_id="01KAXE5EHSCCAFMKCB8YXZENRD"))


def test_a_ban_ends_the_membership_refuses_join_and_comment_and_expires(art: Room) -> None:
    art.apply(BanUser(room_id="art", user_id="carol", target_user_id="dave", duration_seconds=60, reason="spam"))

    room = art.stack.store.rooms.get_room("art")
    assert room is not None
    assert "dave" not in {m.user_id for m in art.stack.store.rooms.list_members("art", room.incarnation)[0]}
    with pytest.raises(Banned):
        art.apply(AddComment(room_id="art", user_id="dave", text="let me in"))
    with pytest.raises(Banned):
        art.apply(JoinChatRoom(room_id="art", user_id="dave"))
    ban = next(i for i in art.stack.items() if i["SK"] == "Ban:dave")
    assert (ban["Reason"], int(ban["ExpiresAt"])) == ("spam", int(ban["Until"]) // 1000 + 1)

    art.clock.step(60_000)
    art.apply(JoinChatRoom(room_id="art", user_id="dave"))
    art.comment("dave")


def test_unban_lets_the_user_join_again(art: Room) -> None:
    art.apply(BanUser(room_id="art", user_id="alice", target_user_id="dave"))
    art.apply(UnbanUser(room_id="art", user_id="carol", target_user_id="dave"))

    with pytest.raises(NotAMember):
        art.apply(AddComment(room_id="art", user_id="dave", text="back?"))
    art.apply(JoinChatRoom(room_id="art", user_id="dave"))
    art.comment("dave")
    assert art.apply(UnbanUser(room_id="art", user_id="carol", target_user_id="dave")).event.type == "unchanged"


def test_a_mute_lives_on_the_join_item_and_outlasts_a_leave(art: Room) -> None:
    art.apply(MuteUser(room_id="art", user_id="carol", target_user_id="bob", duration_seconds=600))
    with pytest.raises(Muted):
        art.apply(AddComment(room_id="art", user_id="bob", text="hm"))

    art.apply(LeaveChatRoom(room_id="art", user_id="bob"))
    art.apply(JoinChatRoom(room_id="art", user_id="bob"))
    with pytest.raises(Muted):
        art.apply(AddComment(room_id="art", user_id="bob", text="hm"))

    art.apply(UnmuteUser(room_id="art", user_id="carol", target_user_id="bob"))
    art.comment("bob")
    join = next(i for i in art.stack.items() if (i["PK"], i["SK"]) == ("User:bob", "Join:art"))
    assert "MutedUntil" not in join


def test_slow_mode_is_checked_and_moved_on_the_join_item(art: Room) -> None:
    art.apply(SetRoomPolicy(room_id="art", user_id="alice", slow_mode_seconds=5))
    art.comment("bob")

    with pytest.raises(SlowMode):
        art.apply(AddComment(room_id="art", user_id="bob", text="again"))
    art.comment("carol")
    art.comment("carol")  # a moderator is never slowed
    art.clock.step(5_000)
    art.comment("bob")


def test_the_write_itself_refuses_a_comment_inside_the_interval(art: Room) -> None:
    """Two comments read the same last time (concurrent deliveries): the join's condition refuses the second."""
    art.apply(SetRoomPolicy(room_id="art", user_id="alice", slow_mode_seconds=30))
    room, membership = art.stack.store.rooms.get_room_and_membership("art", "bob")
    assert room is not None and membership is not None
    first = art.comment("bob")

    pace = comment_pace(room, membership, art.clock.step())  # as read before the first comment
    late_id = new_ulid(art.clock.now_ms)
    late = first.model_copy(update={"comment_id": late_id, "position": late_id})
    with pytest.raises(SlowMode):
        art.stack.store.comments.put_comment(room, late, None, pace)


def test_a_room_created_again_starts_with_no_bans_moderators_or_policy(art: Room) -> None:
    art.apply(BanUser(room_id="art", user_id="carol", target_user_id="dave"))
    art.apply(SetRoomPolicy(room_id="art", user_id="alice", slow_mode_seconds=60, review_mode="failClosed"))
    art.apply(DeleteChatRoom(room_id="art", user_id="alice"))
    art.apply(CreateChatRoom(room_id="art", user_id="alice"))

    room = art.stack.store.rooms.get_room("art")
    assert room is not None and (room.moderators, room.slow_mode_seconds, room.review_mode) == ((), 0, "off")
    art.apply(JoinChatRoom(room_id="art", user_id="dave"))
    art.comment("dave")
    art.comment("dave")


def test_the_command_function_applies_a_ban_once_and_records_it(art: Room) -> None:
    ban = BanUser(room_id="art", user_id="carol", target_user_id="bob", command_id="ban-1")
    art.stack.send(ban, ban, fresh=True)  # past SQS deduplication: delivered twice
    event = art.stack.receive_event(2)

    response = art.stack.invoke("CommandFunction", event)

    assert response == {"batchItemFailures": []}
    producer = producer_of(event["Records"][0]["attributes"]["SenderId"])
    found = art.stack.store.ledger.recorded(outcome_key(producer, "ban-1", ""))
    assert found is not None and found[0].summary() == "applied userBanned"
    refused = MuteUser(room_id="art", user_id="bob", target_user_id="dave", command_id="mute-1")
    art.stack.send(refused)
    art.stack.invoke("CommandFunction", art.stack.receive_event(1))
    found = art.stack.store.ledger.recorded(outcome_key(producer, "mute-1", ""))
    assert found is not None and (found[0].status, found[0].code) == ("rejected", "NotModerator")


def test_the_stream_brings_banned_to_the_target_and_comment_deleted_to_everyone(
    art: Room, connections_api: RecordingApi
) -> None:
    room = art.stack.store.rooms.get_room("art")
    assert room is not None
    for user in ("bob", "dave"):
        art.stack.store.connections.add_subscription(
            room,
            Subscription(
                connection_id=f"c-{user}",
                user_id=user,
                room_id="art",
                incarnation=room.incarnation,
                expires_at=int(time.time()) + 600,
            ),
        )
    source = art.stack.stream_source(lambda event: art.stack.invoke("StreamFunction", event))
    source.drain()
    connections_api.received.clear()
    doomed = art.comment("bob", "oops")
    art.apply(DeleteComment(room_id="art", user_id="carol", comment_id=doomed.comment_id))
    art.apply(BanUser(room_id="art", user_id="carol", target_user_id="dave", reason="spam"))

    source.drain()

    def frames(connection: str) -> list[Any]:
        return [FRAME_ADAPTER.validate_json(data) for data in connections_api.received[connection]]

    deleted = CommentDeletedFrame(room_id="art", comment_id=doomed.comment_id, position=doomed.position)
    assert frames("c-dave")[-1] == BannedFrame(room_id="art", user_id="dave", reason="spam")
    assert deleted in frames("c-dave")
    assert [type(f) for f in frames("c-bob")][-2:] == [CommentDeletedFrame, MemberLeft]
    assert frames("c-bob")[-1] == MemberLeft(room_id="art", user_id="dave")
    assert [s.connection_id for s in art.stack.store.connections.all_subscribers(f"art#{room.incarnation}")] == [
        "c-bob"
    ]
