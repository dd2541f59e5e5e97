"""CSRF is enforced on every form the site serves.

The forms are not listed by hand: every page the resolver serves is fetched
(the source pages, and the staff pages signed in as an admin, who sees every
form), and the action of each ``<form method="post">`` is attacked three
times: without a token, with a valid token from another browser's session,
and with the victim's own token but ``Origin: null`` (what a sibling page with
``<meta name=referrer content=no-referrer>`` makes the browser send; issue 13).
All are refused with 403, and nothing in the database changes.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.test import Client

from tests.conftest import all_files_under
from tests.security._support import (
    assert_no_server_error,
    assert_pinned_headers,
    csrf_token_from,
    form_posts,
    placeholder_values,
    source_urls,
    staff_urls,
    strict_signed_in_client,
)
from tests.triage.helpers import EDITOR_PASSWORD

pytestmark = pytest.mark.django_db


def database_state() -> dict[str, list]:
    """Every row that a forged POST could change (sessions aside)."""
    models = [*apps.get_app_config("tipline").get_models(), get_user_model()]
    for label in ("otp_totp", "otp_static"):
        models += list(apps.get_app_config(label).get_models())
    return {model.__name__: sorted(map(repr, model.objects.values())) for model in models}


def forged_data(tip, editor) -> dict:
    """What each form would need to change something, had the token been accepted."""
    return {
        "note": "forged",
        "links": "https://example.org/forged",
        "status": "discarded",
        "tips": [tip.reference],
        "assignee": str(editor.user.pk),
        "tags": "forged",
        "body": "forged",
        "hold": "set",
        "recipient": str(editor.user.pk),
        "user": str(editor.user.pk),
        "username": "mallory",
        "password": EDITOR_PASSWORD,
        "code": "000000",
        "old_password": EDITOR_PASSWORD,
        "new_password": "a brand new forged password",
        "new_password_confirm": "a brand new forged password",
        "confirm": "on",
        "is_admin": "on",
        "action": "save",
        "passphrase": "forged passphrase for a new key",
    }


@pytest.fixture
def every_form(admin, editor, readable_tip) -> tuple[Client, set[str]]:
    """An admin's strict browser, and the action of every POST form of the site."""
    victim = strict_signed_in_client(admin)
    anonymous = Client(enforce_csrf_checks=True)
    actions: set[str] = set()
    for url in [*source_urls(), "/staff/login/"]:
        actions.update(form_posts(anonymous.get(url)))
    for url in staff_urls(placeholder_values(readable_tip, editor)):
        if not url.endswith("/logout/"):
            actions.update(form_posts(victim.get(url)))
    return victim, actions


def test_the_forms_were_found(every_form, readable_tip):
    _victim, actions = every_form
    ref = readable_tip.reference
    expected = {
        "/es/send/",
        "/en/send/",
        "/staff/login/",
        "/staff/logout/",
        "/staff/password/",
        "/staff/bulk-status/",
        f"/staff/tips/{ref}/status/",
        f"/staff/tips/{ref}/tags/",
        f"/staff/tips/{ref}/notes/",
        f"/staff/tips/{ref}/legal-hold/",
        "/staff/editors/new/",
        "/staff/retention/",
        "/staff/recovery-key/",
    }
    assert expected <= actions, expected - actions
    assert any(action.endswith("/deactivate/") for action in actions)
    assert any(action.endswith("/grant-my-tips/") for action in actions)


def test_every_form_refuses_a_post_without_a_token(every_form, readable_tip, editor, blob_storage):
    victim, actions = every_form
    data = forged_data(readable_tip, editor)
    before, blobs = database_state(), set(all_files_under(blob_storage))
    for action in sorted(actions):
        for origin in ({}, {"HTTP_ORIGIN": "null"}):
            response = victim.post(action, data, **origin)
            assert response.status_code == 403, f"{action} {origin}: {response.status_code}"
            assert_no_server_error(response, label=action)
            assert_pinned_headers(response, label=action)
    assert database_state() == before
    assert set(all_files_under(blob_storage)) == blobs
    assert victim.get("/staff/").status_code == 200  # not even logged out


@pytest.mark.parametrize(
    "fetch_site",
    [None, "same-origin", "same-site"],
    ids=["no-fetch-site", "same-origin", "same-site"],
)
def test_origin_null_is_refused_on_every_form_even_with_the_right_token(
    every_form, readable_tip, editor, blob_storage, fetch_site
):
    """No exception for ``null``, not even when the browser says the post is same-origin."""
    victim, actions = every_form
    token = csrf_token_from(victim, "/staff/password/")
    headers = {"HTTP_ORIGIN": "null"}
    if fetch_site:
        headers["HTTP_SEC_FETCH_SITE"] = fetch_site
    before, blobs = database_state(), set(all_files_under(blob_storage))
    for action in sorted(actions):
        data = {**forged_data(readable_tip, editor), "csrfmiddlewaretoken": token}
        response = victim.post(action, data, **headers)
        assert response.status_code == 403, f"{action}: {response.status_code}"
        assert_no_server_error(response, label=action)
    assert database_state() == before
    assert set(all_files_under(blob_storage)) == blobs
    assert victim.get("/staff/").status_code == 200  # still signed in


def test_every_form_refuses_a_token_from_another_session(
    every_form, readable_tip, editor, blob_storage
):
    victim, actions = every_form
    attacker = Client(enforce_csrf_checks=True)
    tokens = {
        "source": csrf_token_from(attacker, "/es/"),
        "staff": csrf_token_from(attacker, "/staff/login/"),
    }
    before, blobs = database_state(), set(all_files_under(blob_storage))
    for action in sorted(actions):
        for token in tokens.values():
            data = {**forged_data(readable_tip, editor), "csrfmiddlewaretoken": token}
            response = victim.post(action, data)
            assert response.status_code == 403, f"{action}: {response.status_code}"
            response = victim.post(action, data, HTTP_X_CSRFTOKEN=token)
            assert response.status_code == 403, f"{action} (header): {response.status_code}"
    assert database_state() == before
    assert set(all_files_under(blob_storage)) == blobs
    assert victim.get("/staff/").status_code == 200


def test_a_source_without_a_cookie_cannot_be_made_to_send(open_tipline, blob_storage):
    """A cross-site form aimed at the tip line: the SameSite=Strict cookie never comes along."""
    attacker = Client(enforce_csrf_checks=True)
    token = csrf_token_from(attacker, "/es/")
    victim = Client(enforce_csrf_checks=True)  # never visited the tip line in this session
    for url in ("/es/send/", "/en/send/"):
        response = victim.post(url, {"note": "forged", "csrfmiddlewaretoken": token})
        assert response.status_code == 403
    assert all_files_under(blob_storage) == []
    from tipline.models import Tip

    assert not Tip.objects.exists()


def test_the_right_token_still_works(every_form, admin):
    """The refusals above are about the token, not a broken form."""
    victim, _actions = every_form
    token = csrf_token_from(victim, "/staff/password/")
    response = victim.post("/staff/logout/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert victim.get("/staff/").status_code == 302
