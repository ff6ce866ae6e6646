"""The Moderation port in memory, with the DynamoDB adapter's semantics (adapters/dynamodb/moderation.py):
the same conditions in the same order, the same errors, the same stream records (a ban's ``userBanned``
before the target's ``memberLeft``, a tombstone's ``commentDeleted``)."""

from __future__ import annotations

from roomcast.domain.chat import (
    CommentView,
    DeletedComment,
    FeedEntry,
    Membership,
    ReviewMode,
    Room,
    room_feed,
    room_missing,
)
from roomcast.domain.events import CommentDeleted, UserBanned
from roomcast.domain.moderation import FOREVER_MS, Sanction, banned
from roomcast.usecases.ports import Receipt
from support.memory import MemoryTable


class MemoryModeration:
    def __init__(self, table: MemoryTable) -> None:
        self.table = table

    def get_room_and_sanctions(
        self, room_id: str, user_id: str
    ) -> tuple[Room | None, Sanction | None, Sanction | None]:
        with self.table.lock:
            key = (room_id, user_id)
            return self.table.rooms.get(room_id), self.table.bans.get(key), self.table.mutes.get(key)

    def get_ban(self, room: Room, user_id: str) -> Sanction | None:
        with self.table.lock:
            return self.table.bans.get((room.room_id, user_id))

    def _begin(self, room: Room, receipt: Receipt | None) -> None:
        """The adapters' first two checks: the receipt, then the room's incarnation."""
        self.table.check_receipt(receipt)
        if not self.table.same_incarnation(room):
            raise room_missing(room.room_id)

    def join(self, room: Room, membership: Membership, now_ms: int, receipt: Receipt | None = None) -> bool:
        with self.table.lock:
            self._begin(room, receipt)
            ban = self.table.bans.get((room.room_id, membership.user_id))
            if ban is not None and ban.active(room, now_ms):
                raise banned(room, membership.user_id, ban)
            if self.table.joined(room, membership.user_id):
                return False
            self.table.put_join(membership)
            self.table.write_receipt(receipt)
            return True

    def ban(self, room: Room, ban: Sanction, member: bool, receipt: Receipt | None = None) -> None:
        with self.table.lock:
            self._begin(room, receipt)
            self.table.bans[(room.room_id, ban.user_id)] = ban
            event = UserBanned(
                room_id=room.room_id, user_id=ban.by, target_user_id=ban.user_id, until=ban.until, reason=ban.reason
            )
            self.table.record(room_feed(room.room_id, room.incarnation), event)
            if member and self.table.joined(room, ban.user_id):
                self.table.delete_join(ban.user_id, room.room_id)
                self.table.members.pop((room.room_id, room.incarnation, ban.user_id), None)
            self.table.write_receipt(receipt)

    def unban(self, room: Room, user_id: str, receipt: Receipt | None = None) -> bool:
        return self._lift(self.table.bans, room, user_id, receipt)

    def mute(self, room: Room, mute: Sanction, member: bool, receipt: Receipt | None = None) -> None:
        with self.table.lock:
            self._begin(room, receipt)
            self.table.mutes[(room.room_id, mute.user_id)] = mute
            self._mark_join(room, mute.user_id, mute.until_ms or FOREVER_MS)
            self.table.write_receipt(receipt)

    def unmute(self, room: Room, user_id: str, member: bool, receipt: Receipt | None = None) -> bool:
        with self.table.lock:
            lifted = self._lift(self.table.mutes, room, user_id, receipt)
            if lifted:
                self._mark_join(room, user_id, None)
            return lifted

    def _lift(self, kept: dict[tuple[str, str], Sanction], room: Room, user_id: str, receipt: Receipt | None) -> bool:
        """Deletes this incarnation's ban or mute; False when there is none (nothing written)."""
        with self.table.lock:
            self._begin(room, receipt)
            found = kept.get((room.room_id, user_id))
            if found is None or found.incarnation != room.incarnation:
                return False
            del kept[(room.room_id, user_id)]
            self.table.write_receipt(receipt)
            return True

    def _mark_join(self, room: Room, user_id: str, muted_until_ms: int | None) -> None:
        join = self.table.joins.get((user_id, room.room_id))
        if join is not None and join.incarnation == room.incarnation:
            marked = join.model_copy(update={"muted_until_ms": muted_until_ms})
            self.table.joins[(user_id, room.room_id)] = marked
            self.table.members[(room.room_id, room.incarnation, user_id)] = marked

    def set_moderator(self, room: Room, user_id: str, moderator: bool, receipt: Receipt | None = None) -> bool:
        with self.table.lock:
            self._begin(room, receipt)
            current = self.table.rooms[room.room_id]
            if (user_id in current.moderators) == moderator:
                return False
            others = tuple(m for m in current.moderators if m != user_id)
            moderators = tuple(sorted((*others, user_id))) if moderator else others
            self.table.rooms[room.room_id] = current.model_copy(update={"moderators": moderators})
            self.table.write_receipt(receipt)
            return True

    def set_policy(
        self, room: Room, slow_mode_seconds: int, review_mode: ReviewMode, receipt: Receipt | None = None
    ) -> None:
        with self.table.lock:
            self._begin(room, receipt)
            policy = {"slow_mode_seconds": slow_mode_seconds, "review_mode": review_mode}
            self.table.rooms[room.room_id] = self.table.rooms[room.room_id].model_copy(update=policy)
            self.table.write_receipt(receipt)

    def get_room_and_comment(self, room_id: str, user_id: str, comment_id: str) -> tuple[Room | None, FeedEntry | None]:
        with self.table.lock:
            room = self.table.rooms.get(room_id)
            found = self.table.comments.get((user_id, comment_id))
            if room is None or found is None or found[0] != room_feed(room.room_id, room.incarnation):
                return room, None
            return room, found[1]

    def find_comment(self, room: Room, comment_id: str) -> FeedEntry | None:
        with self.table.lock:
            feed = self.table.feed_comments(room_feed(room.room_id, room.incarnation))
        return next((entry for position, entry in feed if position == comment_id), None)

    def delete_comment(
        self, room: Room, comment: CommentView, by: str, at_ms: int, receipt: Receipt | None = None
    ) -> bool:
        with self.table.lock:
            self._begin(room, receipt)
            key = (comment.user_id, comment.comment_id)
            feed, current = self.table.comments[key]
            if isinstance(current, DeletedComment):
                return False
            tombstone = DeletedComment(
                comment_id=comment.comment_id, position=comment.position, user_id=comment.user_id
            )
            self.table.comments[key] = (feed, tombstone)
            event = CommentDeleted(
                room_id=room.room_id, user_id=by, comment_id=comment.comment_id, position=comment.position
            )
            self.table.record(feed, event)
            self.table.write_receipt(receipt)
            return True
