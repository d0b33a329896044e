"""Which MP3 encoder runs: the optimized one when installed, the bundled one otherwise."""

from __future__ import annotations

import pytest

from converter.encoders import EngineUnavailable, choose_engine, installed_engines


def test_auto_prefers_lameenc() -> None:
    assert choose_engine("auto", {"pyav", "lameenc"}) == "lameenc"


def test_auto_falls_back_to_the_bundled_encoder() -> None:
    assert choose_engine("auto", {"pyav"}) == "pyav"


def test_a_named_engine_is_used_when_installed() -> None:
    assert choose_engine("pyav", {"pyav", "lameenc"}) == "pyav"


def test_a_named_engine_that_is_missing_is_an_error() -> None:
    with pytest.raises(EngineUnavailable, match="lameenc"):
        choose_engine("lameenc", {"pyav"})


def test_no_engine_at_all_is_an_error() -> None:
    with pytest.raises(EngineUnavailable, match="install lameenc"):
        choose_engine("auto", set())


def test_this_environment_has_both() -> None:
    assert installed_engines() == {"lameenc", "pyav"}
