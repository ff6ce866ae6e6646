"""What API Gateway sends the $connect REQUEST authorizer, for the tests of every function that sees it."""

from __future__ import annotations

from typing import Any

METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/default/$connect"


def connect_event(token: str | None) -> dict[str, Any]:
    """What API Gateway sends a WebSocket REQUEST authorizer on $connect (no token: no query string at all)."""
    host = "abcdef1234.execute-api.eu-west-1.amazonaws.com"
    headers = {
        "Connection": "upgrade",
        "Host": host,
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        "Upgrade": "websocket",
        "X-Forwarded-For": "203.0.113.10",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    event: dict[str, Any] = {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "stageVariables": {},
        "requestContext": {
            "routeKey": "$connect",
            "eventType": "CONNECT",
            "messageDirection": "IN",
            "stage": "default",
            "connectedAt": 1764072000000,
            "requestTimeEpoch": 1764072000001,
            "identity": {"sourceIp": "203.0.113.10"},
            "requestId": "TkQ1bFjKDoEFxqg=",
            "domainName": host,
            "connectionId": "TkQ1bdKJjoECJqA=",
            "apiId": "abcdef1234",
        },
    }
    if token is not None:
        event["queryStringParameters"] = {"token": token}
        event["multiValueQueryStringParameters"] = {"token": [token]}
    return event
