"""SendMessage to the local stack's command queue without botocore's client: one request, botocore signs it.

Creating botocore's SQS client (its session, the service model, endpoint rules, the event hooks) is
most of what a publishing verb spent before its first byte left. A SendMessage to the local emulator
is one ``POST /`` in SQS's JSON protocol, so this module builds exactly that, signs it with
``botocore.auth.SigV4Auth`` (moto picks the region's backend from the credential scope) and sends it
on an ``http.client`` connection, as adapters/lean_poster.py posts frames.

Only the success is read here. Anything else (nothing listening, a 4xx, a 5xx, an answer that is not
SendMessage's) returns None, and the caller sends again through botocore's client, whose errors the
CLI already words in one line (main.explain). A second send is harmless: the queue is FIFO,
deduplicated by the commandId, and the outcome record covers any later copy.
"""

from __future__ import annotations

import http.client
import json
import os
from typing import Any, NamedTuple
from urllib.parse import urlsplit

CONNECT_TIMEOUT = 2.0  # a local endpoint that does not accept at once is not running
READ_TIMEOUT = 60.0  # botocore's default: the emulator may be busy applying earlier commands


def send_message(endpoint_url: str, region: str, queue_url: str, message: dict[str, Any]) -> str | None:
    """The MessageId of ``message`` (SendMessage's arguments but QueueUrl) sent to ``queue_url``, or
    None when the request failed in any way."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    url = endpoint_url.rstrip("/") + "/"
    body = json.dumps({"QueueUrl": queue_url, **message}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.SendMessage"}
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(_credentials(), "sqs", region).add_auth(request)
    try:
        status, answer = _post(url, body, dict(request.headers.items()))
        sent = json.loads(answer) if status == 200 else None
    except (OSError, http.client.HTTPException, ValueError):
        return None
    message_id = sent.get("MessageId") if isinstance(sent, dict) else None
    return message_id if isinstance(message_id, str) and message_id else None


class Credentials(NamedTuple):
    """What SigV4Auth reads of botocore's credentials (botocore.credentials costs a fifth of a publish's
    imports, for its providers and refreshers, none of which a local stack uses)."""

    access_key: str
    secret_key: str
    token: str | None


def _credentials() -> Credentials:
    """The environment's, as botocore's session would take them; else the fake ones the emulator accepts
    (target.Target gives its local session the same)."""
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return Credentials(key, secret, os.environ.get("AWS_SESSION_TOKEN") or None)
    return Credentials("local", "local", None)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    parts = urlsplit(url)
    factory = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = factory(parts.netloc, timeout=CONNECT_TIMEOUT)
    try:
        connection.connect()
        if connection.sock is not None:
            connection.sock.settimeout(READ_TIMEOUT)
        connection.request("POST", parts.path or "/", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
