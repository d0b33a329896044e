"""Failure reasons in words for people (the failure email and the page)."""

from __future__ import annotations

from common.failure_texts import failure_text, failure_texts
from contracts import FailureReason


def test_every_failure_reason_has_words_for_people() -> None:
    """The failure email and the page say these; a reason added without words fails here."""
    for reason in FailureReason:
        assert reason.value in failure_texts(), reason
        text = failure_text(reason)
        assert text.what_happened.endswith(".")
        assert text.what_to_try.endswith(".")
        assert "_" not in text.what_happened + text.what_to_try  # no machine names
    assert failure_text("a_reason_from_the_future") == failure_text(FailureReason.INTERNAL_ERROR)
