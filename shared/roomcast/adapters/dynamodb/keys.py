"""Every key string of the single table is built and parsed here, and nowhere else.

Layout (see docs/data-model.md):

===========================  =======================  ==========================================
PK                           SK                       item
===========================  =======================  ==========================================
``Room:<roomId>``            ``meta``                 the room (CreatedBy, Incarnation)
``Room:<roomId>``            ``Member:<inc>#<userId>`` membership, room side (lists members)
``Room:<roomId>``            ``Ban:<userId>``         a ban (Incarnation, Until), docs/moderation.md
``Room:<roomId>``            ``Mute:<userId>``        a mute (Incarnation, Until)
``User:<userId>``            ``Join:<roomId>``        membership, user side (the seed's item)
``User:<userId>``            ``Comment:<commentId>``  a comment; commentId is time-ordered
``Conn:<connectionId>``      ``meta``                 a WebSocket connection (UserID, ExpiresAt)
``Conn:<connectionId>``      ``Sub:<roomId>#<inc>``   a subscription, connection side
``Subs:<roomId>#<inc>``      ``Conn:<connectionId>``  a subscription, room side, shard 0 (fan-out reads these)
``Subs:<roomId>#<inc>#<s>``  ``Conn:<connectionId>``  the same in shard s, 1..SUBSCRIBER_SHARDS-1
``Subs:<roomId>#<inc>[#<s>]`` ``Head``               the shard's head: a Token put after each change
``Cleanup:<roomId>#<inc>``   ``task``                 a deleted room's cleanup still under way
``Outcome:<key>``            ``outcome``              a command's recorded outcome (domain/outcomes.py)
``Token:<jti>``              ``spent``                a single-use connection token already used (auth.py)
``Slots:<userId>``           ``Slot:<n>``             one of a user's connection slots (ConnectionId, ExpiresAt)
``Pace:<roomId>#<inc>``      ``Window:<start>``       a paced room's frame window, its head (docs/capacity.md)
``Pace:<roomId>#<inc>``      ``Batch:<start>#<hash>`` one stream batch's comments held in that window
``Pace:<roomId>#<inc>``      ``Held:<hash>``          which window holds that batch (Start): its retries find it
``Tier:<roomId>#<inc>``      ``hold``                 the room's hold on the second fan-out tier (Until, Buckets)
===========================  =======================  ==========================================

GSI ``RoomID_Comment_IDX``: ``RoomID`` = ``<roomId>#<incarnation>``, ``Position``.
"""

from __future__ import annotations

import zlib

from roomcast.domain.chat import FEED_SEPARATOR

ROOM_PREFIX = "Room:"
USER_PREFIX = "User:"
META = "meta"
MEMBER_PREFIX = "Member:"
JOIN_PREFIX = "Join:"
COMMENT_PREFIX = "Comment:"
CONNECTION_PREFIX = "Conn:"
SUBSCRIPTION_PREFIX = "Sub:"
SUBSCRIBERS_PREFIX = "Subs:"
CLEANUP_PREFIX = "Cleanup:"
OUTCOME_PREFIX = "Outcome:"
BAN_PREFIX = "Ban:"
MUTE_PREFIX = "Mute:"
OUTCOME = "outcome"
TASK = "task"
TOKEN_PREFIX = "Token:"
SPENT = "spent"
SLOTS_PREFIX = "Slots:"
SLOT_PREFIX = "Slot:"
PACE_PREFIX = "Pace:"
WINDOW_PREFIX = "Window:"
WINDOW_BATCH_PREFIX = "Batch:"
WINDOW_HELD_PREFIX = "Held:"
TOMBSTONE_PREFIX = "Deleted:"
WINDOW_UNPOSTED_PREFIX = "Unposted:"
TIER_PREFIX = "Tier:"
TIER_HOLD = "hold"

COMMENTS_INDEX = "RoomID_Comment_IDX"

# A room's subscriptions spread over this many partitions, read in parallel by the fan-out: 8 keeps a
# room of 100,000 at 400 RCU per partition per batch, for 8 Queries per batch in a small room
# (docs/capacity.md, "Subs:<feed>").
SUBSCRIBER_SHARDS = 8
# Each shard's head (subscriber_heads.py): not a connection, so never read as a subscription.
SUBSCRIBERS_HEAD = "Head"


def room_pk(room_id: str) -> str:
    return f"{ROOM_PREFIX}{room_id}"


def user_pk(user_id: str) -> str:
    return f"{USER_PREFIX}{user_id}"


def members_prefix(incarnation: str) -> str:
    """Room-side member items are grouped by incarnation, so an old room's cleanup never meets a new room's."""
    return f"{MEMBER_PREFIX}{incarnation}{FEED_SEPARATOR}"


def member_sk(incarnation: str, user_id: str) -> str:
    return f"{members_prefix(incarnation)}{user_id}"


def join_sk(room_id: str) -> str:
    return f"{JOIN_PREFIX}{room_id}"


def comment_sk(comment_id: str) -> str:
    return f"{COMMENT_PREFIX}{comment_id}"


def connection_pk(connection_id: str) -> str:
    return f"{CONNECTION_PREFIX}{connection_id}"


def subscription_sk(feed: str) -> str:
    return f"{SUBSCRIPTION_PREFIX}{feed}"


def subscriber_shard(connection_id: str) -> int:
    """Where a new subscription's room-side item goes: stable in every process (``hash()`` is salted)."""
    return zlib.crc32(connection_id.encode()) % SUBSCRIBER_SHARDS


def subscribers_pk(feed: str, shard: int = 0) -> str:
    """One of the partitions of a room incarnation's live connections. Shard 0 is the key written before
    the spread (one partition per room), so those items are read and removed where they are."""
    if not 0 <= shard < SUBSCRIBER_SHARDS:
        raise ValueError(f"subscriber shard {shard} is not in 0..{SUBSCRIBER_SHARDS - 1}")
    base = f"{SUBSCRIBERS_PREFIX}{feed}"
    return base if shard == 0 else f"{base}{FEED_SEPARATOR}{shard}"


def subscribers_feed_and_shard(pk: str) -> tuple[str, int]:
    """The feed and shard of a room-side subscription's partition key (a feed holds one separator)."""
    room_id, _, rest = strip(SUBSCRIBERS_PREFIX, pk).partition(FEED_SEPARATOR)
    incarnation, _, shard = rest.partition(FEED_SEPARATOR)
    return f"{room_id}{FEED_SEPARATOR}{incarnation}", int(shard) if shard else 0


def subscriber_sk(connection_id: str) -> str:
    return f"{CONNECTION_PREFIX}{connection_id}"


def outcome_pk(key: str) -> str:
    return f"{OUTCOME_PREFIX}{key}"


def token_pk(token_id: str) -> str:
    return f"{TOKEN_PREFIX}{token_id}"


def slots_pk(user_id: str) -> str:
    return f"{SLOTS_PREFIX}{user_id}"


def slot_sk(number: int) -> str:
    return f"{SLOT_PREFIX}{number}"


def pace_pk(feed: str) -> str:
    return f"{PACE_PREFIX}{feed}"


def window_sk(start: int) -> str:
    """Zero-padded epoch seconds: a feed's windows sort by start."""
    return f"{WINDOW_PREFIX}{start:012d}"


def window_batches_prefix(start: int) -> str:
    """A window's batch items: apart from the heads (``Batch:`` sorts before ``Window:``), so a range of
    heads is read without their batches."""
    return f"{WINDOW_BATCH_PREFIX}{start:012d}{FEED_SEPARATOR}"


def window_batch_sk(start: int, batch: str) -> str:
    return f"{window_batches_prefix(start)}{batch}"


def window_held_sk(batch: str) -> str:
    """One per stream batch, whichever window holds it: ``Held:`` sorts between ``Batch:`` and ``Window:``."""
    return f"{WINDOW_HELD_PREFIX}{batch}"


def window_unposted_sk(start: int) -> str:
    """A window the StreamFunction closed itself, until it is found handed over: ``Unposted:`` sorts between
    ``Held:`` and ``Window:``, apart from the heads."""
    return f"{WINDOW_UNPOSTED_PREFIX}{start:012d}"


def tombstone_sk(at: int, comment_id: str) -> str:
    """A paced room's deletion, by when it was recorded (epoch seconds), so a flush reads only recent ones:
    ``Deleted:`` sorts between ``Batch:`` and ``Held:``, apart from the heads."""
    return f"{TOMBSTONE_PREFIX}{at:012d}{FEED_SEPARATOR}{comment_id}"


def tier_pk(feed: str) -> str:
    """A room incarnation's hold on the second fan-out tier: one small item, alone in its partition."""
    return f"{TIER_PREFIX}{feed}"


def cleanup_pk(feed: str) -> str:
    return f"{CLEANUP_PREFIX}{feed}"


def strip(prefix: str, key: str) -> str:
    if not key.startswith(prefix):
        raise ValueError(f"{key!r} does not start with {prefix!r}")
    return key[len(prefix) :]


def ban_sk(user_id: str) -> str:
    """Not by incarnation: a join reads the ban with the room, before it knows the incarnation."""
    return f"{BAN_PREFIX}{user_id}"


def mute_sk(user_id: str) -> str:
    return f"{MUTE_PREFIX}{user_id}"
