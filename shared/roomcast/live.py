"""The live path's use case: one DynamoDB stream batch in, frames out, deleted rooms cleaned up.

Comments and presence are grouped by room: each live connection of a room gets the
batch's frames for that room in table order (comments merged into as few frames as
fit 32 KB), so M comments to C connections make C posts, not C x M.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
    DynamoDBStreamEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from roomcast import keys
from roomcast.cleanup import clean_up_room
from roomcast.errors import TransientError
from roomcast.fanout import comment_frames, fan_out
from roomcast.gateway import ConnectionGateway
from roomcast.models import CommentView, MemberJoined, MemberLeft, encode_frame
from roomcast.repository import ChatRepository
from roomcast.settings import get_settings

logger = Logger(child=True)
metrics = Metrics()


@dataclass
class Change:
    """What one stream record means to the live path."""

    kind: str  # comment | joined | left | roomDeleted | cleanup | ignored
    feed: str = ""
    sequence: str = ""
    comment: CommentView | None = None
    user_id: str = ""


def classify(record: DynamoDBRecord) -> Change:
    stream = record.dynamodb
    if stream is None or not stream.keys:
        return Change("ignored")
    pk, sk = str(stream.keys["PK"]), str(stream.keys["SK"])
    sequence = stream.sequence_number or ""
    event = record.event_name
    new, old = stream.new_image or {}, stream.old_image or {}
    if sk.startswith(keys.COMMENT_PREFIX) and event == DynamoDBRecordEventName.INSERT:
        comment = CommentView(
            comment_id=keys.strip(keys.COMMENT_PREFIX, sk),
            user_id=keys.strip(keys.USER_PREFIX, pk),
            text=str(new["Comment"]),
            created_at=str(new["CreatedAt"]),
            position=str(new["Position"]),
        )
        return Change("comment", str(new["RoomID"]), sequence, comment=comment)
    if sk.startswith(keys.JOIN_PREFIX):
        room_id, user_id = keys.strip(keys.JOIN_PREFIX, sk), keys.strip(keys.USER_PREFIX, pk)
        if event == DynamoDBRecordEventName.REMOVE:
            return Change("left", keys.room_feed(room_id, str(old["Incarnation"])), sequence, user_id=user_id)
        # An overwrite of a stale join (an older incarnation's) is a join too.
        if new.get("Incarnation") != old.get("Incarnation"):
            return Change("joined", keys.room_feed(room_id, str(new["Incarnation"])), sequence, user_id=user_id)
    if pk.startswith(keys.ROOM_PREFIX) and sk == keys.META and event == DynamoDBRecordEventName.REMOVE:
        feed = keys.room_feed(keys.strip(keys.ROOM_PREFIX, pk), str(old["Incarnation"]))
        return Change("roomDeleted", feed, sequence)
    if pk.startswith(keys.CLEANUP_PREFIX) and event != DynamoDBRecordEventName.REMOVE:
        return Change("cleanup", keys.strip(keys.CLEANUP_PREFIX, pk), sequence)
    return Change("ignored", sequence=sequence)


@dataclass
class DeliveryReport:
    feeds: int = 0
    frames: int = 0
    posts: int = 0
    gone: int = 0
    failed_sequences: set[str] = field(default_factory=set)


class LiveProcessor:
    def __init__(
        self,
        repo: ChatRepository,
        gateway: ConnectionGateway,
        frame_limit: int,
        max_workers: int,
        out_of_time: Callable[[], bool],
    ) -> None:
        self.repo = repo
        self.gateway = gateway
        self.frame_limit = frame_limit
        self.max_workers = max_workers
        self.out_of_time = out_of_time

    def deliver(self, changes: Iterable[Change]) -> DeliveryReport:
        """Comments and presence of the batch, room by room; a room whose posts still fail has its records failed."""
        by_feed: dict[str, list[Change]] = defaultdict(list)
        for change in changes:
            if change.kind in {"comment", "joined", "left"}:
                by_feed[change.feed].append(change)
        report = DeliveryReport(feeds=len(by_feed))
        for feed, feed_changes in by_feed.items():
            frames = self._frames(feed, feed_changes)
            subscriptions = self.repo.all_subscribers(feed)
            result = fan_out(frames, subscriptions, self.gateway, self.repo, self.max_workers)
            report.frames += len(frames)
            report.posts += result.posts
            report.gone += len(result.gone)
            leavers = {c.user_id for c in feed_changes if c.kind == "left"}
            if leavers:
                gone = set(result.gone)
                self.repo.remove_subscriptions(
                    [s for s in subscriptions if s.user_id in leavers and s.connection_id not in gone]
                )
            if result.failed:
                report.failed_sequences.update(c.sequence for c in feed_changes)
        metrics.add_metric(name="FramesPosted", unit=MetricUnit.Count, value=report.posts)
        metrics.add_metric(name="ConnectionsGone", unit=MetricUnit.Count, value=report.gone)
        return report

    def _frames(self, feed: str, changes: list[Change]) -> list[bytes]:
        """Runs of comments become comment frames; presence frames keep their place between them."""
        room_id, _ = keys.split_feed(feed)
        frames: list[bytes] = []
        run: list[CommentView] = []
        for change in changes:
            if change.comment is not None:
                run.append(change.comment)
                continue
            frames += comment_frames(room_id, run, self.frame_limit)
            run = []
            presence = MemberJoined if change.kind == "joined" else MemberLeft
            frames.append(encode_frame(presence(room_id=room_id, user_id=change.user_id)))
        return frames + comment_frames(room_id, run, self.frame_limit)

    def handle(self, change: Change, failed_sequences: set[str]) -> None:
        """Powertools' record handler: raising fails the record, so Lambda retries from it."""
        if change.sequence in failed_sequences:
            raise TransientError(f"delivery to room feed {change.feed} failed; the batch will be retried")
        if change.kind in {"roomDeleted", "cleanup"}:
            clean_up_room(self.repo, self.gateway, change.feed, self.out_of_time, self.max_workers)


def process_batch(
    event: dict[str, Any], context: LambdaContext, processor: BatchProcessor
) -> PartialItemFailureResponse:
    """Deliver the batch's comments and presence, then run the record handler per record (cleanup, failures)."""
    settings = get_settings()
    live = LiveProcessor(
        ChatRepository(settings.table_name),
        ConnectionGateway.from_settings(),
        settings.frame_limit_bytes,
        settings.fanout_max_workers,
        out_of_time=lambda: context.get_remaining_time_in_millis() < settings.cleanup_margin_ms,
    )
    changes = [classify(record) for record in DynamoDBStreamEvent(event).records]
    report = live.deliver(changes)
    logger.info(
        "batch delivered",
        extra={"records": len(changes), "feeds": report.feeds, "frames": report.frames, "posts": report.posts},
    )
    by_sequence = {change.sequence: change for change in changes}
    return process_partial_response(
        event=event,
        record_handler=lambda record: live.handle(
            by_sequence[record.dynamodb.sequence_number], report.failed_sequences
        ),
        processor=processor,
        context=context,
    )
