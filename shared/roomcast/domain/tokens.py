"""What a verified connection token says (roomcast.auth verifies it, the authorizer's edge admits it)."""

from __future__ import annotations

from dataclasses import dataclass

# The longest lifetime (exp - iat) the authorizer accepts unless configured otherwise: a token is
# only checked on $connect, so a longer one only lengthens what a leaked token is worth.
MAX_TOKEN_LIFETIME_SECONDS = 900


@dataclass(frozen=True)
class TokenClaims:
    """Who, until when (epoch seconds), and the token's id when it may open one connection only."""

    user_id: str
    expires_at: int
    token_id: str | None = None
