"""Who is connecting: Roomcast connection tokens, signed JWTs (HS256) verified on ``$connect``.

Public: backends issue tokens with ``issue_token``; the authorizer checks them with ``verify_token``.

The user id a connection acts as comes only from a token whose signature checks out; the
key is a Secrets Manager secret, so issuers (the CLI, a login service) and the authorizer
share it without it ever living in code or configuration.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

import jwt

from roomcast.domain.errors import Unauthorized
from roomcast.domain.ids import ID_PATTERN, new_ulid
from roomcast.domain.tokens import MAX_TOKEN_LIFETIME_SECONDS, TokenClaims

TOKEN_AUDIENCE = "roomcast"
ALGORITHM = "HS256"
# A token is only checked on $connect, so it need not outlive the handshake by much: a leaked
# token is worth minutes, not days.
DEFAULT_TOKEN_TTL_SECONDS = 300
# Long enough to cover reasonable clock skew between issuer and authorizer, short enough that
# an expired token is dead within the minute.
DEFAULT_LEEWAY_SECONDS = 30

_ID = re.compile(ID_PATTERN)


def issue_token(
    user_id: str,
    secret: str,
    ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS,
    now: int | None = None,
    *,
    single_use: bool = False,
    max_lifetime_seconds: int = MAX_TOKEN_LIFETIME_SECONDS,
) -> str:
    """A token that lets ``user_id`` connect until ``now + ttl_seconds`` (once only if ``single_use``)."""
    if not _ID.fullmatch(user_id):
        raise ValueError(f"user id must match {ID_PATTERN}")
    if not 0 < ttl_seconds <= max_lifetime_seconds:
        raise ValueError(f"the lifetime must be between 1 and {max_lifetime_seconds} seconds, not {ttl_seconds}")
    _check_secret(secret)
    issued_at = int(time.time()) if now is None else now
    claims: dict[str, object] = {"sub": user_id, "aud": TOKEN_AUDIENCE, "iat": issued_at}
    claims["exp"] = issued_at + ttl_seconds
    if single_use:
        claims["jti"] = new_ulid()
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(
    token: str | None,
    secret: str | Sequence[str],
    leeway_seconds: int = DEFAULT_LEEWAY_SECONDS,
    max_lifetime_seconds: int = MAX_TOKEN_LIFETIME_SECONDS,
) -> str:
    """The user id a valid token was issued to; ``Unauthorized`` (with a reason safe to log) otherwise."""
    return verify_claims(token, secret, leeway_seconds, max_lifetime_seconds).user_id


def verify_claims(
    token: str | None,
    secret: str | Sequence[str],
    leeway_seconds: int = DEFAULT_LEEWAY_SECONDS,
    max_lifetime_seconds: int = MAX_TOKEN_LIFETIME_SECONDS,
) -> TokenClaims:
    """A valid token's claims, signed with ``secret`` or, during a rotation, any of the keys given."""
    if not token:
        raise Unauthorized("no token")
    keys = [secret] if isinstance(secret, str) else list(secret)
    if not keys:
        raise ValueError("the token signing secret is empty")
    for key in keys:
        _check_secret(key)
    for key in keys[:-1]:
        try:
            return _claims(token, key, leeway_seconds, max_lifetime_seconds)
        except Unauthorized as refused:
            # Only a signature made with another key sends us to the next one.
            if refused.message != "bad signature":
                raise
    return _claims(token, keys[-1], leeway_seconds, max_lifetime_seconds)


def _claims(token: str, secret: str, leeway_seconds: int, max_lifetime_seconds: int) -> TokenClaims:
    try:
        # Naming the one accepted algorithm is what refuses "alg: none" and algorithm swaps;
        # requiring exp/iat/sub/aud refuses tokens that would otherwise skip those checks.
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=TOKEN_AUDIENCE,
            leeway=leeway_seconds,
            options={"require": ["exp", "iat", "sub", "aud"]},
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
    except jwt.ImmatureSignatureError as exc:
        raise Unauthorized("token issued in the future") from exc
    except jwt.InvalidIssuedAtError as exc:
        raise Unauthorized("invalid iat") from exc
    except jwt.DecodeError as exc:
        raise Unauthorized("malformed token") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"invalid token: {exc}") from exc
    user_id = claims["sub"]
    # The id ends up inside table keys, so a signed but unusable id is refused here too.
    if not isinstance(user_id, str) or not _ID.fullmatch(user_id):
        raise Unauthorized("invalid subject")
    expires_at, issued_at = claims["exp"], claims["iat"]
    if not isinstance(expires_at, int) or not isinstance(issued_at, int):
        raise Unauthorized("invalid iat")
    # A signed token with exp ten years ahead is a credential for ten years: refuse it outright.
    if expires_at - issued_at > max_lifetime_seconds:
        raise Unauthorized(f"token lifetime over {max_lifetime_seconds} s")
    token_id = claims.get("jti")
    if token_id is not None and (not isinstance(token_id, str) or not _ID.fullmatch(token_id)):
        raise Unauthorized("invalid jti")
    return TokenClaims(user_id=user_id, expires_at=expires_at, token_id=token_id)


def _check_secret(secret: str) -> None:
    # An empty HMAC key would let anyone mint tokens: fail closed on a misconfigured secret.
    if not secret:
        raise ValueError("the token signing secret is empty")
