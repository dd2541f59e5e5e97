"""Fixtures for the staff side: editors made the real way, signed in through the real form."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from tests.triage.helpers import (
    TIP_LINK,
    TIP_NOTE,
    UNSANITIZED_BYTES,
    StaffAccount,
    jpeg_bytes,
    send_tip,
    signed_in_client,
    staff_account_create,
)


@pytest.fixture
def make_editor(db, recovery_key_present) -> Callable[..., StaffAccount]:
    def make(username: str = "ana", *, admin: bool = False) -> StaffAccount:
        return staff_account_create(username, admin=admin)

    return make


@pytest.fixture
def editor(make_editor) -> StaffAccount:
    return make_editor("ana")


@pytest.fixture
def admin(make_editor) -> StaffAccount:
    return make_editor("root", admin=True)


@pytest.fixture
def editor_client(editor) -> Client:
    return signed_in_client(editor)


@pytest.fixture
def admin_client(admin) -> Client:
    return signed_in_client(admin)


@pytest.fixture
def tip_for_editor(open_tipline, editor):
    """A tip readable by ``editor``: a note, a link, a picture and a file that is not cleaned."""
    return send_tip(
        note=TIP_NOTE,
        links=TIP_LINK,
        files=[("harbour.jpg", jpeg_bytes()), ("ledger.bin", UNSANITIZED_BYTES)],
    )
