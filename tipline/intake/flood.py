"""Flood containment for the whole installation, per clock hour, that identifies no one.

No source is ever refused because of what others sent. A flood of junk is
not turned away (turning it away turned real sources away with it: one client
sending 141 tips in a second closed the tip line to everyone for the rest of
the hour); it is accepted and set apart. Tips beyond an hourly threshold are
marked "arrived during a flood" and the inbox shows them in their own group,
which an editor can discard at once.

There is no per-client limit or mark, on purpose: sources on Tor share exit
addresses (one busy exit would put everyone behind it in the flood), an onion
service sees no address at all, and a keyed hash of an address is still a
record that one client sent, kept where a seized server can be asked about a
suspect's address. What tells a flood apart is time, counted for everyone:

- **forms issued** this hour (each landing page carries a single-use form
  token, ``tipline.intake.form_token``); a form issued while this count is
  over the threshold carries a signed flag, "issued during a flood";
- **tips submitted** this hour, counted just before a tip is stored; when the
  count first goes over the threshold, the minute is kept: the flood began.

A tip is marked when it is submitted while this hour's submissions are over the
threshold and either its form carries the flag or its form was issued after
the minute the flood began. A source who opened the form before the flood
(unflagged, issued earlier) and was writing while it happened is kept out of
the flood group; a flooder, who needs a fresh form for every tip, is not. The
flag alone marks nothing: opening forms costs a flooder nothing, and a few
hundred page loads without tips must not put the next real source in the flood
group (docs/decisions.md).

The cache holds three numbers per hour: forms issued, tips submitted, and the
minute the flood began (only during a flood). Each lives in one of two slots
(the hour's parity), so at most two of each ever exist; each expires a minute
after its hour ends, at a moment that depends on the hour only, and counting
deletes the other slot, last hour's. Redis forgets an expired entry by itself;
the file cache removes an expired file only when it is read, and with keys
named after every hour old counts would pile up. The embedded default keeps
those files on a memory file system, never on disk (tipline/intake/cache.py),
so nothing in the data dir changes at a tip; their times are set to the start
of the hour all the same, so not even memory dates the last visit or tip to
the second by them.

A cache that fails never refuses and never marks: the tip is stored as an
ordinary one and a warning without content is logged.
"""

from __future__ import annotations

import logging
import os
import time

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.filebased import FileBasedCache

logger = logging.getLogger(__name__)

HOUR = 3600
MINUTE = 60
# The entry outlives its hour by this much, so a count just after the hour
# turned still finds it; well under the hour before its slot is reused.
GRACE = 60

ISSUED = "forms-issued"
SUBMITTED = "tips-submitted"
BEGAN = "flood-began"


def _now() -> float:
    """The clock (a function, so tests can move to another hour)."""
    return time.time()


def seconds_now() -> float:
    """Now, in seconds since the epoch, from the same clock."""
    return _now()


def current_minute() -> int:
    """Minutes since the epoch: the coarse time a form token carries."""
    return int(_now() // MINUTE)


def _hour(now: float) -> int:
    return int(now // HOUR)


def _key(kind: str, hour: int) -> str:
    return f"tipline:{kind}:slot-{hour % 2}"


def _timeout(now: float, hour: int) -> int:
    """Seconds until a minute after the end of ``hour``: between 1 and 61 minutes."""
    return max(int((hour + 1) * HOUR + GRACE - now), 1)


def cache_file_times_coarsen(key: str, at: int) -> None:
    """With the file cache, set the entry's file times to ``at`` (a whole hour).

    Django's file cache writes a new file for every change, so its
    modification time would say when the last form was opened or the last tip
    sent, to the second; reading it sets its access time. Redis keeps no such
    time. Never raises.
    """
    backend = caches["default"]
    # Django's own way from a key to its file (not in the type stubs).
    key_to_file = getattr(backend, "_key_to_file", None)
    if not isinstance(backend, FileBasedCache) or key_to_file is None:
        return
    try:
        os.utime(key_to_file(key), (at, at))
    except OSError:  # removed meanwhile (expired, culled): nothing to date
        pass


def _count(kind: str) -> int:
    """Add one to this hour's ``kind`` and return the new count. Raises on cache errors."""
    now = _now()
    hour = _hour(now)
    key, timeout = _key(kind, hour), _timeout(now, hour)
    cache.add(key, 0, timeout)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout)
        count = 1
    # The file and database caches implement incr as get-then-set with their
    # default timeout: put the expiry back to the hour's own.
    cache.touch(key, timeout)
    cache_file_times_coarsen(key, hour * HOUR)
    stale = [_key(kind, hour + 1)]  # the other slot: last hour's
    if kind == SUBMITTED:
        stale.append(_key(BEGAN, hour + 1))
    cache.delete_many(stale)
    return count


def _threshold() -> int:
    return settings.TIPLINE_FLOOD_TIPS_PER_HOUR


def form_issued_in_flood() -> bool:
    """Count one form issued this hour; True if this hour's forms are over the threshold."""
    try:
        return _count(ISSUED) > _threshold()
    except Exception:  # noqa: BLE001 - any backend error: no flag, say so
        logger.warning("the flood counter cannot be written; a form is issued without its flag")
        return False


def tip_arrived_in_flood(*, issued_minute: int, flagged: bool) -> bool:
    """Count one tip about to be stored; True if it is part of this hour's flood.

    ``issued_minute`` and ``flagged`` come from the tip's signed form token.
    """
    try:
        if _count(SUBMITTED) <= _threshold():
            return False
        began = _flood_began()
    except Exception:  # noqa: BLE001 - any backend error: store the tip unmarked, say so
        logger.warning("the flood counter cannot be used; a tip is stored without the flood mark")
        return False
    # Strictly after: a form opened in the minute the flood began may be a
    # source's who was already writing; the flooder's forms carry the flag.
    return flagged or issued_minute > began


def _flood_began() -> int:
    """The minute this hour's submissions went over the threshold (kept by the first to see it)."""
    now = _now()
    hour = _hour(now)
    key, timeout = _key(BEGAN, hour), _timeout(now, hour)
    minute = int(now // MINUTE)
    if not cache.add(key, minute, timeout):
        stored = cache.get(key)
        if isinstance(stored, int):
            minute = stored
        else:  # expired in between
            cache.set(key, minute, timeout)
    # Reading sets the access time too.
    cache_file_times_coarsen(key, hour * HOUR)
    return minute
