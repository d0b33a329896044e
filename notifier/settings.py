from enum import StrEnum

from pydantic import SecretStr

from common.links import LinkSettings
from common.outbound import WebhookSettings
from common.retention import RetentionSettings
from common.settings import BrokerSettings, MongoSettings

__all__ = ["NotifierSettings", "SmtpSecurity"]


class SmtpSecurity(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


class NotifierSettings(BrokerSettings, MongoSettings, LinkSettings, RetentionSettings, WebhookSettings):
    """Settings of the notifier (``VIDMP3_*`` variables)."""

    port: int = 8003
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_security: SmtpSecurity = SmtpSecurity.NONE
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = 30.0
    mail_from: str = "vidmp3 <no-reply@vidmp3.localhost>"
    public_url: str = "http://127.0.0.1:8000"
    """Base URL of the gateway as users reach it; the emails' links (download, job page) start with it."""

    def unsafe_defaults(self) -> list[str]:
        unsafe = super().unsafe_defaults()
        if self.smtp_security is SmtpSecurity.NONE and self.smtp_password is not None:
            unsafe.append("smtp_security (a password would cross the network in clear)")
        if self.mail_from.endswith(".localhost>"):
            unsafe.append("mail_from")
        return unsafe
