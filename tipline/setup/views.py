"""The first-run page: ``/setup/<token>/`` makes the first admin, then the recovery key.

Without the current token, or once set-up is done (here or on the command
line), every page answers 404, as for any address that does not exist: a
visitor learns nothing, not even that set-up is pending. After the last step
the browser that did it (and only it) sees the closing page and downloads the
sealed recovery key file, once; those two pages are bound to its session, not
to the token, which is gone by then.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tipline.accounts.second_factor import totp_secret_new, totp_uri
from tipline.accounts.services import EditorCreated
from tipline.keyring import active_recovery_key
from tipline.setup import key_file
from tipline.setup.forms import AdminEnrolForm, AdminNameForm, PendingAdmin
from tipline.setup.services import (
    SetupStep,
    SetupStepDone,
    WrongCode,
    setup_admin_create,
    setup_recovery_key_create,
    setup_step,
)
from tipline.setup.token import setup_token_matches
from tipline.triage.forms_retention import RecoveryKeyRotateForm
from tipline.triage.qr import qr_svg

# Set in the session of the browser that finished set-up: it alone sees the closing page.
_FINISHED = "tipline_setup_finished"


def _step_or_404(token: str) -> SetupStep:
    if not setup_token_matches(token):
        raise Http404()
    step = setup_step()
    if step is SetupStep.DONE:
        raise Http404()
    return step


@require_http_methods(["GET", "POST"])
def setup_view(request: HttpRequest, token: str) -> HttpResponse:
    step = _step_or_404(token)
    posted = request.POST.get("step", "") if request.method == "POST" else ""
    if step is SetupStep.ADMIN:
        if posted == "admin-name":
            return _admin_name_posted(request, token)
        if posted == "admin-enrol":
            return _admin_enrol_posted(request, token)
        return _admin_name_page(request, token, AdminNameForm())
    if posted == "recovery-key":
        return _recovery_key_posted(request, token)
    # A form of a step done meanwhile (sent twice, or in another tab) does nothing.
    return _recovery_key_page(request, token, RecoveryKeyRotateForm())


# --- The first admin ---------------------------------------------------------------------


def _admin_name_page(request: HttpRequest, token: str, form: AdminNameForm) -> HttpResponse:
    return render(request, "setup/admin_name.html", {"form": form, "token": token})


def _admin_name_posted(request: HttpRequest, token: str) -> HttpResponse:
    form = AdminNameForm(request.POST)
    if not form.is_valid():
        return _admin_name_page(request, token, form)
    pending = PendingAdmin(form.cleaned_data["username"], totp_secret_new())
    return _admin_enrol_page(request, token, pending, AdminEnrolForm(username=pending.username))


def _admin_enrol_page(
    request: HttpRequest, token: str, pending: PendingAdmin, form: AdminEnrolForm
) -> HttpResponse:
    # An unsaved account: the URI's label needs only the name.
    uri = totp_uri(user=get_user_model()(username=pending.username), secret=pending.totp_secret)
    context = {"form": form, "token": token, "pending": pending, "uri": uri, "qr_svg": qr_svg(uri)}
    return render(request, "setup/admin_enrol.html", context)


def _admin_enrol_posted(request: HttpRequest, token: str) -> HttpResponse:
    pending = PendingAdmin.from_signed(request.POST.get("pending", ""))
    if pending is None:  # stale (over half an hour) or altered: start the step again
        return _admin_name_page(request, token, AdminNameForm())
    form = AdminEnrolForm(request.POST, username=pending.username)
    if not form.is_valid():
        return _admin_enrol_page(request, token, pending, form)
    try:
        created = setup_admin_create(
            username=pending.username,
            password=form.cleaned_data["password"],
            totp_secret=pending.totp_secret,
            code=form.cleaned_data["code"],
        )
    except WrongCode:
        form.add_error("code", gettext("That is not the code the app shows now. Try the next one."))
        return _admin_enrol_page(request, token, pending, form)
    except SetupStepDone:
        return _admin_name_page(request, token, AdminNameForm())
    return _admin_created_page(request, token, created)


def _admin_created_page(request: HttpRequest, token: str, created: EditorCreated) -> HttpResponse:
    # Rendered, not redirected: the backup codes exist only in this response.
    finished = setup_step() is SetupStep.DONE
    if finished:
        request.session[_FINISHED] = True
    next_url = reverse("setup:done") if finished else reverse("setup:setup", args=[token])
    context = {"codes": created.backup_codes, "admin": created.user, "next_url": next_url}
    return render(request, "setup/admin_created.html", context)


# --- The recovery key -------------------------------------------------------------------


def _recovery_key_page(
    request: HttpRequest, token: str, form: RecoveryKeyRotateForm
) -> HttpResponse:
    return render(request, "setup/recovery_key.html", {"form": form, "token": token})


def _recovery_key_posted(request: HttpRequest, token: str) -> HttpResponse:
    form = RecoveryKeyRotateForm(request.POST)
    if not form.is_valid():
        return _recovery_key_page(request, token, form)
    cookie_key = key_file.key_file_cookie_key()
    try:
        setup_recovery_key_create(
            passphrase=form.cleaned_data["passphrase"],
            deliver=lambda armored: key_file.key_file_hold(
                request, cookie_key=cookie_key, armored=armored
            ),
        )
    except SetupStepDone:
        raise Http404() from None  # made meanwhile by another request: that one has the file
    request.session[_FINISHED] = True
    # Redirected, so a reload asks for the closing page rather than sending the form again.
    response = redirect("setup:done")
    key_file.key_file_cookie_set(response, cookie_key)
    return response


# --- After the last step: bound to the browser that took it ------------------------------


@require_GET
def done_view(request: HttpRequest) -> HttpResponse:
    if not request.session.get(_FINISHED):
        raise Http404()
    context = {
        "key_file_waiting": key_file.key_file_waiting(request),
        "recovery": active_recovery_key(),
    }
    return render(request, "setup/done.html", context)


@require_POST
def key_file_view(request: HttpRequest) -> HttpResponse:
    """The sealed recovery key file, once, to the browser that made it; never cached."""
    armored = key_file.key_file_take(request) if request.session.get(_FINISHED) else None
    if armored is None:
        raise Http404()
    response = HttpResponse(armored, content_type="application/octet-stream")
    recovery = active_recovery_key()
    fingerprint = recovery.fingerprint[:16] if recovery is not None else "new"
    name = f"tipline-recovery-key-{fingerprint}.txt"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    key_file.key_file_cookie_forget(response)
    return response
