"""Blob names: what each blob, spool copy and marker is called (docs/arrivals.md)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

# Every blob name is ``<kind>/<first two hex digits>/<32 hex digits>``. The sweep
# only ever considers names of this shape, so nothing else in the storage (another
# application's files in a shared bucket, an operator's notes) can be deleted.
# The safe copy's (tipline/worker/safe_copy.py): its PDF and its page images.
BLOB_KINDS = ("raw", "clean", "thumbnail", "safe-pdf", "safe-pages")
_KINDS = "|".join(BLOB_KINDS)
_BLOB_NAME = re.compile(rf"^(?:{_KINDS})/([0-9a-f]{{2}})/([0-9a-f]{{32}})$")
# Where every blob waits for its batch, ``spool/<kind>-<32 hex>``, and the batch's
# markers ``spool/<kind>-<32 hex>.forget`` (delete the stored copy; the key
# begins with the spool copy's, so one S3 listing finds both). One flat
# folder: fan-out folders made at arrival would date it after the batch.
SPOOL_PREFIX = "spool"
_SPOOL_BLOB = re.compile(rf"^spool/({_KINDS})-([0-9a-f]{{32}})$")
_SPOOL_FORGET = re.compile(rf"^spool/({_KINDS})-([0-9a-f]{{32}})\.forget$")
# A local file being written: it takes its name only when complete (a batch never
# moves half a blob). Left behind only by a killed process; the batch removes those.
PARTIAL_PREFIX = ".partial-"


def new_blob_name(kind: str) -> str:
    """A fresh random blob name, fanned out into folders: ``raw/ab/<random>``."""
    if kind not in BLOB_KINDS:
        # A kind the sweep does not list would never be swept when orphaned.
        raise ValueError(f"unknown blob kind {kind!r}")
    token = secrets.token_hex(16)
    return f"{kind}/{token[:2]}/{token}"


def _blob_parts(name: str) -> tuple[str, str]:
    """(kind, token) of a blob name; ``ValueError`` for anything else."""
    if not is_blob_name(name):
        raise ValueError("not a blob name")
    kind, _fan_out, token = name.split("/")
    return kind, token


def spool_name_of(name: str) -> str:
    """Where the blob ``raw/ab/<token>`` waits for its batch: ``spool/raw-<token>``."""
    kind, token = _blob_parts(name)
    return f"{SPOOL_PREFIX}/{kind}-{token}"


def forget_marker_of(name: str) -> str:
    """The marker asking the next batch to delete the stored copy of ``name``."""
    return f"{spool_name_of(name)}.forget"


def _blob_name_of(kind: str, token: str) -> str:
    return f"{kind}/{token[:2]}/{token}"


def is_blob_name(name: str) -> bool:
    match = _BLOB_NAME.match(name)
    return match is not None and match.group(2).startswith(match.group(1))


def _listed_blob_name(name: str) -> str | None:
    """The blob name of a listed name: a blob's own, or a spool copy's; else None."""
    if is_blob_name(name):
        return name
    match = _SPOOL_BLOB.match(name)
    return _blob_name_of(match.group(1), match.group(2)) if match else None


@dataclass(frozen=True)
class SpoolEntry:
    name: str  # the blob's own name (``raw/ab/<token>``)
    forget: bool  # a marker: the batch deletes the stored copy
    arrived: datetime  # when it came into the spool (its newest change there)
    # Its last write, for the sweep's age (a finished upload keeps its coarse
    # one when renamed in, and a row names it by then).
    modified: datetime


def _spool_entry_of(
    name: str, arrived: datetime, modified: datetime | None = None
) -> SpoolEntry | None:
    for pattern, forget in ((_SPOOL_BLOB, False), (_SPOOL_FORGET, True)):
        if match := pattern.match(name):
            blob = _blob_name_of(match.group(1), match.group(2))
            return SpoolEntry(blob, forget, arrived, modified or arrived)
    return None
