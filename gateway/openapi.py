"""OpenAPI details Litestar cannot infer: the bearer scheme and the streamed upload's form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, OpenAPIMediaType, Operation, RequestBody, Schema, SecurityScheme
from litestar.openapi.spec.enums import OpenAPIType

from contracts import ConversionOptions

__all__ = ["BEARER", "UploadOperation", "openapi_config"]

BEARER = "BearerToken"


def _option_schemas() -> dict[str, Schema]:
    schemas = {}
    for name, field in ConversionOptions.model_fields.items():
        choices = list(get_args(field.annotation))
        schemas[name] = Schema(
            type=OpenAPIType.INTEGER if all(isinstance(c, int) for c in choices) else OpenAPIType.STRING,
            enum=choices or None,
            default=field.default,
            description=field.description,
        )
    return schemas


@dataclass
class UploadOperation(Operation):
    """The upload route reads its body as a stream, so its form is described here."""

    def __post_init__(self) -> None:
        form = Schema(
            type=OpenAPIType.OBJECT,
            required=["file"],
            properties={
                "file": Schema(
                    type=OpenAPIType.STRING,
                    format="binary",  # type: ignore[arg-type]
                    description="The video (any container and codec FFmpeg reads, with an audio stream).",
                ),
                **_option_schemas(),
            },
        )
        self.request_body = RequestBody(
            required=True,
            description="multipart/form-data: the video in `file`, conversion options as further fields.",
            content={"multipart/form-data": OpenAPIMediaType(schema=form)},
        )


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="vidmp3 gateway",
        version="1.0.0",
        description="Upload videos, follow their conversion, download the MP3s.",
        components=Components(
            security_schemes={BEARER: SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
        ),
        render_plugins=[SwaggerRenderPlugin(), ScalarRenderPlugin()],
        path="/docs",
    )
