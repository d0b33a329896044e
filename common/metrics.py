"""Prometheus metrics every consumer shares; each service's own live in its package."""

from prometheus_client import Counter

__all__ = ["CONSUMER_DEAD_LETTERS", "CONSUMER_RETRIES"]

CONSUMER_RETRIES = Counter("consumer_retries_total", "Messages sent round again after a failed attempt.", ["queue"])
CONSUMER_DEAD_LETTERS = Counter(
    "consumer_dead_letters_total", "Messages given up on after their last attempt.", ["queue"]
)
