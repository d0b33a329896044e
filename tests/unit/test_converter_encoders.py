"""Which MP3 encoder runs: the system's libmp3lame when it loads, lameenc otherwise, PyAV's last."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from converter.encoders import DEFAULT_LIBRARY, EngineUnavailable, choose_engine, installed_engines, pick_engine
from converter.libmp3lame import LameUnavailable, load

MISSING = "/nonexistent/libmp3lame.so.0"


def test_auto_prefers_the_system_library() -> None:
    assert choose_engine("auto", {"pyav", "lameenc", "system"}) == "system"


def test_auto_falls_back_to_lameenc_then_to_the_bundled_encoder() -> None:
    assert choose_engine("auto", {"pyav", "lameenc"}) == "lameenc"
    assert choose_engine("auto", {"pyav"}) == "pyav"


def test_a_named_engine_is_used_when_installed() -> None:
    assert choose_engine("pyav", {"pyav", "lameenc", "system"}) == "pyav"


def test_a_named_engine_that_is_missing_is_an_error() -> None:
    with pytest.raises(EngineUnavailable, match="lameenc"):
        choose_engine("lameenc", {"pyav"})


def test_no_engine_at_all_is_an_error() -> None:
    with pytest.raises(EngineUnavailable, match="install libmp3lame0"):
        choose_engine("auto", set())


def test_this_environment_has_all_three() -> None:
    assert installed_engines() == {"system", "lameenc", "pyav"}, (
        f"{DEFAULT_LIBRARY} does not load: `./run test` installs it (Debian: apt-get install libmp3lame0)"
    )


def test_the_system_library_is_picked_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="converter.encoders"):
        engine = pick_engine("auto", announce=True)

    assert engine.name == "system"
    assert "LAME 3.100" in engine.detail
    assert [record.levelno for record in caplog.records] == [logging.INFO]
    assert "MP3 encoder: system" in caplog.text


def test_without_the_system_library_lameenc_is_used_and_the_fallback_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="converter.encoders"):
        engine = pick_engine("auto", library=MISSING, announce=True)

    assert engine.name == "lameenc"
    assert [record.levelno for record in caplog.records] == [logging.WARNING]
    assert "falling back" in caplog.text
    assert MISSING in caplog.text
    assert installed_engines(MISSING) == {"lameenc", "pyav"}


def test_asking_for_the_system_library_where_it_is_missing_is_an_error() -> None:
    with pytest.raises(EngineUnavailable, match=f"system.*{MISSING}"):
        pick_engine("system", library=MISSING)


def test_a_library_that_is_not_lame_is_refused() -> None:
    with pytest.raises(LameUnavailable, match="not libmp3lame"):
        load("libc.so.6")


def test_the_library_can_be_named_by_its_path() -> None:
    load(DEFAULT_LIBRARY)  # loaded once, so the process maps it: its path is in /proc/self/maps
    maps = Path("/proc/self/maps").read_text().split()
    path = next(word for word in maps if Path(word).name.startswith("libmp3lame.so"))

    engine = pick_engine("system", library=path)

    assert (engine.name, engine.library) == ("system", path)
