"""A paced room's recorded deletions (``Pace:<feed>`` / ``Deleted:<when>#<commentId>``), DynamoWindows' part.

Every deletion of a paced room is recorded here before it is held in a window or posted at once; a window's
frames are built after its close and one strongly consistent read of them, so a window closed (or taken over)
after a deletion was recorded never posts that comment's text, whichever window holds the deletion, or if
none took it (docs/capacity.md, *Deletions are held too*).
"""

from __future__ import annotations

from collections.abc import Sequence

from roomcast.adapters.dynamodb import keys
from roomcast.adapters.dynamodb.base import Table
from roomcast.domain.events import CommentDeleted


class WindowTombstones(Table):
    def bury(self, feed: str, deletions: Sequence[CommentDeleted], at: int, expires_at: int) -> None:
        """One BatchWriteItem per 25 deletions (about 100 bytes each: 1 WCU each); a retried batch writes
        them again under its own time, which only repeats what they say."""
        pk = keys.pace_pk(feed)
        self.put_items(
            [
                {
                    "PK": pk,
                    "SK": keys.tombstone_sk(at, d.comment_id),
                    "CommentID": d.comment_id,
                    "ExpiresAt": expires_at,
                }
                for d in {d.comment_id: d for d in deletions}.values()
            ]
        )

    def buried(self, feed: str, since: int) -> frozenset[str]:
        """The comment ids whose deletion was recorded at ``since`` (epoch seconds) or later: one strongly
        consistent Query, every page (1 RCU while they are under 4 KB, about 40 of them)."""
        found = self.query_all(
            KeyConditionExpression="PK = :pk AND SK BETWEEN :since AND :last",
            ExpressionAttributeValues={
                ":pk": keys.pace_pk(feed),
                ":since": keys.tombstone_sk(max(0, since), ""),
                ":last": keys.tombstone_sk(10**12 - 1, "~"),
            },
            ProjectionExpression="CommentID",
            ConsistentRead=True,
        )
        return frozenset(str(item["CommentID"]) for item in found)
