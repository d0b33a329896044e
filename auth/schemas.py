"""Bodies of the auth API (the login ones are shared with the gateway that fronts it)."""

from typing import Annotated

from pydantic import BaseModel, EmailStr, Field

from auth.emails import Email, Normalized

__all__ = [
    "LoginRequest",
    "NewUser",
    "PasswordChange",
    "RefreshRequest",
    "Registration",
    "RevocationEntry",
    "RevocationPage",
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
