"""Sessions through the gateway with every service running: the refresh token's cookie, refresh
with the cookie (web page) and with the body (programs), reuse detection, logout and a password
change ending sessions."""

from __future__ import annotations

import time
from http.cookies import SimpleCookie
from typing import Any

import httpx

from tests.e2e.conftest import System

PASSWORD = "correct horse battery staple"
REUSE_GRACE_SECONDS = 10.0  # the auth service's default (VIDMP3_REFRESH_REUSE_GRACE_SECONDS)


def post(system: System, path: str, **kwargs: Any) -> httpx.Response:
    # a fresh client each time: httpx would otherwise keep the cookie and send it on its own
    with httpx.Client(base_url=system.gateway, timeout=30) as client:
        return client.post(path, **kwargs)


def log_in(system: System) -> httpx.Response:
    email, password = system.create_user(PASSWORD)
    response = post(system, "/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response


def cookie_of(response: httpx.Response) -> tuple[str, dict[str, str]]:
    """The ``vidmp3_refresh`` cookie a response sets: its value and its attributes (lower case)."""
    headers = response.headers.get_list("set-cookie")
    assert len(headers) == 1, headers
    value, *attributes = (part.strip() for part in headers[0].split(";"))
    name, _, token = value.partition("=")
    assert name == "vidmp3_refresh", headers
    parsed = {}
    for attribute in attributes:
        key, _, setting = attribute.partition("=")
        parsed[key.lower()] = setting
    return token, parsed


def with_cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"vidmp3_refresh={token}"}


def jobs_with(system: System, access_token: str) -> int:
    return httpx.get(f"{system.gateway}/v1/jobs", headers={"Authorization": f"Bearer {access_token}"}).status_code


def assert_refused(response: httpx.Response, words: str) -> None:
    """401, the cookie removed, and a detail a person can act on."""
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"], response.json()
    token, attributes = cookie_of(response)
    assert token in ("", '""')
    assert attributes["max-age"] == "0"


def test_a_login_sets_the_refresh_token_in_a_cookie_only_the_auth_routes_get(system: System) -> None:
    response = log_in(system)

    body = response.json()
    token, attributes = cookie_of(response)
    assert token == body["refresh_token"]
    assert attributes == {
        "httponly": "",
        "secure": "",
        "samesite": "Strict",
        "path": "/v1/auth",
        "max-age": str(body["refresh_expires_in"]),
    }
    assert body["refresh_expires_in"] > 7 * 86400
    assert response.headers["cache-control"] == "no-store"
    # what a browser makes of it
    parsed = SimpleCookie(response.headers["set-cookie"])["vidmp3_refresh"]
    assert (parsed["httponly"], parsed["secure"], parsed["samesite"], parsed["path"]) == (
        True,
        True,
        "Strict",
        "/v1/auth",
    )


def test_a_refresh_with_the_cookie_alone_gives_new_tokens_and_a_new_cookie(system: System) -> None:
    login = log_in(system)
    old = login.json()["refresh_token"]

    response = post(system, "/v1/auth/refresh", headers=with_cookie(old))

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in"}
    assert body["refresh_token"] != old
    assert cookie_of(response)[0] == body["refresh_token"]
    assert jobs_with(system, body["access_token"]) == 200


def test_a_refresh_with_the_token_in_the_body_gives_new_tokens(system: System) -> None:
    old = log_in(system).json()["refresh_token"]

    response = post(system, "/v1/auth/refresh", json={"refresh_token": old})

    assert response.status_code == 200, response.text
    assert response.json()["refresh_token"] != old
    assert jobs_with(system, response.json()["access_token"]) == 200
    again = post(system, "/v1/auth/refresh", json={"refresh_token": response.json()["refresh_token"]})
    assert again.status_code == 200, again.text


def test_the_body_wins_over_the_cookie(system: System) -> None:
    mine = log_in(system).json()["refresh_token"]

    response = post(
        system, "/v1/auth/refresh", json={"refresh_token": mine}, headers=with_cookie("a stale cookie value")
    )

    assert response.status_code == 200, response.text


def test_a_reused_refresh_token_ends_the_session_through_the_gateway(system: System) -> None:
    first = log_in(system).json()["refresh_token"]
    second = post(system, "/v1/auth/refresh", headers=with_cookie(first)).json()["refresh_token"]
    time.sleep(REUSE_GRACE_SECONDS + 1)

    reused = post(system, "/v1/auth/refresh", headers=with_cookie(first))

    assert_refused(reused, "already been used")
    assert_refused(post(system, "/v1/auth/refresh", json={"refresh_token": second}), "already been used")


def test_without_a_refresh_token_or_with_a_bad_one_the_refresh_is_refused(system: System) -> None:
    assert_refused(post(system, "/v1/auth/refresh"), "log in again")
    assert_refused(post(system, "/v1/auth/refresh", headers=with_cookie("forged")), "not valid")
    malformed = post(system, "/v1/auth/refresh", json={"token": "x"})
    assert malformed.status_code == 400, malformed.text


def test_a_logout_ends_the_session_and_removes_the_cookie(system: System) -> None:
    login = log_in(system).json()
    other = log_in(system).json()

    out = post(system, "/v1/auth/logout", headers=with_cookie(login["refresh_token"]))

    assert out.status_code == 204, out.text
    token, attributes = cookie_of(out)
    assert (token, attributes["max-age"], attributes["path"]) in {('""', "0", "/v1/auth"), ("", "0", "/v1/auth")}
    assert_refused(post(system, "/v1/auth/refresh", json={"refresh_token": login["refresh_token"]}), "signed out")
    assert post(system, "/v1/auth/refresh", json={"refresh_token": other["refresh_token"]}).status_code == 200
    assert post(system, "/v1/auth/logout").status_code == 204, "nothing to end is fine"
    body_out = post(system, "/v1/auth/logout", json={"refresh_token": other["refresh_token"]})
    assert body_out.status_code == 204


def test_a_password_change_ends_every_session(system: System) -> None:
    email, _ = system.create_user(PASSWORD)
    one = post(system, "/v1/auth/login", json={"email": email, "password": PASSWORD}).json()
    two = post(system, "/v1/auth/login", json={"email": email, "password": PASSWORD}).json()
    bearer = {"Authorization": f"Bearer {one['access_token']}"}

    wrong = post(
        system, "/v1/auth/password", json={"current_password": "not it", "new_password": "x" * 12}, headers=bearer
    )
    changed = post(
        system,
        "/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers=bearer,
    )

    assert wrong.status_code == 403, wrong.text
    assert wrong.json()["detail"] == "The current password is wrong."
    assert changed.status_code == 204, changed.text
    for session in (one, two):
        assert_refused(post(system, "/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}), "password")
    again = post(system, "/v1/auth/login", json={"email": email, "password": "a brand new passphrase"})
    assert again.status_code == 200, again.text
    anonymous = post(system, "/v1/auth/password", json={"current_password": "a", "new_password": "b" * 10})
    assert anonymous.status_code == 401
