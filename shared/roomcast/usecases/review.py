"""The review hook on the comment path (docs/moderation.md): called after the room's own rules
(membership, bans, mutes, slow mode) admit the comment, before anything is written."""

from __future__ import annotations

from roomcast.domain.chat import Room
from roomcast.domain.review import ReviewFailed, Verdict, reviewed_text
from roomcast.usecases.ports import Reviewer


def review_comment(reviewer: Reviewer | None, room: Room, user_id: str, text: str) -> str:
    """The text to write: the original when the room's mode is off (no request at all), else what the
    verdict and the mode decide; raises Denied or ReviewUnavailable."""
    if room.review_mode == "off":
        return text
    verdict: Verdict | ReviewFailed
    if reviewer is None:
        verdict = ReviewFailed("no review function is configured")
    else:
        try:
            verdict = reviewer.review(room.room_id, user_id, text)
        except ReviewFailed as failure:
            verdict = failure
        except Exception as error:  # noqa: BLE001 - a broken adapter is a failed review: the mode decides
            verdict = ReviewFailed(f"{type(error).__name__}: {error}")
    return reviewed_text(room.review_mode, text, verdict)
