"""A limit on new tips for the whole installation, per clock hour, that identifies no one.

There is no per-client limit, on purpose: sources on Tor share exit addresses
(one busy exit would lock out everyone behind it), an onion service sees no
address at all, and a keyed hash of an address is still a record that one
client sent, kept where a seized server can be asked about a suspect's address.

The cache holds one number: the tips accepted in the current clock hour. It
lives in one of two slots (the hour's parity), so at most two entries ever
exist; each expires a minute after its hour ends, at a moment that depends on
the hour only (not on when the first tip of that hour came), and counting a
tip deletes the other slot, last hour's count. Redis forgets an expired entry
by itself; the file cache removes an expired file only when it is read, and
with keys named after every hour old counts would pile up on disk; with two
slots, the count of the last busy hour is all that can be left.

The check runs before a byte of the body is read; a tip is counted only once
it is stored. Tips arriving together may pass the check before any of them is
counted, so the limit can be exceeded by the uploads in flight: it is a brake
on floods, not an exact quota. (The file cache's incr is a get and a set, so
two processes counting at the same instant may count one tip: same answer.)
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

HOUR = 3600
# The entry outlives its hour by this much, so a tip counted just after the
# hour turned still finds it; well under the hour before its slot is reused.
GRACE = 60


def _now() -> float:
    """The clock (a function, so tests can move to another hour)."""
    return time.time()


def _hour(now: float) -> int:
    return int(now // HOUR)


def _key(hour: int) -> str:
    return f"tipline:tips-accepted:slot-{hour % 2}"


def _timeout(now: float, hour: int) -> int:
    """Seconds until a minute after the end of ``hour``: between 1 and 61 minutes."""
    return max(int((hour + 1) * HOUR + GRACE - now), 1)


def seconds_until_next_hour() -> int:
    now = _now()
    return max(int((_hour(now) + 1) * HOUR - now), 1)


def tip_rate_exceeded() -> bool:
    """True when this hour's tips reached ``TIPLINE_MAX_TIPS_PER_HOUR``.

    A cache that does not answer lets the tip through: a source turned away
    by a broken cache is worse than a flood the size limits still bound.
    """
    limit = settings.TIPLINE_MAX_TIPS_PER_HOUR
    if limit <= 0:
        return False
    try:
        count = cache.get(_key(_hour(_now())), 0)
    except Exception:  # noqa: BLE001 - any backend error: fail open, say so
        logger.warning("the tip counter cannot be read; the hourly limit is not applied")
        return False
    return count >= limit


def tip_accepted_count() -> None:
    """Count one stored tip in this hour's entry. Never raises: the tip is stored already."""
    if settings.TIPLINE_MAX_TIPS_PER_HOUR <= 0:
        return
    now = _now()
    hour = _hour(now)
    key, timeout = _key(hour), _timeout(now, hour)
    try:
        cache.add(key, 0, timeout)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout)
        # The file and database caches implement incr as get-then-set with
        # their default timeout: put the expiry back to the hour's own.
        cache.touch(key, timeout)
        cache.delete(_key(hour + 1))  # the other slot: last hour's count
    except Exception:  # noqa: BLE001 - any backend error: the tip is stored, say so
        logger.warning("the tip counter cannot be written; the hourly limit may let more through")
