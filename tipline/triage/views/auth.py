"""Logging in (password + one-time code), logging out, changing the password."""

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

from tipline.accounts.services import AccountError, editor_password_change
from tipline.accounts.session import session_key_forget, session_key_store
from tipline.accounts.signin import staff_authenticate, staff_sign_out
from tipline.triage.access import StaffRequest, staff_view
from tipline.triage.forms import LoginForm, PasswordChangeForm


def _next_url(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()})
    return wanted if safe and wanted.startswith("/staff/") else "/staff/"


def _login_page(request: HttpRequest, form: LoginForm, error: str = "") -> HttpResponse:
    context = {"form": form, "error": error, "next": _next_url(request)}
    return render(request, "staff/login.html", context, status=400 if error else 200)


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _login_page(request, LoginForm())
    form = LoginForm(request.POST)
    sign_in = form.is_valid() and staff_authenticate(**form.cleaned_data)
    if not sign_in:
        return _login_page(
            request,
            LoginForm(initial={"username": form.data.get("username", "")}),
            _(
                "That did not work. Check the username, the password and the code. "
                "After several failed attempts the account is locked for a while."
            ),
        )
    login(request, sign_in.user)  # rotates the session id
    otp_login(request, sign_in.device)
    response = redirect(_next_url(request))
    session_key_store(request, response, sign_in.private_key)
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
            editor_password_change(
                user=request.user,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password"],
            )
        except AccountError:
            form.add_error("old_password", _("The current password is not right."))
        else:
            update_session_auth_hash(request, request.user)
            messages.success(request, _("Your password was changed and your key re-sealed."))
            return redirect("staff:inbox")
    return render(request, "staff/password.html", {"form": form})


urlpatterns = [
    path("login/", login_view, name="login"),
    path("logout/", logout_view, name="logout"),
    path("password/", password_view, name="password"),
]
