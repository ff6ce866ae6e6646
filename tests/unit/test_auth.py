"""Connection tokens: only an unexpired HS256 token for Roomcast, signed with our key, names a user."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from roomcast.auth import (
    ALGORITHM,
    DEFAULT_TOKEN_TTL_SECONDS,
    MAX_TOKEN_LIFETIME_SECONDS,
    TOKEN_AUDIENCE,
    issue_token,
    verify_claims,
    verify_token,
)
from roomcast.domain.errors import Unauthorized
from roomcast.settings import AuthorizerSettings, SettingsError

# 64 bytes: long enough for HS512 too, so crafting the HS512 token below raises no key-length warning.
SECRET = "k" * 64
OTHER_SECRET = "x" * 64


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "alice", "aud": TOKEN_AUDIENCE, "iat": now, "exp": now + 600}
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_round_trip_returns_the_user_id() -> None:
    assert verify_token(issue_token("alice", SECRET), SECRET) == "alice"


def test_issued_claims() -> None:
    token = issue_token("bob.b-1_x", SECRET, ttl_seconds=120, now=1_700_000_000)

    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})

    assert header["alg"] == ALGORITHM
    assert claims == {"sub": "bob.b-1_x", "aud": "roomcast", "iat": 1_700_000_000, "exp": 1_700_000_120}


def test_default_ttl_is_five_minutes() -> None:
    token = issue_token("alice", SECRET, now=1_700_000_000)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == DEFAULT_TOKEN_TTL_SECONDS == 300


@pytest.mark.parametrize("user_id", ["", "a#b", "a b", "x" * 65, "alice\n"])
def test_issue_refuses_ids_the_table_cannot_hold(user_id: str) -> None:
    with pytest.raises(ValueError, match="user id"):
        issue_token(user_id, SECRET)


def test_an_empty_secret_is_never_used() -> None:
    with pytest.raises(ValueError, match="secret"):
        issue_token("alice", "")
    with pytest.raises(ValueError, match="secret"):
        verify_token(issue_token("alice", SECRET), "")


@pytest.mark.parametrize("token", [None, ""])
def test_no_token(token: str | None) -> None:
    with pytest.raises(Unauthorized, match="no token") as refused:
        verify_token(token, SECRET)
    assert refused.value.code == "Unauthorized"


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "a.b", "é.é.é", "....", "eyJhbGciOiJIUzI1NiJ9.e30"])
def test_malformed(token: str) -> None:
    with pytest.raises(Unauthorized, match="malformed token"):
        verify_token(token, SECRET)


def test_signed_with_another_key() -> None:
    with pytest.raises(Unauthorized, match="bad signature"):
        verify_token(issue_token("alice", OTHER_SECRET), SECRET)


def test_claims_changed_after_signing() -> None:
    header, _, signature = issue_token("alice", SECRET).split(".")
    forged = f"{header}.{_b64(_claims(sub='mallory'))}.{signature}"

    with pytest.raises(Unauthorized, match="bad signature"):
        verify_token(forged, SECRET)


def test_expired_beyond_leeway() -> None:
    token = issue_token("alice", SECRET, ttl_seconds=60, now=int(time.time()) - 60 - 31)
    with pytest.raises(Unauthorized, match="token expired"):
        verify_token(token, SECRET)


def test_expired_within_leeway_is_still_accepted() -> None:
    token = issue_token("alice", SECRET, ttl_seconds=60, now=int(time.time()) - 60 - 10)

    assert verify_token(token, SECRET, leeway_seconds=30) == "alice"
    with pytest.raises(Unauthorized, match="token expired"):
        verify_token(token, SECRET, leeway_seconds=0)


def test_alg_none_crafted_by_hand() -> None:
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}."
    with pytest.raises(Unauthorized, match="algorithm not allowed"):
        verify_token(unsigned, SECRET)


def test_alg_none_from_pyjwt() -> None:
    unsigned = jwt.encode(_claims(), key=None, algorithm="none")
    with pytest.raises(Unauthorized, match="algorithm not allowed"):
        verify_token(unsigned, SECRET)


def test_another_hmac_algorithm_with_our_key() -> None:
    token = jwt.encode(_claims(), SECRET, algorithm="HS512")
    with pytest.raises(Unauthorized, match="algorithm not allowed"):
        verify_token(token, SECRET)


def test_header_claiming_hs256_over_an_hs512_signature() -> None:
    _, payload, signature = jwt.encode(_claims(), SECRET, algorithm="HS512").split(".")
    spoofed = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{payload}.{signature}"
    with pytest.raises(Unauthorized, match="bad signature"):
        verify_token(spoofed, SECRET)


@pytest.mark.parametrize("audience", ["other-app", ["other-app"]])
def test_wrong_audience(audience: str | list[str]) -> None:
    token = jwt.encode(_claims(aud=audience), SECRET, algorithm=ALGORITHM)
    with pytest.raises(Unauthorized, match="wrong audience"):
        verify_token(token, SECRET)


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "aud"])
def test_missing_required_claim(claim: str) -> None:
    token = jwt.encode(_claims(**{claim: None}), SECRET, algorithm=ALGORITHM)
    with pytest.raises(Unauthorized, match=f"missing claim: {claim}"):
        verify_token(token, SECRET)


@pytest.mark.parametrize("subject", ["a#b", "", "Room:x", "x" * 65, 42])
def test_subject_that_is_not_a_roomcast_id(subject: object) -> None:
    token = jwt.encode(_claims(sub=subject), SECRET, algorithm=ALGORITHM)
    with pytest.raises(Unauthorized, match="invalid subject"):
        verify_token(token, SECRET)


def test_reasons_never_repeat_the_token() -> None:
    token = issue_token("alice", OTHER_SECRET)
    with pytest.raises(Unauthorized) as refused:
        verify_token(token, SECRET)
    assert token not in str(refused.value)
    assert token.split(".")[1] not in str(refused.value)


def test_without_a_configured_secret_nobody_gets_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWT_SECRET_ARN", raising=False)
    with pytest.raises(SettingsError, match="JWT_SECRET_ARN"):
        AuthorizerSettings.from_env()


def test_a_ten_year_token_without_iat_is_refused() -> None:
    # The issue's token: exp ten years ahead and no iat was accepted.
    token = jwt.encode(_claims(iat=None, exp=int(time.time()) + 315_360_000), SECRET, algorithm=ALGORITHM)
    with pytest.raises(Unauthorized, match="missing claim: iat"):
        verify_token(token, SECRET)


def test_a_lifetime_over_the_maximum_is_refused() -> None:
    now = int(time.time())
    token = jwt.encode(_claims(iat=now, exp=now + MAX_TOKEN_LIFETIME_SECONDS + 1), SECRET, algorithm=ALGORITHM)
    with pytest.raises(Unauthorized, match=f"token lifetime over {MAX_TOKEN_LIFETIME_SECONDS} s"):
        verify_token(token, SECRET)
    assert verify_token(token, SECRET, max_lifetime_seconds=MAX_TOKEN_LIFETIME_SECONDS + 1) == "alice"


def test_a_configured_maximum_is_enforced() -> None:
    token = issue_token("alice", SECRET, ttl_seconds=120)
    with pytest.raises(Unauthorized, match="token lifetime over 60 s"):
        verify_token(token, SECRET, max_lifetime_seconds=60)


def test_issued_in_the_future_is_refused() -> None:
    now = int(time.time())
    token = jwt.encode(_claims(iat=now + 3600, exp=now + 3700), SECRET, algorithm=ALGORITHM)
    with pytest.raises(Unauthorized, match="token issued in the future"):
        verify_token(token, SECRET)


@pytest.mark.parametrize("ttl", [0, -1, MAX_TOKEN_LIFETIME_SECONDS + 1, 315_360_000])
def test_issue_refuses_a_lifetime_the_authorizer_would_refuse(ttl: int) -> None:
    with pytest.raises(ValueError, match=f"between 1 and {MAX_TOKEN_LIFETIME_SECONDS} seconds"):
        issue_token("alice", SECRET, ttl_seconds=ttl)


def test_the_previous_key_is_accepted_during_a_rotation() -> None:
    old = issue_token("alice", OTHER_SECRET)
    new = issue_token("bob", SECRET)

    assert verify_token(old, [SECRET, OTHER_SECRET]) == "alice"
    assert verify_token(new, [SECRET, OTHER_SECRET]) == "bob"
    with pytest.raises(Unauthorized, match="bad signature"):
        verify_token(issue_token("mallory", "m" * 64), [SECRET, OTHER_SECRET])


def test_a_rotation_does_not_hide_other_refusals() -> None:
    expired = issue_token("alice", OTHER_SECRET, ttl_seconds=60, now=int(time.time()) - 3600)
    with pytest.raises(Unauthorized, match="token expired"):
        verify_token(expired, [OTHER_SECRET, SECRET])
    with pytest.raises(ValueError, match="secret"):
        verify_token(expired, [])
    with pytest.raises(ValueError, match="secret"):
        verify_token(expired, [SECRET, ""])


def test_a_single_use_token_carries_an_id() -> None:
    claims = verify_claims(issue_token("alice", SECRET, single_use=True), SECRET)
    assert claims.user_id == "alice"
    assert claims.token_id is not None and len(claims.token_id) == 26
    assert verify_claims(issue_token("alice", SECRET), SECRET).token_id is None


@pytest.mark.parametrize("jti", ["a#b", "Token:x", "x" * 65])
def test_a_token_id_that_cannot_be_a_key_is_refused(jti: str) -> None:
    token = jwt.encode(_claims(jti=jti), SECRET, algorithm=ALGORITHM)
    with pytest.raises(Unauthorized, match="invalid jti"):
        verify_claims(token, SECRET)
