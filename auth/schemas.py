"""Bodies of the auth API (the login ones are shared with the gateway that fronts it)."""

import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, EmailStr, Field

from auth.emails import Email, Normalized

__all__ = [
    "API_KEY_EXAMPLE",
    "ApiKeyList",
    "ApiKeyView",
    "CreatedApiKey",
    "KeyCheck",
    "KeyHolderView",
    "KeyVerdict",
    "LoginRequest",
    "NewApiKey",
    "NewUser",
    "PasswordChange",
    "RefreshRequest",
    "Registration",
    "RevocationEntry",
    "RevocationPage",
    "Scope",
    "TokenResponse",
    "UserResponse",
]

PASSWORD_MIN_LENGTH = 8  # NIST SP 800-63B's floor for passwords users choose
PASSWORD_MAX_LENGTH = 1024


class LoginRequest(BaseModel):
    email: Email = Field(
        min_length=3,
        max_length=320,
        description="Matched whatever its case and surrounding spaces.",
        examples=["ada@example.com"],
    )
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH, examples=["correct horse battery staple"])


REFRESH_TOKEN_MAX_LENGTH = 200


class TokenResponse(BaseModel):
    access_token: str = Field(description="Bearer token: send it as `Authorization: Bearer <token>`.")
    token_type: str = Field(default="Bearer", description="Always `Bearer`.")
    expires_in: int = Field(description="Seconds until the access token expires.", examples=[900])
    refresh_token: str = Field(
        description=(
            "Gets new tokens from `POST /v1/auth/refresh` once the access token expires. Used once: each"
            " refresh answers a new one. Keep it secret; a used one sent again ends the session."
        ),
        examples=["q0Nq3m1o1qVQ6iVJ3a6mJ3cVtX8yqgW1bF2o2GZ6d5E"],
    )
    refresh_expires_in: int = Field(
        description="Seconds until the refresh token expires (each refresh starts this again).",
        examples=[2592000],
    )


class RefreshRequest(BaseModel):
    refresh_token: str = Field(
        min_length=1,
        max_length=REFRESH_TOKEN_MAX_LENGTH,
        description="The `refresh_token` of the last login or refresh.",
        examples=["q0Nq3m1o1qVQ6iVJ3a6mJ3cVtX8yqgW1bF2o2GZ6d5E"],
    )


class Registration(BaseModel):
    email: Annotated[EmailStr, Normalized] = Field(
        max_length=320, description="Stored in lower case, without surrounding spaces.", examples=["ada@example.com"]
    )
    password: str = Field(
        min_length=PASSWORD_MIN_LENGTH,
        max_length=PASSWORD_MAX_LENGTH,
        description=f"At least {PASSWORD_MIN_LENGTH} characters.",
        examples=["correct horse battery staple"],
    )


class NewUser(Registration):
    admin: bool = Field(default=False, description="Whether the user gets the admin role.")


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)
    new_password: str = Field(
        min_length=PASSWORD_MIN_LENGTH,
        max_length=PASSWORD_MAX_LENGTH,
        description=f"At least {PASSWORD_MIN_LENGTH} characters.",
    )


class UserResponse(BaseModel):
    id: int
    email: str
    roles: list[str] = Field(description="`user`, and `admin` for admins.", examples=[["user"]])
    active: bool = Field(description="Whether the user can log in.")


class RevocationEntry(BaseModel):
    seq: int = Field(description="Its number: each is one above the last.", examples=[42])
    subject: str = Field(
        description="What is revoked: `session:<sid>` (every access token whose `sid` claim is that).",
        examples=["session:3af3026f-ef25-48cc-b082-c88f37755dbd"],
    )
    expires_at: float = Field(
        description="Unix time after which nothing it revokes can still be valid: forget it then.",
        examples=[1796484486.0],
    )


class RevocationPage(BaseModel):
    revocations: list[RevocationEntry] = Field(description="In order of `seq`, all above `after`.")
    more: bool = Field(description="Whether more follow: ask again with `after` = the last `seq`.")


Scope = Literal["jobs:read", "jobs:write"]
API_KEY_EXAMPLE = "vmk_3f9a0c2e4b71_kq0Nq3m1o1qVQ6iVJ3a6mJ3cVtX8yqgW1bF2o2GZ6d5E"


def _plain_name(name: str) -> str:
    name = name.strip()
    # shown on pages and in terminals: no control, format (bidi, zero-width) or separator codes
    if not name or any(unicodedata.category(char)[0] in "CZ" and char != " " for char in name):
        raise ValueError("a key's name is letters, digits, spaces and punctuation")
    return name


class NewApiKey(BaseModel):
    name: Annotated[str, AfterValidator(_plain_name)] = Field(
        min_length=1,
        max_length=100,
        description="What the key is for, to tell your keys apart.",
        examples=["nightly backup script"],
    )
    scopes: list[Scope] = Field(
        default=["jobs:read", "jobs:write"],
        min_length=1,
        max_length=2,
        description=(
            "What the key may do: `jobs:read` (job status, lists, downloads) and `jobs:write` (uploads,"
            " cancel, delete). Both by default. A key never has an admin's rights and cannot manage keys."
        ),
        examples=[["jobs:read"]],
    )
    expires_in_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="Days until the key stops working; none for a key that lasts until revoked.",
        examples=[90],
    )


class ApiKeyView(BaseModel):
    id: str = Field(description="The key's id (not secret): revoke it by this.", examples=["3f9a0c2e4b71"])
    name: str = Field(examples=["nightly backup script"])
    scopes: list[Scope] = Field(examples=[["jobs:read", "jobs:write"]])
    prefix: str = Field(
        description="The key's first characters, to recognize it; not enough to use it.",
        examples=["vmk_3f9a0c2e4b71_kq0N"],
    )
    created_at: datetime
    expires_at: datetime | None = Field(description="When it stops working; null: never (until revoked).")
    last_used_at: datetime | None = Field(description="About when it was last used (to the minute); null: never.")


class CreatedApiKey(ApiKeyView):
    key: str = Field(
        description=(
            "The key itself: send it as `Authorization: Bearer <key>`. Shown this once and stored only as a"
            " hash: copy it now."
        ),
        examples=[API_KEY_EXAMPLE],
    )


class ApiKeyList(BaseModel):
    keys: list[ApiKeyView] = Field(description="Your keys that are not revoked, newest first.")


class KeyCheck(BaseModel):
    key: str = Field(min_length=1, max_length=200, description="A key as its holder sent it.")


class KeyHolderView(BaseModel):
    """Who a valid key speaks for (the gateway's question to auth)."""

    key_id: str
    user_id: str
    email: str
    scopes: list[Scope]
    expires_at: float | None = Field(description="Unix time the key stops working; null: never.")


class KeyVerdict(BaseModel):
    """The answer to ``POST /v1/keys/verify``: who the key speaks for, or why it is refused."""

    holder: KeyHolderView | None = None
    refused: Literal["unknown", "revoked", "expired", "disabled"] | None = Field(
        default=None, description="Why the key is not taken (then `holder` is null)."
    )
