from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr

from common.settings import ServiceSettings

__all__ = ["DEV_MYSQL_PASSWORD", "DEV_MYSQL_URL", "AuthSettings"]

DEV_MYSQL_PASSWORD = "vidmp3-dev"  # noqa: S105 - public on purpose: production refuses it
DEV_MYSQL_URL = f"mysql://vidmp3:{DEV_MYSQL_PASSWORD}@127.0.0.1:3306/vidmp3?ssl-mode=disabled"


class AuthSettings(ServiceSettings):
    """Settings of the auth service (``VIDMP3_*`` variables)."""

    port: int = 8001
    mysql_url: SecretStr = SecretStr(DEV_MYSQL_URL)
    mysql_pool_size: int = 5
    signing_key_file: Path | None = None
    """PEM file of the Ed25519 private key tokens are signed with. Without one, development
    runs sign with a key made at start (tokens die with the process); production refuses."""
    token_issuer: str = "vidmp3-auth"  # noqa: S105 - a name, not a secret ("token" trips the rule)
    token_audience: str = "vidmp3"  # noqa: S105 - likewise
    token_ttl_seconds: int = 900

    def unsafe_defaults(self) -> list[str]:
        unsafe = super().unsafe_defaults()
        # the development password on any host or database, not just the default URL
        if unquote(urlsplit(self.mysql_url.get_secret_value()).password or "") == DEV_MYSQL_PASSWORD:
            unsafe.append("mysql_url (development password)")
        if self.signing_key_file is None:
            unsafe.append("signing_key_file")
        return unsafe
