"""Who is connecting: Roomcast connection tokens, signed JWTs (HS256) verified on ``$connect``.

Public: backends issue tokens with ``issue_token``; the authorizer checks them with ``verify_token``.

The user id a connection acts as comes only from a token whose signature checks out; the
key is a Secrets Manager secret, so issuers (the CLI, a login service) and the authorizer
share it without it ever living in code or configuration.
"""

from __future__ import annotations

import re
import time

import jwt

from roomcast.domain.errors import Unauthorized
from roomcast.domain.ids import ID_PATTERN

TOKEN_AUDIENCE = "roomcast"
ALGORITHM = "HS256"
DEFAULT_TOKEN_TTL_SECONDS = 3600
# Long enough to cover reasonable clock skew between issuer and authorizer, short enough that
# an expired token is dead within the minute.
DEFAULT_LEEWAY_SECONDS = 30

_ID = re.compile(ID_PATTERN)


def issue_token(user_id: str, secret: str, ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS, now: int | None = None) -> str:
    """A token that lets ``user_id`` connect until ``now + ttl_seconds``."""
    if not _ID.fullmatch(user_id):
        raise ValueError(f"user id must match {ID_PATTERN}")
    _check_secret(secret)
    issued_at = int(time.time()) if now is None else now
    claims = {"sub": user_id, "aud": TOKEN_AUDIENCE, "iat": issued_at, "exp": issued_at + ttl_seconds}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token: str | None, secret: str, leeway_seconds: int = DEFAULT_LEEWAY_SECONDS) -> str:
    """The user id a valid token was issued to; ``Unauthorized`` (with a reason safe to log) otherwise."""
    if not token:
        raise Unauthorized("no token")
    _check_secret(secret)
    try:
        # Naming the one accepted algorithm is what refuses "alg: none" and algorithm swaps;
        # requiring exp/sub/aud refuses tokens that would otherwise skip those checks.
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=TOKEN_AUDIENCE,
            leeway=leeway_seconds,
            options={"require": ["exp", "sub", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("token expired") from exc
    except jwt.InvalidSignatureError as exc:
        raise Unauthorized("bad signature") from exc
    except jwt.InvalidAlgorithmError as exc:
        raise Unauthorized(f"algorithm not allowed (only {ALGORITHM})") from exc
    except jwt.InvalidAudienceError as exc:
        raise Unauthorized("wrong audience") from exc
    except jwt.exceptions.InvalidSubjectError as exc:
        raise Unauthorized("invalid subject") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise Unauthorized(f"missing claim: {exc.claim}") from exc
    except jwt.DecodeError as exc:
        raise Unauthorized("malformed token") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"invalid token: {exc}") from exc
    user_id = claims["sub"]
    # The id ends up inside table keys, so a signed but unusable id is refused here too.
    if not isinstance(user_id, str) or not _ID.fullmatch(user_id):
        raise Unauthorized("invalid subject")
    return user_id


def _check_secret(secret: str) -> None:
    # An empty HMAC key would let anyone mint tokens: fail closed on a misconfigured secret.
    if not secret:
        raise ValueError("the token signing secret is empty")
