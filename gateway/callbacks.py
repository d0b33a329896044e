"""A job's one-off ``callback_url``: checked where the upload names it, and its secret.

The secret is not stored anywhere: it is derived from the link key and the job id
(``common.webhook_endpoints.callback_secrets``), answered once with the upload and derived
again by the sender to sign each delivery.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from common.outbound import IpNetwork, UnsafeUrl, check_url
from common.webhook_endpoints import callback_secrets
from gateway.uploads import InvalidUpload

__all__ = ["CALLBACK_FIELD", "Callbacks"]

CALLBACK_FIELD = "callback_url"


class Callbacks:
    # a plain class: Litestar would read a dataclass's fields as a type to convert
    def __init__(self, allowed_networks: Sequence[IpNetwork], link_key: str) -> None:
        self.allowed_networks, self.link_key = list(allowed_networks), link_key

    async def check(self, url: str, *, source: str = "body") -> str:
        """``url`` if webhooks may go there; ``InvalidUpload`` (a 422) saying why not."""
        try:
            await check_url(url.strip(), self.allowed_networks)
        except UnsafeUrl as refused:
            raise InvalidUpload(
                f"The callback URL cannot be used: {refused}",
                [{"field": CALLBACK_FIELD, "message": str(refused), "source": source}],
            ) from None
        return url.strip()

    def secret(self, job_id: UUID) -> str:
        """The secret the job's callback deliveries are signed with (``whsec_...``)."""
        return callback_secrets([self.link_key], job_id)[0]
