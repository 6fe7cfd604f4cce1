"""Signup tokens and client keys: each token kind verifies only as itself, only in its exact
spelling, only with the key; the expiry is read back for the caller to compare with its
clock. The per-client limit counts a whole IPv6 /64 as one client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from digest.audience.requests import network_of
from digest.audience.subscribers import make_token
from digest.audience.tokens import (
    make_confirm_token,
    make_form_stamp,
    read_confirm_token,
    read_form_stamp,
)
from digest.errors import SubscriberError

KEY = b"a-test-secret-of-enough-length"
NOW = datetime(2023, 11, 23, 4, 0, tzinfo=UTC)


def test_a_confirm_token_names_the_request_the_address_and_the_expiry() -> None:
    token = make_confirm_token(KEY, "req-1", "Ana@example.com", NOW + timedelta(hours=48))
    read = read_confirm_token(KEY, token)
    assert (read.signup_id, read.email, read.expires) == (
        "req-1", "Ana@example.com", NOW + timedelta(hours=48))
    assert read_form_stamp(KEY, make_form_stamp(KEY, NOW)) == NOW


@pytest.mark.parametrize("make", [
    lambda: make_token(KEY, "req-1", "Ana@example.com"),  # an unsubscribe token
    lambda: make_form_stamp(KEY, NOW),
    lambda: make_confirm_token(b"another-key-of-enough-length", "r", "a@example.com", NOW),
    lambda: make_confirm_token(KEY, "r", "a@example.com", NOW) + "=",
    lambda: make_confirm_token(KEY, "r", "a@example.com", NOW)[:-1],
    lambda: make_confirm_token(KEY, "r", "a@example.com", NOW).replace("c1.", "c2.", 1),
    lambda: "c1." + "A" * 3000 + "." + "A" * 43,
    lambda: "",
])
def test_anything_else_is_refused_as_a_confirm_token(make: object) -> None:
    assert callable(make)
    with pytest.raises(SubscriberError):
        read_confirm_token(KEY, make())


def test_a_confirm_token_is_not_a_form_stamp() -> None:
    with pytest.raises(SubscriberError):
        read_form_stamp(KEY, make_confirm_token(KEY, "r", "a@example.com", NOW))


def test_the_per_client_limit_counts_an_ipv6_client_by_its_slash_64() -> None:
    assert network_of("2001:db8:1:2:aaaa::1") == network_of("2001:db8:1:2:ffff::9") == \
        "2001:db8:1:2::/64"
    assert network_of("2001:db8:1:3::1") != network_of("2001:db8:1:2::1")
    assert network_of("::ffff:192.0.2.7") == network_of("192.0.2.7") == "192.0.2.7"
    assert network_of("unknown") == "unknown"
