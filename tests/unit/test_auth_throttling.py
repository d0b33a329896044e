"""Limits on password guessing: the lockout policy, token buckets and which address a client has."""

from __future__ import annotations

import ipaddress

import pytest

from auth.addresses import IPNetwork, client_address, rate_limit_key
from auth.emails import normalize_email
from auth.schemas import LoginRequest, Registration
from auth.throttling import (
    ACCOUNT_SLOWED,
    ADDRESS_LOCKED,
    Failures,
    GuessingPolicy,
    LockoutPolicy,
    TokenBuckets,
    TooManyAttempts,
    account_key,
    address_key,
)

POLICY = LockoutPolicy(threshold=3, base_seconds=10, max_seconds=60, reset_seconds=1000)
GATEWAY = "10.0.0.5"
PROXIES: list[IPNetwork] = [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/24")]


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def attempts(policy: LockoutPolicy, times: list[float]) -> list[float | None]:
    """``retry_after`` seen by an attempt at each of ``times`` (an attempt refused counts nothing)."""
    failures: Failures | None = None
    seen = []
    for now in times:
        retry_after = policy.retry_after(failures, now)
        seen.append(retry_after)
        if retry_after is None:
            failures = policy.after_attempt(failures, now)
    return seen


# --- the lockout policy -------------------------------------------------------------------


def test_an_account_locks_at_the_threshold_for_the_base_time() -> None:
    assert attempts(POLICY, [0, 1, 2, 3, 11.9, 12]) == [None, None, None, 9, pytest.approx(0.1), None]


def test_each_failure_after_the_lock_doubles_it_up_to_the_maximum() -> None:
    failures = None
    locks = []
    now = 0.0
    for _ in range(8):
        failures = POLICY.after_attempt(failures, now)
        locks.append(failures.locked_until - now if failures.locked_until else 0)
        now = max(now, failures.locked_until) + 0.5

    assert locks == [0, 0, 10, 20, 40, 60, 60, 60]


def test_failures_are_forgotten_after_the_reset_time_counted_from_the_end_of_the_lock() -> None:
    locked = Failures(count=3, locked_until=10, forget_at=10 + 1000)

    assert POLICY.current(locked, 1009) == locked
    assert POLICY.current(locked, 1010) is None
    assert POLICY.after_attempt(locked, 1010).count == 1


def test_a_huge_failure_count_does_not_overflow() -> None:
    failures = POLICY.after_attempt(Failures(count=10_000, locked_until=0, forget_at=5), 1)

    assert failures.locked_until == 1 + 60


def test_the_account_key_ignores_case_and_surrounding_space_but_not_the_address() -> None:
    assert account_key(" Ada@Example.com ") == account_key("ada@example.com")
    assert account_key("ada@example.com") != account_key("ada@example.org")
    assert len(account_key("x")) == 32


@pytest.mark.parametrize(("retry_after", "header"), [(0.0, "1"), (0.2, "1"), (1.0, "1"), (1.01, "2"), (899.5, "900")])
def test_retry_after_is_whole_seconds_never_zero(retry_after: float, header: str) -> None:
    assert TooManyAttempts(retry_after, "busy").retry_after_header == header


# --- token buckets ------------------------------------------------------------------------


def test_a_bucket_allows_a_burst_then_one_per_refill() -> None:
    clock = Clock()
    buckets = TokenBuckets(3, per_second=0.5, clock=clock)

    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == pytest.approx(2.0)
    clock.now += 1.0
    assert buckets.take("a") == pytest.approx(1.0), "a refused attempt takes nothing"
    clock.now += 1.0
    assert buckets.take("a") == 0
    assert buckets.take("a") == pytest.approx(2.0)


def test_buckets_are_per_key_and_refill_no_higher_than_the_capacity() -> None:
    clock = Clock()
    buckets = TokenBuckets(2, per_second=1, clock=clock)
    assert [buckets.take("a") for _ in range(2)] == [0, 0]

    assert buckets.take("b") == 0
    clock.now += 3600
    assert [buckets.take("a") for _ in range(3)] == [0, 0, pytest.approx(1.0)]


def test_the_least_recently_used_buckets_are_forgotten_beyond_max_keys() -> None:
    clock = Clock()
    buckets = TokenBuckets(1, per_second=0.001, max_keys=2, clock=clock)
    buckets.take("a")
    buckets.take("b")
    assert buckets.take("a") > 0  # "a" is now the most recently used

    buckets.take("c")

    assert buckets.take("a") > 0, "a recently used bucket is kept"
    assert buckets.take("b") == 0, "the least recently used one went, and comes back full"


@pytest.mark.parametrize(("capacity", "per_second"), [(0, 1.0), (1, 0.0), (1, -1.0)])
def test_a_bucket_that_never_allows_anything_is_refused(capacity: float, per_second: float) -> None:
    with pytest.raises(ValueError, match="token bucket"):
        TokenBuckets(capacity, per_second)


# --- client addresses ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # a peer that is no proxy: its header is whatever the client wanted it to be
        ("203.0.113.7", ["198.51.100.1"], "203.0.113.7"),
        ("203.0.113.7", [], "203.0.113.7"),
        # the gateway appended the address it saw
        (GATEWAY, ["198.51.100.1"], "198.51.100.1"),
        # ... after whatever the client sent: only the rightmost untrusted entry counts
        (GATEWAY, ["6.6.6.6, 1.1.1.1, 198.51.100.1"], "198.51.100.1"),
        (GATEWAY, ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),
        # a chain of trusted proxies is walked through
        (GATEWAY, ["198.51.100.1, 10.0.0.9, 127.0.0.1"], "198.51.100.1"),
        # every hop trusted: the first one
        (GATEWAY, ["10.0.0.9"], "10.0.0.9"),
        # the trusted proxy sent no header: the proxy itself
        (GATEWAY, [], GATEWAY),
        (GATEWAY, [""], GATEWAY),
        # nonsense from a trusted hop: stop at the last address it vouched for
        (GATEWAY, ["198.51.100.1, not-an-address"], GATEWAY),
        (GATEWAY, ["198.51.100.1, unknown, 10.0.0.9"], "10.0.0.9"),
        # ports, brackets, IPv6 and IPv4-mapped IPv6
        (GATEWAY, ["198.51.100.1:4711"], "198.51.100.1"),
        (GATEWAY, ["[2001:db8::1]:4711"], "2001:db8::1"),
        (GATEWAY, ["2001:db8::1"], "2001:db8::1"),
        ("::ffff:10.0.0.5", ["198.51.100.1"], "198.51.100.1"),
        # a test client's peer is no address at all
        ("testclient", ["198.51.100.1"], "testclient"),
        (None, [], "unknown"),
    ],
)
def test_the_client_address_is_believed_from_trusted_proxies_only(
    peer: str | None, forwarded: list[str], client: str
) -> None:
    assert client_address(peer, forwarded, PROXIES) == client


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_address("127.0.0.1", ["198.51.100.1"], []) == "127.0.0.1"


def test_ipv6_clients_share_a_bucket_per_64_and_ipv4_clients_have_their_own() -> None:
    assert rate_limit_key("2001:db8:1:2:aaaa::1") == rate_limit_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert rate_limit_key("2001:db8:1:3::1") != rate_limit_key("2001:db8:1:2::1")
    assert rate_limit_key("198.51.100.1") != rate_limit_key("198.51.100.2")
    assert rate_limit_key("testclient") == "testclient"


# --- guessing: per address and per account ------------------------------------------------


def test_an_address_key_is_per_account_and_address_whatever_the_emails_spelling() -> None:
    key = address_key("carol@example.com", "203.0.113.9")

    assert address_key(" CAROL@Example.com\u00a0", "203.0.113.9") == key
    assert address_key("carol@example.com", "203.0.113.10") != key
    assert address_key("dave@example.com", "203.0.113.9") != key
    assert key != account_key("carol@example.com")


def test_a_locked_address_is_refused_and_a_slowed_account_refuses_only_new_addresses() -> None:
    policy = GuessingPolicy()
    locked = Failures(count=5, locked_until=130, forget_at=4000)
    slowed = Failures(count=10, locked_until=101, forget_at=4000)

    by_address = policy.refusal(None, locked, known=True, now=100)
    assert by_address is not None
    assert (by_address.reason, by_address.retry_after) == (ADDRESS_LOCKED, 30)
    by_account = policy.refusal(slowed, None, known=False, now=100)
    assert by_account is not None
    assert (by_account.reason, by_account.retry_after) == (ACCOUNT_SLOWED, 1)
    assert policy.refusal(slowed, None, known=True, now=100) is None, "the owner's own address goes on"
    assert policy.refusal(slowed, None, known=False, now=101) is None


def test_the_account_slowdown_is_bounded_by_default() -> None:
    policy = GuessingPolicy().per_account
    failures = None
    for n in range(100):
        failures = policy.after_attempt(failures, float(n * 100))

    assert failures is not None
    assert failures.locked_until - 99 * 100 == 60.0


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Ada@Example.COM", "ada@example.com"),
        ("  ada@example.com\t", "ada@example.com"),
        ("ada@example.com\u00a0", "ada@example.com"),
        ("\uff41da@example.com", "ada@example.com"),
    ],
)
def test_emails_are_normalized_in_one_place_for_every_request(typed: str, stored: str) -> None:
    assert normalize_email(typed) == stored
    assert LoginRequest(email=typed, password="x").email == stored
    assert Registration(email=typed, password="long enough").email == stored
