"""The moderation verbs against a local stack: what each puts on the queue; `watch` showing deletions and
ending on `banned`; `history` showing tombstones."""

from __future__ import annotations

import json

import pytest

from roomcast.models import BannedFrame, CommentDeletedFrame, DeleteComment, encode_frame
from roomcast.usecases import commands
from support.cli_stack import Local, art, human, run

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["delete-comment", "art", "01M8A1JWEN8B0FFN00GCZA2JEM", "--user", "carol"],
            {"type": "deleteComment", "commentId": "01M8A1JWEN8B0FFN00GCZA2JEM"},
        ),
        (["moderator", "add", "art", "carol", "--user", "alice"], {"type": "addModerator", "targetUserId": "carol"}),
        (
            ["moderator", "remove", "art", "carol", "--user", "alice"],
            {"type": "removeModerator", "targetUserId": "carol"},
        ),
        (
            ["ban", "art", "bob", "--user", "carol", "--for", "60", "--reason", "spam"],
            {"type": "banUser", "targetUserId": "bob", "durationSeconds": 60, "reason": "spam"},
        ),
        (["unban", "art", "bob", "--user", "carol"], {"type": "unbanUser", "targetUserId": "bob"}),
        (["mute", "art", "bob", "--user", "carol"], {"type": "muteUser", "targetUserId": "bob"}),
        (["unmute", "art", "bob", "--user", "carol"], {"type": "unmuteUser", "targetUserId": "bob"}),
        (
            ["policy", "art", "--user", "alice", "--slow-mode", "10", "--review", "failOpen"],
            {"type": "setRoomPolicy", "slowModeSeconds": 10, "reviewMode": "failOpen"},
        ),
    ],
)
def test_each_moderation_verb_sends_its_command(
    local: Local, capsys: pytest.CaptureFixture[str], argv: list[str], expected: dict[str, object]
) -> None:
    status, out, err = run(capsys, *argv, "--command-id", "mod-1")

    assert (status, out, err) == (0, "mod-1\n", "")
    (body,) = [json.loads(message) for message in local.queued()]
    assert body == {"roomId": "art", "userId": argv[argv.index("--user") + 1], "commandId": "mod-1", **expected}


def test_watch_shows_a_deletion_and_ends_on_banned(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    art(local)
    watch = local.watch("art", "--user", "bob")
    connection = local.subscribed_connection()

    deleted = CommentDeletedFrame(
        room_id="art", comment_id="01M8A1JWEN8B0FFN00GCZA2JEM", position="01M8A1JWEN8B0FFN00GCZA2JEM"
    )
    local.post(connection, encode_frame(deleted))
    local.post(connection, encode_frame(BannedFrame(room_id="art", user_id="bob", reason="spam")))

    assert watch.finish() == 0
    out, _ = capsys.readouterr()
    assert out.splitlines() == [
        "* comment 01M8A1JWEN8B0FFN00GCZA2JEM was deleted",
        "* bob was banned from art: spam",
    ]


def test_history_shows_a_deleted_comment_in_its_place(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    first, doomed, last = art(local, ("alice", "one"), ("bob", "two"), ("alice", "three"))
    commands.apply(DeleteComment(room_id="art", user_id="bob", comment_id=doomed.comment_id), local.store)

    status, out, _ = run(capsys, "history", "art")

    assert status == 0
    assert out.splitlines() == [human(first), f"[deleted] {doomed.comment_id}", human(last)]
