"""``roomcast history``: a room's comments, read page after page through roomcast.usecases.history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from roomcast_cli.common import Command, positive_int, printable, stack_options
from roomcast_cli.target import Choice, Target

if TYPE_CHECKING:
    from roomcast.models import FeedEntry
    from roomcast.usecases.ports import Store

# History is read in the largest pages the query allows (roomcast.usecases.history.MAX_PAGE_SIZE): fewest
# round trips. None until the first read, so that importing this module stays free; tests make it smaller.
PAGE_SIZE: int | None = None
MODES = ("latest", "all", "after", "between")


@click.command("history", cls=Command, help="print a room's comments (all of them unless told otherwise)")
@click.argument("room", metavar="ROOM")
@click.option("--latest", type=positive_int(), metavar="N", help="the N newest comments")
@click.option("--all", "all_", is_flag=True, help="every comment (the default)")
@click.option("--after", metavar="P", help="the comments after position P")
@click.option("--between", nargs=2, metavar="P Q", help="the comments from position P to Q, both included")
@click.option(
    "--json", "as_json", is_flag=True, help="one JSON object per comment, in the query's order (--latest: newest first)"
)
@click.option("--positions", is_flag=True, help="start each line with the comment's position")
@stack_options
@click.pass_context
def history(ctx: click.Context, room: str, as_json: bool, positions: bool, **options: Any) -> None:
    given = {"latest": options.pop("latest"), "all": options.pop("all_") or None}
    given |= {"after": options.pop("after"), "between": options.pop("between")}
    chosen = [f"--{mode}" for mode in MODES if given[mode] is not None]
    if len(chosen) > 1:  # argparse's words for it, which scripts may match
        raise click.UsageError(f"argument {chosen[1]}: not allowed with argument {chosen[0]}", ctx)
    choice = Choice.of(ctx, **options)
    after, to, wanted = None, None, given["latest"]
    mode = "latest" if wanted is not None else "after" if given["after"] else "between" if given["between"] else "all"
    if mode == "after":
        after = given["after"]
    elif mode == "between":
        after, to = given["between"]
    comments = read_history(Target.of(choice).store(), room, mode, after=after, to=to, wanted=wanted)
    if as_json:
        for comment in comments:  # in the query's order: newest first for --latest
            click.echo(printable(comment.model_dump_json(by_alias=True)))
    elif mode == "latest":
        for comment in reversed(list(comments)):  # people read a conversation oldest first
            click.echo(comment_line(comment, "%Y-%m-%d %H:%M:%S", positions))
    else:
        for comment in comments:
            click.echo(comment_line(comment, "%Y-%m-%d %H:%M:%S", positions))


def read_history(
    store: Store,
    room: str,
    mode: str,
    *,
    after: str | None = None,
    to: str | None = None,
    wanted: int | None = None,
) -> Iterator[FeedEntry]:
    """Every comment the query selects (at most ``wanted``), page after page along the cursor."""
    from roomcast.usecases import history

    page_size = PAGE_SIZE or history.MAX_PAGE_SIZE
    limit = page_size if wanted is None else min(page_size, wanted)
    for page in history.pages(store, room, mode, after=after, to=to, limit=limit):  # type: ignore[arg-type]
        comments = page.comments if wanted is None else page.comments[:wanted]
        yield from comments
        if wanted is not None:
            wanted -= len(comments)
            if wanted <= 0:
                return


def comment_line(comment: FeedEntry, time_format: str, positions: bool) -> str:
    """``[19:05:41] alice: hello``: times in UTC, as stored; later lines of a multi-line text indented.
    A deleted comment keeps its place as ``[deleted] <commentId>``."""
    from roomcast.models import DeletedComment

    if isinstance(comment, DeletedComment):
        line = f"[deleted] {comment.comment_id}"
        return f"{comment.position} {line}" if positions else line
    try:
        when = datetime.fromisoformat(comment.created_at).astimezone(UTC).strftime(time_format)
    except ValueError:
        when = comment.created_at
    text = "\n    ".join(comment.text.splitlines() or [""])
    line = f"[{when}] {comment.user_id}: {text}"
    return printable(f"{comment.position} {line}" if positions else line)
