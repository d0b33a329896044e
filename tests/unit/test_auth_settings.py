"""The auth service's settings: development defaults work locally, production refuses them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from auth.settings import DEV_MYSQL_URL, AuthSettings
from auth.tokens import generate_key_pem
from common.settings import Environment, UnsafeSettingsError
from gateway.settings import GatewaySettings

PRODUCTION_MYSQL_URL = "mysql://auth:s3cr3t-from-vault@db.internal:3306/vidmp3"


@pytest.fixture(autouse=True)
def no_vidmp3_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("VIDMP3_"):
            monkeypatch.delenv(name)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "signing.pem"
    path.write_bytes(generate_key_pem())
    return path


def refusal(error: ValueError) -> UnsafeSettingsError:
    """The UnsafeSettingsError behind ``error`` (pydantic wraps what a validator raises)."""
    if isinstance(error, UnsafeSettingsError):
        return error
    assert isinstance(error, ValidationError), error
    cause = error.errors()[0].get("ctx", {}).get("error")
    assert isinstance(cause, UnsafeSettingsError), error
    return cause


def test_development_defaults_are_accepted() -> None:
    settings = AuthSettings()

    assert settings.environment is Environment.DEVELOPMENT
    assert settings.mysql_url.get_secret_value() == DEV_MYSQL_URL
    assert settings.signing_key_file is None
    assert settings.unsafe_defaults() == ["mysql_url (development password)", "signing_key_file (or signing_key_dir)"]


def test_production_with_the_defaults_is_refused_naming_each_field() -> None:
    with pytest.raises(ValueError, match="refusing to start in production") as raised:
        AuthSettings(environment="production")

    message = str(refusal(raised.value))
    assert "mysql_url" in message
    assert "signing_key_file" in message


def test_production_without_a_signing_key_is_refused() -> None:
    with pytest.raises(ValueError, match="refusing to start in production") as raised:
        AuthSettings(environment="production", mysql_url=PRODUCTION_MYSQL_URL)

    message = str(refusal(raised.value))
    assert "signing_key_file" in message
    assert "mysql_url" not in message


@pytest.mark.parametrize(
    "mysql_url",
    [
        DEV_MYSQL_URL,
        "mysql://vidmp3:vidmp3-dev@db.internal:3306/vidmp3",
        "mysql://auth:vidmp3-dev@10.0.0.5/vidmp3_prod?ssl-mode=required",
        "mysql://vidmp3:vidmp3%2Ddev@db.internal/vidmp3",
    ],
)
def test_production_with_the_development_mysql_password_is_refused_on_any_host(key_file: Path, mysql_url: str) -> None:
    with pytest.raises(ValueError, match="refusing to start in production") as raised:
        AuthSettings(environment="production", mysql_url=mysql_url, signing_key_file=key_file)

    message = str(refusal(raised.value))
    assert "mysql_url (development password)" in message
    assert "signing_key_file" not in message
    assert "vidmp3-dev" not in message, "the refusal must not print the secret"


@pytest.mark.parametrize(
    "mysql_url",
    [
        PRODUCTION_MYSQL_URL,
        "mysql://vidmp3:vidmp3-dev-but-longer@db.internal/vidmp3",
        "mysql://vidmp3-dev:another-password@db.internal/vidmp3",
    ],
)
def test_production_with_a_key_file_and_a_real_mysql_password_starts(key_file: Path, mysql_url: str) -> None:
    settings = AuthSettings(environment="production", mysql_url=mysql_url, signing_key_file=key_file)

    assert settings.environment is Environment.PRODUCTION
    assert settings.signing_key_file == key_file
    assert settings.unsafe_defaults() == []


def test_settings_come_from_vidmp3_variables(monkeypatch: pytest.MonkeyPatch, key_file: Path) -> None:
    monkeypatch.setenv("VIDMP3_ENVIRONMENT", "production")
    monkeypatch.setenv("VIDMP3_MYSQL_URL", PRODUCTION_MYSQL_URL)
    monkeypatch.setenv("VIDMP3_SIGNING_KEY_FILE", str(key_file))
    monkeypatch.setenv("VIDMP3_TOKEN_TTL_SECONDS", "60")

    settings = AuthSettings.load()

    assert settings.environment is Environment.PRODUCTION
    assert settings.mysql_url.get_secret_value() == PRODUCTION_MYSQL_URL
    assert settings.signing_key_file == key_file
    assert settings.token_ttl_seconds == 60


def test_the_mysql_url_is_not_shown_in_reprs() -> None:
    assert "vidmp3-dev" not in repr(AuthSettings())


# --- keys, proxies and limits ---------------------------------------------------------------


def test_production_with_a_key_directory_starts(tmp_path: Path) -> None:
    settings = AuthSettings(environment="production", mysql_url=PRODUCTION_MYSQL_URL, signing_key_dir=tmp_path)

    assert settings.unsafe_defaults() == []


def test_a_key_directory_and_key_files_together_are_refused(tmp_path: Path, key_file: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        AuthSettings(signing_key_dir=tmp_path, signing_key_file=key_file)
    with pytest.raises(ValueError, match="not both"):
        AuthSettings(signing_key_dir=tmp_path, previous_signing_key_files=[key_file])


def test_previous_keys_without_a_signing_key_are_refused(key_file: Path) -> None:
    with pytest.raises(ValueError, match="needs a signing_key_file"):
        AuthSettings(previous_signing_key_files=[key_file])


@pytest.mark.parametrize(
    "value", ["/keys/b.pem,/keys/a.pem", " /keys/b.pem , /keys/a.pem ", '["/keys/b.pem", "/keys/a.pem"]']
)
def test_previous_keys_come_comma_separated_or_as_json(
    monkeypatch: pytest.MonkeyPatch, key_file: Path, value: str
) -> None:
    monkeypatch.setenv("VIDMP3_SIGNING_KEY_FILE", str(key_file))
    monkeypatch.setenv("VIDMP3_PREVIOUS_SIGNING_KEY_FILES", value)

    assert AuthSettings.load().previous_signing_key_files == [Path("/keys/b.pem"), Path("/keys/a.pem")]


def test_no_proxy_is_trusted_by_default_and_networks_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 12, finding 4: loopback was trusted by default, so any local client could name
    itself any address in X-Forwarded-For."""
    assert AuthSettings().trusted_proxies == []
    assert GatewaySettings().trusted_proxies == []

    monkeypatch.setenv("VIDMP3_TRUSTED_PROXIES", "10.0.0.5, 172.16.0.0/12,fd00::/8")
    for settings in (AuthSettings.load(), GatewaySettings.load()):
        assert [str(network) for network in settings.trusted_proxies] == ["10.0.0.5/32", "172.16.0.0/12", "fd00::/8"]

    monkeypatch.setenv("VIDMP3_TRUSTED_PROXIES", "")
    assert AuthSettings.load().trusted_proxies == []


@pytest.mark.parametrize("proxy", ["gateway", "10.0.0.5/8", "300.0.0.1"])
def test_a_trusted_proxy_that_is_not_an_address_or_network_is_refused(
    monkeypatch: pytest.MonkeyPatch, proxy: str
) -> None:
    monkeypatch.setenv("VIDMP3_TRUSTED_PROXIES", proxy)

    with pytest.raises(ValidationError):
        AuthSettings.load()


def test_self_registration_is_off_by_default() -> None:
    assert AuthSettings().registration_enabled is False


@pytest.mark.parametrize(
    "setting",
    [
        {"login_attempts_burst": 0},
        {"login_attempts_per_minute": 0},
        {"lockout_threshold": 0},
        {"lockout_base_seconds": 0},
        {"registrations_per_hour": -1},
        {"token_ttl_seconds": 0},
    ],
)
def test_limits_that_would_never_allow_anything_are_refused(setting: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        AuthSettings.model_validate(setting)
