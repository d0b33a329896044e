"""Access tokens and password hashes: what the auth service signs and what verifiers accept."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth.passwords import Passwords
from auth.tokens import InvalidToken, Principal, TokenIssuer, TokenVerifier, generate_key_pem, load_private_key

ISSUER = "vidmp3-auth"
AUDIENCE = "vidmp3"
ADA = Principal(user_id="42", email="ada@example.com", roles=frozenset({"user"}))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unverified_claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture
def private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def issuer(private_key: Ed25519PrivateKey) -> TokenIssuer:
    return TokenIssuer(private_key, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=900)


@pytest.fixture
def verifier(issuer: TokenIssuer) -> TokenVerifier:
    return TokenVerifier(issuer.jwks(), issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture
def kid(issuer: TokenIssuer) -> str:
    return str(issuer.jwks()["keys"][0]["kid"])


@pytest.fixture
def claims() -> dict[str, Any]:
    """Every claim a valid token carries, as of now."""
    now = int(time.time())
    return {
        "sub": ADA.user_id,
        "email": ADA.email,
        "roles": ["user"],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 900,
        "jti": "b7f2c1e0-0000-4000-8000-000000000001",
    }


def sign(claims: dict[str, Any], key: Ed25519PrivateKey, kid: str) -> str:
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


# --- tokens that verify ------------------------------------------------------------------


def test_an_issued_token_verifies_to_the_same_principal(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    token = issuer.issue(ADA)

    assert verifier.verify(token) == ADA
    assert verifier.knows(token)


def test_an_admin_token_carries_both_roles(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    admin = Principal(user_id="1", email="root@example.com", roles=frozenset({"admin", "user"}))

    principal = verifier.verify(issuer.issue(admin))

    assert principal == admin
    assert principal.is_admin


def test_issued_claims_are_bounded_in_time(private_key: Ed25519PrivateKey) -> None:
    issuer = TokenIssuer(private_key, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=900, clock=lambda: 1_700_000_000)

    claims = unverified_claims(issuer.issue(ADA))

    assert claims["iat"] == claims["nbf"] == 1_700_000_000
    assert claims["exp"] == 1_700_000_900
    assert (claims["iss"], claims["aud"], claims["sub"]) == (ISSUER, AUDIENCE, "42")


def test_every_token_has_its_own_id(issuer: TokenIssuer) -> None:
    assert unverified_claims(issuer.issue(ADA))["jti"] != unverified_claims(issuer.issue(ADA))["jti"]


def test_a_hand_signed_token_with_every_claim_verifies(
    private_key: Ed25519PrivateKey, kid: str, claims: dict[str, Any], verifier: TokenVerifier
) -> None:
    """The baseline the refusals below change one thing of."""
    assert verifier.verify(sign(claims, private_key, kid)) == ADA


def test_a_key_saved_as_pem_signs_tokens_its_jwks_verifies(tmp_path: Path) -> None:
    path = tmp_path / "signing.pem"
    path.write_bytes(generate_key_pem())
    issuer = TokenIssuer(load_private_key(path), issuer=ISSUER, audience=AUDIENCE, ttl_seconds=60)

    assert TokenVerifier(issuer.jwks(), issuer=ISSUER, audience=AUDIENCE).verify(issuer.issue(ADA)) == ADA


def test_a_pem_that_is_not_ed25519_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p256.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )

    with pytest.raises(ValueError, match="Ed25519"):
        load_private_key(path)


# --- tokens that are refused --------------------------------------------------------------


def test_alg_none_is_refused(kid: str, claims: dict[str, Any], verifier: TokenVerifier) -> None:
    token = f"{b64url_json({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{b64url_json(claims)}."

    with pytest.raises(InvalidToken, match="alg"):
        verifier.verify(token)


def test_a_token_signed_by_another_key_under_the_same_kid_is_refused(
    kid: str, claims: dict[str, Any], verifier: TokenVerifier
) -> None:
    forged = sign(claims, Ed25519PrivateKey.generate(), kid)

    with pytest.raises(InvalidToken, match=r"[Ss]ignature"):
        verifier.verify(forged)


def test_a_token_signed_by_another_issuer_is_refused(verifier: TokenVerifier) -> None:
    stranger = TokenIssuer(Ed25519PrivateKey.generate(), issuer=ISSUER, audience=AUDIENCE, ttl_seconds=900)
    token = stranger.issue(ADA)

    assert not verifier.knows(token)
    with pytest.raises(InvalidToken, match="unknown key"):
        verifier.verify(token)


@pytest.mark.parametrize(
    "public_encoding",
    [
        (serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        (serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
    ],
    ids=["raw", "pem"],
)
def test_hs256_signed_with_the_public_key_is_refused(
    private_key: Ed25519PrivateKey,
    kid: str,
    claims: dict[str, Any],
    verifier: TokenVerifier,
    public_encoding: tuple[serialization.Encoding, serialization.PublicFormat],
) -> None:
    """Algorithm confusion: the public key is public, so an HMAC keyed with it is forgeable by anyone."""
    secret = private_key.public_key().public_bytes(*public_encoding)
    signing_input = f"{b64url_json({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{b64url_json(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()

    with pytest.raises(InvalidToken, match="alg"):
        verifier.verify(f"{signing_input}.{b64url(signature)}")


def test_an_expired_token_is_refused(private_key: Ed25519PrivateKey, verifier: TokenVerifier) -> None:
    an_hour_ago = TokenIssuer(
        private_key, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=900, clock=lambda: time.time() - 3600
    )

    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(an_hour_ago.issue(ADA))


def test_a_token_not_yet_valid_is_refused(
    private_key: Ed25519PrivateKey, kid: str, claims: dict[str, Any], verifier: TokenVerifier
) -> None:
    token = sign(claims | {"nbf": claims["iat"] + 3600, "exp": claims["iat"] + 7200}, private_key, kid)

    with pytest.raises(InvalidToken, match="not yet valid"):
        verifier.verify(token)


def test_a_token_for_another_audience_is_refused(private_key: Ed25519PrivateKey, verifier: TokenVerifier) -> None:
    elsewhere = TokenIssuer(private_key, issuer=ISSUER, audience="another-service", ttl_seconds=900)

    with pytest.raises(InvalidToken, match=r"[Aa]udience"):
        verifier.verify(elsewhere.issue(ADA))


def test_a_token_from_another_issuer_name_is_refused(private_key: Ed25519PrivateKey, verifier: TokenVerifier) -> None:
    impostor = TokenIssuer(private_key, issuer="someone-else", audience=AUDIENCE, ttl_seconds=900)

    with pytest.raises(InvalidToken, match=r"[Ii]ssuer"):
        verifier.verify(impostor.issue(ADA))


def test_a_tampered_payload_is_refused(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    header, _, signature = issuer.issue(ADA).split(".")
    promoted = unverified_claims(issuer.issue(ADA)) | {"roles": ["admin", "user"]}

    with pytest.raises(InvalidToken, match=r"[Ss]ignature"):
        verifier.verify(f"{header}.{b64url_json(promoted)}.{signature}")


@pytest.mark.parametrize("missing", ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "email"])
def test_a_token_missing_a_required_claim_is_refused(
    private_key: Ed25519PrivateKey, kid: str, claims: dict[str, Any], verifier: TokenVerifier, missing: str
) -> None:
    token = sign({name: value for name, value in claims.items() if name != missing}, private_key, kid)

    with pytest.raises(InvalidToken, match=missing):
        verifier.verify(token)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "garbage",
        "a.b.c",
        "...",
        "eyJhbGciOiJFZERTQSJ9",
        "eyJhbGciOiJFZERTQSJ9.e30.",
        "Bearer eyJhbGciOiJFZERTQSJ9.e30.AAAA",
        "\x00\xff.\n.\t",
    ],
)
def test_garbage_is_refused(verifier: TokenVerifier, garbage: str) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(garbage)


def test_a_valid_token_with_a_segment_added_is_refused(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(issuer.issue(ADA) + ".AAAA")


# --- passwords ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords()


def test_a_password_verifies_against_its_hash(passwords: Passwords) -> None:
    stored = passwords.hash("correct horse battery staple")

    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert passwords.verify(stored, "correct horse battery staple")


def test_a_wrong_password_does_not_verify(passwords: Passwords) -> None:
    stored = passwords.hash("correct horse battery staple")

    assert not passwords.verify(stored, "correct horse battery stapler")
    assert not passwords.verify(stored, "")


def test_an_unknown_user_never_verifies(passwords: Passwords) -> None:
    assert not passwords.verify(None, "correct horse battery staple")
    assert not passwords.verify(None, "decoy password, never matches")


@pytest.mark.parametrize("stored", ["", "not a hash", "$2b$12$notargon2notargon2notargon2notargon2notargon2notar"])
def test_a_corrupt_stored_hash_never_verifies(passwords: Passwords, stored: str) -> None:
    """An empty hash once fell back to the decoy, whose password is in the source code."""
    assert not passwords.verify(stored, "decoy password, never matches")
    assert not passwords.verify(stored, "")


def test_a_hash_made_with_weaker_parameters_needs_a_rehash(passwords: Passwords) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw")

    assert passwords.needs_rehash(weak)
    assert not passwords.needs_rehash(passwords.hash("pw"))
    assert passwords.verify(weak, "pw")


def test_an_unknown_user_takes_about_as_long_as_a_real_verify(passwords: Passwords) -> None:
    """Else the response time tells which emails have accounts."""
    stored = passwords.hash("correct horse battery staple")

    def fastest(stored_hash: str | None) -> float:
        durations = []
        for _ in range(5):
            started = time.process_time()
            passwords.verify(stored_hash, "a wrong guess")
            durations.append(time.process_time() - started)
        return min(durations)

    known, unknown = fastest(stored), fastest(None)

    assert unknown >= 0.3 * known, f"unknown user took {unknown * 1000:.1f} ms, a real verify {known * 1000:.1f} ms"
