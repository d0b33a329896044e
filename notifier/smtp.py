"""SMTP adapter of the notifier."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from notifier.settings import NotifierSettings, SmtpSecurity

__all__ = ["send"]


async def send(message: EmailMessage, settings: NotifierSettings) -> None:
    """Deliver ``message`` to the configured SMTP server; raises on any refusal."""
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        use_tls=settings.smtp_security is SmtpSecurity.TLS,
        start_tls=settings.smtp_security is SmtpSecurity.STARTTLS,
        timeout=settings.smtp_timeout_seconds,
    )
