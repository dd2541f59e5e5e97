"""The logging filter: no client address survives into a log line."""

from __future__ import annotations

import logging

import pytest

from tipline.logging import ScrubAddressesFilter, scrub


@pytest.mark.parametrize(
    "address",
    [
        "203.0.113.77",
        "10.0.0.1",
        "2001:db8::1",
        "fe80::1ff:fe23:4567:890a",
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
    ],
)
def test_addresses_are_removed(address: str) -> None:
    assert address not in scrub(f"request from {address} failed")


def test_filter_rewrites_the_record_and_drops_the_request() -> None:
    record = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, "from %s via %s", ("198.51.100.4", "2001:db8::7"), None
    )
    record.request = object()
    assert ScrubAddressesFilter().filter(record)
    assert record.getMessage() == "from [address removed] via [address removed]"
    assert record.request is None


def test_ordinary_text_is_kept() -> None:
    text = "Task succeeded in 0.02s at 12:30:45: version 5.2.19"
    assert scrub(text) == text
