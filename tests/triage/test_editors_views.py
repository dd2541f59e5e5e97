"""The editors pages: creating, deactivating, sharing tips; who may do what; CSRF; escaping."""

from __future__ import annotations

import re
import secrets

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.intake.helpers import submit_tip
from tests.triage.helpers import EDITOR_PASSWORD, StaffAccount, signed_in_client
from tipline.accounts.selectors import editor_key
from tipline.accounts.services import editor_create
from tipline.accounts.signin import private_key_unseal
from tipline.audit import COMMAND_LINE_ACTOR, Action, audit_verify
from tipline.crypto import decrypt_bytes
from tipline.keyring import KeyringError, tip_key_unwrap
from tipline.models import (
    AuditEntry,
    AuthenticatorDevice,
    BackupCodeDevice,
    Grant,
    RecipientKey,
    Tip,
)
from tipline.sealed import Part, tip_object_id

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "the newcomer's long password"
CODE = re.compile(r"^([2-9a-z]{10})$", re.MULTILINE)
SIGN_IN_CODE = re.compile(r'<p class="secret">([2-9a-z]{4}-[2-9a-z]{4}-[2-9a-z]{4})</p>')
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def new_editor_form(username: str = "cleo", **extra) -> dict:
    return {
        "username": username,
        "password": NEW_PASSWORD,
        "password_again": NEW_PASSWORD,
        **extra,
    }


def user(username: str):
    return get_user_model().objects.get(username=username)


def deactivate_url(account) -> str:
    return f"/staff/editors/{account.pk}/deactivate/"


def grant_url(account) -> str:
    return f"/staff/editors/{account.pk}/grant-my-tips/"


def grants_of(account) -> set[str]:
    return set(
        Grant.objects.filter(recipient__user=account, recipient__active=True).values_list(
            "tip__reference", flat=True
        )
    )


def readable_note(tip: Tip, account, password: str) -> str:
    """What ``account`` reads of the tip with its own key: the proof a grant works."""
    private_key = private_key_unseal(user=account, password=password)
    tip_key = tip_key_unwrap(tip=tip, recipient=editor_key(account), private_key=private_key)
    content = decrypt_bytes(
        bytes(tip.content_sealed),
        tip_key=tip_key,
        object_id=tip_object_id(tip.key_id, Part.CONTENT),
    )
    return content.decode()


# --- Creating an editor ------------------------------------------------------------------


def test_admin_creates_an_account_that_must_enrol_itself(admin_client) -> None:
    assert admin_client.get("/staff/editors/new/").status_code == 200
    response = admin_client.post("/staff/editors/new/", new_editor_form())
    assert response.status_code == 200  # rendered, not redirected
    assert response["Cache-Control"] == "no-store, max-age=0"
    body = response.content.decode()
    created = user("cleo")
    assert created.is_staff and created.is_active and not created.is_superuser
    # The admin sees a one-time sign-in code, and no second factor of the account.
    code = SIGN_IN_CODE.search(body).group(1)
    assert "otpauth://" not in body and "<svg" not in body
    assert CODE.findall(body) == []
    assert NEW_PASSWORD not in body and "style=" not in body
    # Nothing is wrapped to the account before it has chosen its own password.
    assert editor_key(created) is None
    assert not AuthenticatorDevice.objects.filter(user=created).exists()
    assert not BackupCodeDevice.objects.filter(user=created).exists()
    entry = AuditEntry.objects.get(action=Action.EDITOR_CREATED, actor="root")
    assert entry.detail == {"editor": "cleo", "admin": False, "sign_in_code": True}
    # The password and the code open the enrolment page, and only that.
    login = Client().post(
        "/staff/login/", {"username": "cleo", "password": NEW_PASSWORD, "code": code}
    )
    assert login.status_code == 302 and login["Location"] == "/staff/first-sign-in/"


def test_the_editors_page_says_who_has_not_signed_in_yet(admin_client, editor) -> None:
    admin_client.post("/staff/editors/new/", new_editor_form())
    body = admin_client.get("/staff/editors/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "waiting for the first sign-in" in body
    # No key yet: nothing to share with it.
    assert grant_url(user("cleo")) not in body and grant_url(editor.user) in body


def test_admin_checkbox_makes_an_admin(admin_client) -> None:
    admin_client.post("/staff/editors/new/", new_editor_form(is_admin="on"))
    assert user("cleo").is_superuser


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"password_again": "something else entirely"}, "differ"),
        ({"password": "qwerty123456", "password_again": "qwerty123456"}, "common"),
        ({"password": "short", "password_again": "short"}, "too short"),
        ({"username": "has space"}, "username"),
        ({"username": "root"}, "already exists"),
    ],
)
def test_refused_forms_create_nothing(admin_client, change: dict, error: str) -> None:
    before = get_user_model().objects.count()
    entries_before = AuditEntry.objects.filter(action=Action.EDITOR_CREATED).count()
    response = admin_client.post(
        "/staff/editors/new/", {**new_editor_form(), **change}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert "otpauth://" not in response.content.decode()
    assert get_user_model().objects.count() == before
    assert AuditEntry.objects.filter(action=Action.EDITOR_CREATED).count() == entries_before


# --- Who may do what -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/staff/editors/new/"),
        ("post", "/staff/editors/new/"),
        ("post", "deactivate"),
        ("get", "/staff/audit/"),
    ],
)
def test_editors_get_403_on_admin_pages(editor_client, admin, method: str, url: str) -> None:
    if url == "deactivate":
        url = deactivate_url(admin.user)
    response = getattr(editor_client, method)(url, new_editor_form("sneaky") | {"confirm": "on"})
    assert response.status_code == 403
    assert not get_user_model().objects.filter(username="sneaky").exists()
    assert user("root").is_active


@pytest.mark.parametrize(
    "url",
    [
        "/staff/editors/",
        "/staff/editors/new/",
        "/staff/editors/1/deactivate/",
        "/staff/editors/1/grant-my-tips/",
    ],
)
def test_anonymous_visitors_are_sent_to_login(admin, url: str) -> None:
    for response in (Client().get(url), Client().post(url, {"confirm": "on"})):
        assert response.status_code == 302
        assert response["Location"].startswith("/staff/login/")
    assert user("root").is_active


def test_editors_see_active_colleagues_to_share_with_but_no_admin_actions(
    editor_client, make_editor, admin
) -> None:
    gone = make_editor("gone")
    signed_in_client(admin).post(deactivate_url(gone.user), {"confirm": "on"})
    colleague = make_editor("bea")
    body = editor_client.get("/staff/editors/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "bea" in body and grant_url(colleague.user) in body
    assert "gone" not in body
    assert "deactivate" not in body and "/staff/editors/new/" not in body


def test_editors_list_shows_accounts(admin_client, editor) -> None:
    body = admin_client.get("/staff/editors/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "ana" in body and "root" in body
    assert editor_key(editor.user).fingerprint in body
    assert deactivate_url(editor.user) in body
    assert deactivate_url(user("root")) not in body  # not offered for yourself


@pytest.mark.parametrize("url", ["deactivate", "grant"])
def test_action_urls_refuse_get(admin_client, editor, url: str) -> None:
    target = deactivate_url(editor.user) if url == "deactivate" else grant_url(editor.user)
    assert admin_client.get(target).status_code == 405
    assert user("ana").is_active


# --- Deactivating -----------------------------------------------------------------------------


def test_deactivating_removes_grants_and_blocks_login(make_editor, open_tipline, client) -> None:
    ana = make_editor("ana")
    admin = make_editor("root", admin=True)
    submit_tip(client, note="one")
    submit_tip(client, note="two")
    assert len(grants_of(ana.user)) == 2
    ana_client = signed_in_client(ana)
    response = signed_in_client(admin).post(deactivate_url(ana.user), {"confirm": "on"})
    assert response.status_code == 302 and response["Location"] == "/staff/editors/"
    ana_user = user("ana")
    assert not ana_user.is_active
    assert not Grant.objects.filter(recipient__user=ana_user).exists()
    assert not RecipientKey.objects.filter(user=ana_user, active=True).exists()
    # The tips stay readable by the recovery key and the admin.
    assert Grant.objects.filter(recipient=open_tipline.recipient).count() == 2
    # The open session is over, and a new login fails.
    assert ana_client.get("/staff/").status_code == 302
    assert Client().post("/staff/login/", ana.login_data()).status_code == 400
    entry = AuditEntry.objects.get(action=Action.EDITOR_DEACTIVATED)
    assert (entry.actor, entry.detail) == ("root", {"editor": "ana", "grants_removed": 2})
    assert audit_verify().intact


def test_deactivation_needs_the_confirmation_box(admin_client, editor) -> None:
    admin_client.post(deactivate_url(editor.user), {})
    assert user("ana").is_active
    assert not AuditEntry.objects.filter(action=Action.EDITOR_DEACTIVATED).exists()


def test_an_admin_cannot_deactivate_themselves(admin_client, admin) -> None:
    response = admin_client.post(deactivate_url(admin.user), {"confirm": "on"}, follow=True)
    assert user("root").is_active
    assert editor_key(user("root")) is not None
    assert "cannot deactivate your own account" in response.content.decode()
    assert not AuditEntry.objects.filter(action=Action.EDITOR_DEACTIVATED).exists()


def test_deactivating_an_unknown_account_is_404(admin_client) -> None:
    assert (
        admin_client.post("/staff/editors/9999/deactivate/", {"confirm": "on"}).status_code == 404
    )


# --- Sharing one's tips with a newcomer --------------------------------------------------------


def test_grant_my_tips_shares_exactly_what_the_granter_can_read(
    make_editor, open_tipline, client
) -> None:
    secret = secrets.token_hex(8)
    submit_tip(client, note=f"before ana {secret}")  # ana has no grant for this one
    ana = make_editor("ana")
    submit_tip(client, note=f"for ana {secret}")
    submit_tip(client, note=f"also for ana {secret}")
    hidden, *shared = Tip.objects.order_by("id")
    cleo = make_editor("cleo")  # the newcomer: no grant yet
    assert grants_of(cleo.user) == set()

    response = signed_in_client(ana).post(grant_url(cleo.user), follow=True)
    assert response.status_code == 200
    assert "2 tips you can read were shared with cleo" in response.content.decode()
    assert grants_of(cleo.user) == {tip.reference for tip in shared}
    for tip in shared:
        assert readable_note(tip, cleo.user, EDITOR_PASSWORD) == readable_note(
            tip, ana.user, EDITOR_PASSWORD
        )
        assert secret in readable_note(tip, cleo.user, EDITOR_PASSWORD)
    with pytest.raises(KeyringError):
        readable_note(hidden, cleo.user, EDITOR_PASSWORD)
    # Each grant is audited against its tip.
    assert set(
        AuditEntry.objects.filter(action=Action.GRANT_ADDED).values_list("tip_reference", flat=True)
    ) == {tip.reference for tip in shared}
    # The newcomer sees the shared tips through the real pages, and not the other.
    cleo_client = signed_in_client(cleo)
    for tip in shared:
        assert cleo_client.get(f"/staff/tips/{tip.reference}/").status_code == 200
    assert cleo_client.get(f"/staff/tips/{hidden.reference}/").status_code == 404


def test_granting_twice_adds_nothing(make_editor, open_tipline, client) -> None:
    ana = make_editor("ana")
    submit_tip(client, note="x")
    cleo = make_editor("cleo")
    ana_client = signed_in_client(ana)
    ana_client.post(grant_url(cleo.user))
    response = ana_client.post(grant_url(cleo.user), follow=True)
    assert "0 tips you can read were shared" in response.content.decode()
    assert Grant.objects.filter(recipient__user=cleo.user).count() == 1


def test_grant_to_a_deactivated_account_is_404(admin_client, editor) -> None:
    admin_client.post(deactivate_url(editor.user), {"confirm": "on"})
    assert admin_client.post(grant_url(editor.user)).status_code == 404


def test_grant_to_yourself_changes_nothing(editor_client, editor) -> None:
    response = editor_client.post(grant_url(editor.user))
    assert response.status_code == 302
    assert not AuditEntry.objects.filter(action=Action.GRANT_ADDED).exists()


# --- CSRF ---------------------------------------------------------------------------------


def csrf_client(account: StaffAccount) -> Client:
    """A browser that enforces CSRF, logged in through the form with the form's token."""
    client = Client(enforce_csrf_checks=True)
    token = TOKEN.search(client.get("/staff/login/").content.decode()).group(1)
    response = client.post("/staff/login/", {**account.login_data(), "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    return client


def test_posts_without_the_csrf_token_are_refused(make_editor) -> None:
    admin = make_editor("root", admin=True)
    ana = make_editor("ana")
    client = csrf_client(admin)
    assert client.post("/staff/editors/new/", new_editor_form()).status_code == 403
    assert client.post(deactivate_url(ana.user), {"confirm": "on"}).status_code == 403
    assert client.post(grant_url(ana.user)).status_code == 403
    assert not get_user_model().objects.filter(username="cleo").exists()
    assert user("ana").is_active
    # With the page's token the same posts go through.
    token = TOKEN.search(client.get("/staff/editors/").content.decode()).group(1)
    response = client.post(
        "/staff/editors/new/", {**new_editor_form(), "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 200 and user("cleo").is_staff
    response = client.post(
        deactivate_url(ana.user), {"confirm": "on", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302 and not user("ana").is_active


# --- Escaping ----------------------------------------------------------------------------------


def test_a_script_in_a_username_is_shown_escaped(admin_client) -> None:
    payload = '<script>alert("x")</script>'
    # The form refuses such a name; an account made another way must still be harmless.
    response = admin_client.post("/staff/editors/new/", new_editor_form(payload))
    assert not get_user_model().objects.filter(username=payload).exists()
    assert payload not in response.content.decode()
    editor_create(actor=COMMAND_LINE_ACTOR, username=payload, password=NEW_PASSWORD)
    body = admin_client.get("/staff/editors/").content.decode()
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    odd = get_user_model().objects.get(username=payload)
    response = admin_client.post(deactivate_url(odd), {"confirm": "on"}, follow=True)
    body = response.content.decode()
    assert "<script>alert" not in body and "&lt;script&gt;" in body
    body = admin_client.get("/staff/audit/").content.decode()
    assert "<script>alert" not in body


def test_qr_markup_that_would_need_inline_style_is_refused(monkeypatch) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from tipline.triage import qr

    class Styled:
        def svg_inline(self, **kwargs) -> str:
            return '<svg width="1" height="1" style="fill:red"></svg>'

    monkeypatch.setattr(qr.segno, "make", lambda *a, **k: Styled())
    with pytest.raises(ImproperlyConfigured):
        qr.qr_svg("otpauth://totp/x?secret=AB")
