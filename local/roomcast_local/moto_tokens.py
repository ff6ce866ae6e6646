"""moto 5.2.5's ``TransactWriteItems``, made idempotent by its ``ClientRequestToken`` as DynamoDB's is.

botocore fills the token in itself (an idempotency token of the operation's model) and keeps it across
its own retries. On AWS a retry of a transaction that succeeded is then answered with success and
changes nothing, for 10 minutes; a retry while the first is still running gets
``TransactionInProgressException`` (which botocore's standard mode retries); the same token with
other items gets ``IdempotentParameterMismatchException``. moto ignores the token: a transaction
whose answer came too late for the client's read timeout (a loaded laptop, a long transaction) was
applied a second time by botocore's retry, and the second time its conditions failed. A comment's
join-item condition then made the retry a ``NotAMember`` rejection of a comment that was in fact
written; without a condition it would have been written twice.

Applied by the local stack and its AWS endpoint, and by the integration suite to every moto backend
(as moto_fifo is): it is about what a retry means, not about speed. ``apply()`` is idempotent;
``revert()`` undoes it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections import deque
from typing import Any

import moto
from moto.core.responses import ActionResult
from moto.dynamodb.exceptions import DynamodbException
from moto.dynamodb.responses import DynamoHandler

TARGET_MOTO = "5.2.5"
# How long DynamoDB remembers a token (Amazon DynamoDB Developer Guide, "Idempotency" under transactions).
TOKEN_SECONDS = 600
_lock = threading.Lock()
_saved: dict[str, Any] = {}
# (account, region, token) -> (digest of the items, None while running or the time it succeeded)
_tokens: dict[tuple[str, str, str], tuple[str, float | None]] = {}
# (the time it succeeded, token key), oldest first: what to forget when, without a walk over every token
# of the last 10 minutes on each transaction (30,000 at 50 commands/s)
_expiry: deque[tuple[float, tuple[str, str, str]]] = deque()


class TransactionInProgress(DynamodbException):
    def __init__(self) -> None:
        super().__init__(
            "com.amazonaws.dynamodb.v20120810#TransactionInProgressException",
            "A transaction with this ClientRequestToken is still in progress",
        )


class IdempotentParameterMismatch(DynamodbException):
    def __init__(self) -> None:
        super().__init__(
            "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
            "ClientRequestToken was used before with other TransactItems",
        )


def _canonical(transact_items: Any) -> str:
    """The request's items as one string; binary attributes (parsed to bytes) in base64, as on the wire."""
    return json.dumps(transact_items, sort_keys=True, default=lambda value: base64.b64encode(value).decode())


def apply() -> None:
    if moto.__version__ != TARGET_MOTO:
        raise RuntimeError(f"roomcast_local.moto_tokens patches moto {TARGET_MOTO}, not moto {moto.__version__}")
    if "transact_write_items" in _saved:
        return
    original = _saved["transact_write_items"] = DynamoHandler.transact_write_items

    def transact_write_items(self: DynamoHandler) -> Any:
        token = self.body.get("ClientRequestToken")
        if not token:
            return original(self)
        key = (self.current_account, self.region, str(token))
        digest = hashlib.sha256(_canonical(self.body["TransactItems"]).encode()).hexdigest()
        if _claim(key, digest):
            return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
        try:
            result = original(self)
        except BaseException:
            with _lock:
                _tokens.pop(key, None)  # a failed transaction may be tried again with its token
            raise
        with _lock:
            done = time.monotonic()
            _tokens[key] = (digest, done)
            _expiry.append((done, key))
        return result

    DynamoHandler.transact_write_items = transact_write_items  # type: ignore[method-assign]


def revert() -> None:
    if "transact_write_items" in _saved:
        DynamoHandler.transact_write_items = _saved.pop("transact_write_items")  # type: ignore[method-assign]
    with _lock:
        _tokens.clear()
        _expiry.clear()


def _claim(key: tuple[str, str, str], digest: str) -> bool:
    """True when the token's transaction already succeeded; raises when it is running or had other
    items; else marks it running for this request."""
    now = time.monotonic()
    with _lock:
        while _expiry and now - _expiry[0][0] > TOKEN_SECONDS:
            done, stale = _expiry.popleft()
            if _tokens.get(stale, ("", None))[1] == done:  # not claimed again since (after a failure)
                del _tokens[stale]
        seen = _tokens.get(key)
        if seen is None:
            _tokens[key] = (digest, None)
            return False
        if seen[0] != digest:
            raise IdempotentParameterMismatch()
        if seen[1] is None:
            raise TransactionInProgress()
        return True
