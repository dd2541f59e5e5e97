"""Every URL under /staff/, read from the resolver, refuses whoever should not be there.

The list is not written by hand: a view added later is checked the day it is
added, and a view without a guard fails here.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.route_samples import route_filled
from tests.triage.helpers import signed_in_client
from tipline.models import Grant, RecipientKey, Tip

pytestmark = pytest.mark.django_db

# The only pages a stranger may reach: the login form, and logging out; and the
# enrolment page, which has its own guard (a session signed in to enrol, and
# nothing else: tests/accounts/test_first_sign_in.py).
PUBLIC = {"staff:login", "staff:logout", "staff:enrol"}


def staff_patterns() -> list[tuple[str, str, object]]:
    """(name, route, view) of every pattern in the staff namespace."""
    found = []
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and entry.namespace == "staff":
            for pattern in entry.url_patterns:
                assert isinstance(pattern, URLPattern), "nested includes need handling here"
                found.append((f"staff:{pattern.name}", str(pattern.pattern), pattern.callback))
    return found


def url_for(route: str, tip: Tip, recipient_id: int, user_id: int) -> str:
    values = {
        "<str:reference>": tip.reference,
        "<int:recipient_id>": str(recipient_id),
        "<int:user_id>": str(user_id),
    }
    return "/staff/" + route_filled(route, values)


def test_the_resolver_lists_the_staff_pages():
    names = {name for name, _route, _view in staff_patterns()}
    assert {"staff:inbox", "staff:tip", "staff:file_download", "staff:login"} <= names
    assert len(names) >= 15


def test_every_non_public_view_carries_a_guard():
    for name, _route, view in staff_patterns():
        if name not in PUBLIC:
            assert getattr(view, "staff_guard", None) in {"staff", "admin"}, name


@pytest.fixture
def intruders(make_editor, tip_for_editor) -> dict[str, Client]:
    anonymous = Client()
    outsider = get_user_model().objects.create_user("outsider", password="x" * 20)
    not_staff = Client()
    not_staff.force_login(outsider)
    # A real staff account whose session never passed the one-time code.
    unverified = Client()
    unverified.force_login(make_editor("half").user)
    return {"anonymous": anonymous, "not staff": not_staff, "no second factor": unverified}


def _refused(response) -> bool:
    if response.status_code == 302:
        return response["Location"].startswith("/staff/login/")
    return response.status_code in {403, 404, 405}


def test_anonymous_non_staff_and_unverified_are_refused_everywhere(
    intruders, tip_for_editor, editor
):
    recipient = RecipientKey.objects.get(user=editor.user)
    before = (Tip.objects.get(pk=tip_for_editor.pk).status, Grant.objects.count())
    for name, route, _view in staff_patterns():
        if name in PUBLIC:
            continue
        url = url_for(route, tip_for_editor, recipient.pk, editor.user.pk)
        for who, client in intruders.items():
            for method in (client.get, client.post):
                response = method(url, {"status": "discarded", "tips": [tip_for_editor.reference]})
                assert _refused(response), f"{who} reached {name} ({response.status_code})"
                assert b"shipment" not in response.content
    assert (Tip.objects.get(pk=tip_for_editor.pk).status, Grant.objects.count()) == before


def test_an_editor_without_a_grant_cannot_reach_a_tip_by_its_url(make_editor, tip_for_editor):
    # Made after the tip arrived, so no grant wraps the tip key to this editor.
    latecomer = signed_in_client(make_editor("late"))
    status_before = tip_for_editor.status
    for name, route, _view in staff_patterns():
        if "<str:reference>" not in route:
            continue
        url = url_for(route, tip_for_editor, 0, 0)
        for method in (latecomer.get, latecomer.post):
            response = method(url, {"status": "discarded", "body": "x", "tags": "x"})
            assert response.status_code in {403, 404, 405}, f"{name}: {response.status_code}"
            assert b"shipment" not in response.content
    tip_for_editor.refresh_from_db()
    assert tip_for_editor.status == status_before
    assert not tip_for_editor.editor_notes.exists()
    assert not tip_for_editor.tags.exists()


def test_an_editor_is_refused_on_admin_pages(editor_client, tip_for_editor, editor):
    recipient = RecipientKey.objects.get(user=editor.user)
    admin_only = [
        (name, route)
        for name, route, view in staff_patterns()
        if getattr(view, "staff_guard", "") == "admin"
    ]
    assert admin_only, "there are admin pages to check"
    for name, route in admin_only:
        url = url_for(route, tip_for_editor, recipient.pk, editor.user.pk)
        for method in (editor_client.get, editor_client.post):
            assert method(url).status_code in {403, 405}, name
    assert Grant.objects.filter(recipient=recipient).exists()
