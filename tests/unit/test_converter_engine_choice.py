"""The service picks its MP3 encoder once, logs it and exports it as a metric."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY

from converter.app import create_app
from converter.settings import ConverterSettings


def exported_engines() -> set[str]:
    return {
        sample.labels["engine"]
        for metric in REGISTRY.collect()
        if metric.name == "converter_mp3_encoder_info"
        for sample in metric.samples
        if sample.value == 1
    }


@pytest.mark.parametrize(
    ("library", "engine", "level"),
    [("libmp3lame.so.0", "system", logging.INFO), ("/nonexistent/libmp3lame.so.0", "lameenc", logging.WARNING)],
)
def test_the_engine_in_use_is_logged_and_exported(
    caplog: pytest.LogCaptureFixture, library: str, engine: str, level: int
) -> None:
    with caplog.at_level(logging.INFO, logger="converter.encoders"):
        create_app(ConverterSettings(libmp3lame=library))

    assert [(record.levelno, record.getMessage().split(" (")[0]) for record in caplog.records] == [
        (level, f"MP3 encoder: {engine}")
    ]
    assert engine in exported_engines()
