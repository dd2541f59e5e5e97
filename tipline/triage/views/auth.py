"""Signing in (password + one-time code), enrolling one's own second factor, signing out,
changing the password.

These run on the staff side's threads (``/staff/``, tipline/server/limits.py),
never on the ones sources use, so a burst of sign-ins cannot slow a source.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from tipline.accounts.checks import PasswordChecksBusy
from tipline.accounts.enrolment import (
    PendingEnrolment,
    enrolment_session,
    enrolment_session_begin,
    enrolment_session_end,
    enrolment_totp_secret,
)
from tipline.accounts.second_factor import totp_uri
from tipline.accounts.services import (
    AccountError,
    AccountLocked,
    Enrolled,
    PasswordNotNew,
    WrongCode,
    editor_enrolment_complete,
    editor_password_change,
)
from tipline.accounts.session import session_key_forget, session_key_store
from tipline.accounts.signin import EnrolmentDue, staff_authenticate, staff_sign_out
from tipline.triage.access import StaffRequest, staff_view
from tipline.triage.forms import LoginForm, PasswordChangeForm
from tipline.triage.forms_enrol import EnrolForm
from tipline.triage.qr import qr_svg

# How long the "try again" page asks a browser to wait before retrying.
BUSY_RETRY_SECONDS = 5


def _next_url(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()})
    return wanted if safe and wanted.startswith("/staff/") else "/staff/"


def _login_page(request: HttpRequest, form: LoginForm, error: str = "") -> HttpResponse:
    context = {"form": form, "error": error, "next": _next_url(request)}
    return render(request, "staff/login.html", context, status=400 if error else 200)


def busy_page(request: HttpRequest) -> HttpResponse:
    """Too many password checks at once: a calm page that asks to try again shortly."""
    response = render(request, "staff/busy.html", status=503)
    response["Retry-After"] = str(BUSY_RETRY_SECONDS)
    return response


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        if enrolment_session(request) is not None:
            return redirect("staff:enrol")  # signed in to enrol: nothing else until done
        return _login_page(request, LoginForm())
    form = LoginForm(request.POST)
    try:
        outcome = form.is_valid() and staff_authenticate(**form.cleaned_data)
    except PasswordChecksBusy:
        return busy_page(request)
    if not outcome:
        return _login_page(
            request,
            LoginForm(initial={"username": form.data.get("username", "")}),
            _(
                "That did not work. Check the username, the password and the code. "
                "After several failed attempts the account is locked for a while."
            ),
        )
    if isinstance(outcome, EnrolmentDue):
        response = redirect("staff:enrol")
        enrolment_session_begin(
            request, response, enrolment=outcome.enrolment, private_key=outcome.private_key
        )
        return response
    login(request, outcome.user)  # rotates the session id
    otp_login(request, outcome.device)
    response = redirect(_next_url(request))
    session_key_store(request, response, outcome.private_key)
    return response


@require_http_methods(["GET", "POST"])
def enrol_view(request: HttpRequest) -> HttpResponse:
    """One's own authenticator (and, for a new account, password), before any staff page."""
    pending = enrolment_session(request)
    secret = enrolment_totp_secret(request) if pending is not None else None
    if pending is None or secret is None:
        return redirect("staff:login")
    form = EnrolForm(
        request.POST or None, user=pending.user, chooses_password=pending.chooses_password
    )
    if request.method == "POST" and form.is_valid():
        try:
            enrolled = editor_enrolment_complete(
                enrolment=pending.enrolment,
                totp_secret=secret,
                code=form.cleaned_data["code"],
                private_key=pending.private_key,
                new_password=form.cleaned_data.get("new_password", ""),
            )
        except PasswordChecksBusy:
            return busy_page(request)
        except WrongCode:
            form.add_error("code", _("That is not the code the app shows now. Try the next one."))
        except PasswordNotNew:
            form.add_error(
                "new_password", _("Choose a password other than the one you were given.")
            )
        except AccountError:
            enrolment_session_end(request)
            return redirect("staff:login")
        else:
            return _enrolled(request, pending, enrolled)
    uri = totp_uri(user=pending.user, secret=secret)
    context = {"form": form, "pending": pending, "uri": uri, "qr_svg": qr_svg(uri)}
    return render(request, "staff/enrol.html", context)


def _enrolled(request: HttpRequest, pending: PendingEnrolment, enrolled: Enrolled) -> HttpResponse:
    enrolment_session_end(request)
    login(request, pending.user)  # a new session id; signed in from here on
    otp_login(request, enrolled.device)
    # Rendered, not redirected: the backup codes exist only in this response.
    response = render(request, "staff/enrol_done.html", {"codes": enrolled.backup_codes})
    session_key_store(request, response, enrolled.private_key)
    return response


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    staff_sign_out(request=request)  # flushes the session and the sealed key with it
    response = redirect("staff:login")
    session_key_forget(response)
    return response


@staff_view
@require_http_methods(["GET", "POST"])
def password_view(request: StaffRequest) -> HttpResponse:
    form = PasswordChangeForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            new_key = editor_password_change(
                user=request.user,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password"],
                keep_session=request.session.session_key or "",
            )
        except PasswordChecksBusy:
            return busy_page(request)
        except AccountLocked:
            form.add_error(None, _("Too many wrong passwords: try again later."))
        except AccountError:
            form.add_error("old_password", _("The current password is not right."))
        else:
            update_session_auth_hash(request, request.user)
            messages.success(request, _("Your password was changed and your key replaced."))
            response = redirect("staff:inbox")
            session_key_store(request, response, new_key)  # stays signed in, with the new key
            return response
    return render(request, "staff/password.html", {"form": form})


urlpatterns = [
    path("login/", login_view, name="login"),
    path("first-sign-in/", enrol_view, name="enrol"),
    path("logout/", logout_view, name="logout"),
    path("password/", password_view, name="password"),
]
