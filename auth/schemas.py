"""Bodies of the login API, shared by the auth service and the gateway that fronts it."""

from pydantic import BaseModel, Field

__all__ = ["LoginRequest", "TokenResponse"]


class LoginRequest(BaseModel):
    email: str = Field(min_length=3, max_length=320, examples=["ada@example.com"])
    password: str = Field(min_length=1, max_length=1024, examples=["correct horse battery staple"])


class TokenResponse(BaseModel):
    access_token: str = Field(description="Bearer token: send it as `Authorization: Bearer <token>`.")
    token_type: str = Field(default="Bearer")
    expires_in: int = Field(description="Seconds until the token expires.", examples=[900])
