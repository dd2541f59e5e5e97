"""The set-up link's token: random, kept only as its hash in a private file of the data dir.

Whoever holds the link can make the first admin, so the token is a secret of
the operator's terminal: 256 random bits, printed once by ``manage.py
setup_link`` (which ``make run`` calls) and stored as its SHA-256 only, so a
copy of the data dir does not give the link away. A fast hash is enough: the
token is random, not chosen by a person. Each new link replaces the last one,
and the file is deleted once set-up is done.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from django.conf import settings

from tipline.private_files import open_for_reading, private_file_create

TOKEN_BYTES = 32
# Compared with when there is no stored token, so a missing file costs the same work.
_NO_TOKEN_DIGEST = "0" * 64


def setup_token_path() -> Path:
    return Path(settings.TIPLINE_SETUP_TOKEN_FILE)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def setup_token_issue() -> str:
    """A new token (returned, for the link); any earlier one stops working."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    path = setup_token_path()
    partial = path.with_name(path.name + ".new")
    # Written aside and renamed: a page reading meanwhile sees the old file or the new one.
    with os.fdopen(private_file_create(partial, replace=True), "w", encoding="ascii") as handle:
        handle.write(_digest(token))
    os.replace(partial, path)
    return token


def _stored_digest() -> str | None:
    try:
        with open_for_reading(setup_token_path()) as handle:
            return handle.read(128).decode("ascii", "replace").strip()
    except OSError:
        return None


def setup_token_matches(token: str) -> bool:
    """Whether ``token`` is the current one, in time that does not depend on how close it is.

    The hashes are compared, not the tokens: ``hmac.compare_digest`` takes the
    same time for any two digests of the same length.
    """
    stored = _stored_digest()
    matches = hmac.compare_digest(_digest(token), stored or _NO_TOKEN_DIGEST)
    return stored is not None and len(stored) == len(_NO_TOKEN_DIGEST) and matches


def setup_token_discard() -> None:
    """The link stops working (set-up is done, whichever way)."""
    setup_token_path().unlink(missing_ok=True)
