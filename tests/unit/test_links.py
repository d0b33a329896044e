"""Signed download links: what they grant, how long, and what they refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import jwt
import pytest

from common.links import DEV_LINK_KEY, ExpiredLink, InvalidLink, LinkSettings, LinkSigner

KEY = "a link key of at least thirty-two bytes, for tests"
WEEK = timedelta(days=7)


def test_a_link_grants_one_file_of_one_job_until_it_expires() -> None:
    signer = LinkSigner(KEY, lifetime=WEEK)
    job_id = uuid4()
    now = datetime.now(UTC).replace(minute=15, second=30)

    link = signer.sign(job_id, "6650a1f2c3d4e5f601234567", now=now)

    assert link.path == f"/v1/downloads/{link.token}"
    # a week on, rounded up to the hour
    assert link.expires_at == (now + WEEK).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    granted = signer.verify(link.token)
    assert (granted.job_id, granted.file_id, granted.expires_at) == (
        job_id,
        "6650a1f2c3d4e5f601234567",
        link.expires_at,
    )


def test_links_made_within_the_same_hour_are_the_same_url() -> None:
    signer, job_id = LinkSigner(KEY, lifetime=WEEK), uuid4()
    start = datetime(2026, 5, 4, 10, 0, 1, tzinfo=UTC)
    assert (
        signer.sign(job_id, "f", now=start).token == signer.sign(job_id, "f", now=start + timedelta(minutes=59)).token
    )


def test_a_file_that_expires_sooner_shortens_the_link() -> None:
    signer = LinkSigner(KEY, lifetime=WEEK)
    expires = datetime.now(UTC) + timedelta(hours=5)
    assert signer.sign(uuid4(), "f", not_after=expires).expires_at == expires.replace(microsecond=0)


def test_an_expired_link_is_told_apart_from_a_forged_one() -> None:
    signer = LinkSigner(KEY, lifetime=WEEK)
    old = signer.sign(uuid4(), "f", now=datetime.now(UTC) - timedelta(days=8))
    with pytest.raises(ExpiredLink):
        signer.verify(old.token)

    token = signer.sign(uuid4(), "f").token
    head, payload, signature = token.split(".")
    for forged in (
        f"{head}.{payload}.{signature[:-2]}AA",  # a signature that does not match
        token[:-10],  # cut short, as a mail client wrapping the line might
        LinkSigner("another key of at least thirty-two bytes", lifetime=WEEK).sign(uuid4(), "f").token,
        jwt.encode({"aud": "vidmp3", "sub": str(uuid4()), "fid": "f", "exp": 4102444800}, KEY, algorithm="HS256"),
        jwt.encode({"aud": "vidmp3-download", "sub": "not a job", "fid": "f", "exp": 4102444800}, KEY),
        jwt.encode({"aud": "vidmp3-download", "sub": str(uuid4()), "fid": "f", "exp": 4102444800}, "", "none"),
        "not-a-token",
    ):
        with pytest.raises(InvalidLink) as refused:
            signer.verify(forged)
        assert not isinstance(refused.value, ExpiredLink)


def test_links_of_the_previous_key_open_after_a_rotation() -> None:
    old = LinkSigner("the old key, at least thirty-two bytes long", lifetime=WEEK)
    link = old.sign(uuid4(), "f")
    rotated = LinkSigner(KEY, previous_keys=["the old key, at least thirty-two bytes long"], lifetime=WEEK)
    assert rotated.verify(link.token).file_id == "f"
    with pytest.raises(InvalidLink):
        LinkSigner(KEY, lifetime=WEEK).verify(link.token)


def test_production_refuses_the_development_key_and_short_keys() -> None:
    with pytest.raises(ValueError, match="link_key"):
        LinkSettings(environment="production")
    with pytest.raises(ValueError, match="shorter than 32 bytes"):
        LinkSettings(environment="production", link_key="short")
    settings = LinkSettings(environment="production", link_key=KEY, link_previous_keys=f"{DEV_LINK_KEY}, older")
    assert [key.get_secret_value() for key in settings.link_previous_keys] == [DEV_LINK_KEY, "older"]
    assert settings.link_signer().verify(settings.link_signer().sign(uuid4(), "f").token).file_id == "f"
