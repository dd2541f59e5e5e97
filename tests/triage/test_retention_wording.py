"""The Spanish retention texts say what the English says (#16): a tip's period runs from the
day it reached its status, not from the day it was received."""

from __future__ import annotations

import pytest

from tests.triage.helpers import granted_tip

pytestmark = pytest.mark.django_db

RECEIVED = ("lo recibió", "lo recibieron", "desde que se recibió")


def test_the_retention_page_counts_from_the_status_in_spanish(admin_client) -> None:
    body = admin_client.get("/staff/retention/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "cuando ha pasado el plazo de su estado desde que pasó a ese estado" in body
    assert "desde el día en que el mensaje pasó a su estado actual" in body  # the field's help
    assert not any(words in body for words in RECEIVED)
    english = admin_client.get("/staff/retention/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "has passed since it got that status" in english


def test_the_tip_page_counts_from_the_status_in_spanish(admin, admin_client) -> None:
    tip = granted_tip(note="n")
    url = f"/staff/tips/{tip.reference}/"
    body = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "días desde el día en que pasaron a ese estado." in body
    assert not any(words in body for words in RECEIVED)
    english = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "days from the day they got it." in english
