"""The table's stream records read back as typed changes: the one place that knows which item
changes mean a comment, a join, a leave, a deleted room or a cleanup step."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from roomcast.adapters.dynamodb import items, keys
from roomcast.adapters.dynamodb.moderation import moderation_change
from roomcast.domain.chat import CommentView, room_feed, split_feed
from roomcast.domain.events import ChatRoomDeleted, CleanupScheduled, CommentAdded, MemberJoined, MemberLeft
from roomcast.usecases.stream import Change


def change_of(record: DynamoDBRecord) -> Change:
    stream = record.dynamodb
    if stream is None or not stream.keys:
        return Change(sequence="")
    pk, sk = str(stream.keys["PK"]), str(stream.keys["SK"])
    sequence = stream.sequence_number or ""
    removed = record.event_name == DynamoDBRecordEventName.REMOVE
    new, old = stream.new_image or {}, stream.old_image or {}
    if sk.startswith(keys.COMMENT_PREFIX) and record.event_name == DynamoDBRecordEventName.INSERT:
        feed = str(new["RoomID"])
        comment = items.comment({**new, "PK": pk, "SK": sk})
        if isinstance(comment, CommentView):
            return Change(sequence, feed, CommentAdded(room_id=split_feed(feed)[0], comment=comment))
    moderated = moderation_change(record, sequence)
    if moderated is not None:
        return moderated
    if sk.startswith(keys.JOIN_PREFIX):
        room_id, user_id = keys.strip(keys.JOIN_PREFIX, sk), keys.strip(keys.USER_PREFIX, pk)
        if removed:
            return Change(
                sequence, room_feed(room_id, str(old["Incarnation"])), MemberLeft(room_id=room_id, user_id=user_id)
            )
        # An overwrite of a stale join (an older incarnation's) is a join too.
        if new.get("Incarnation") != old.get("Incarnation"):
            feed = room_feed(room_id, str(new["Incarnation"]))
            return Change(sequence, feed, MemberJoined(room_id=room_id, user_id=user_id))
    if pk.startswith(keys.ROOM_PREFIX) and sk == keys.META and removed:
        room_id, incarnation = keys.strip(keys.ROOM_PREFIX, pk), str(old["Incarnation"])
        deleted = ChatRoomDeleted(room_id=room_id, user_id=str(old["CreatedBy"]), incarnation=incarnation)
        return Change(sequence, room_feed(room_id, incarnation), deleted)
    if pk.startswith(keys.CLEANUP_PREFIX) and not removed:
        feed = keys.strip(keys.CLEANUP_PREFIX, pk)
        room_id, incarnation = split_feed(feed)
        return Change(sequence, feed, CleanupScheduled(room_id=room_id, incarnation=incarnation))
    return Change(sequence)
