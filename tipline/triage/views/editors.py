"""Staff accounts: the list, creating, deactivating, resetting a second factor, sharing tips."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tipline.accounts.checks import PasswordChecksBusy
from tipline.accounts.selectors import editor_key, editor_rows
from tipline.accounts.services import (
    AccountError,
    editor_deactivate,
    editor_invite,
    editor_second_factor_reset,
)
from tipline.audit import actor_of
from tipline.triage.access import StaffRequest, admin_view, staff_view
from tipline.triage.forms_editors import DeactivateForm, EditorCreateForm, SecondFactorResetForm
from tipline.triage.grants import grants_copy_to_editor
from tipline.triage.views.auth import busy_page


@staff_view
@require_GET
def editors_view(request: StaffRequest) -> HttpResponse:
    """Every editor sees colleagues (to share tips with them); only admins manage accounts."""
    rows = editor_rows(include_inactive=request.user.is_superuser)
    return render(request, "staff/editors.html", {"rows": rows})


@admin_view
@require_http_methods(["GET", "POST"])
def editor_create_view(request: StaffRequest) -> HttpResponse:
    """A new account: the admin sets its first password and gets a one-time sign-in code.

    The account enrols its own authenticator and chooses its own password at
    its first sign-in; the admin never sees a secret that works after that.
    """
    form = EditorCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invited = editor_invite(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                is_admin=form.cleaned_data["is_admin"],
                email=form.cleaned_data["email"],
                actor=actor_of(request.user),
            )
        except PasswordChecksBusy:
            return busy_page(request)
        except AccountError:  # the same name was taken since the form checked
            form.add_error("username", _("An account with this username already exists."))
        else:
            # Rendered, not redirected: the sign-in code exists only in this
            # response (no-store, like every page).
            return render(request, "staff/editor_created.html", {"invited": invited})
    return render(request, "staff/editor_new.html", {"form": form})


@admin_view
@require_POST
def editor_deactivate_view(request: StaffRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(get_user_model(), pk=user_id, is_staff=True)
    if user.pk == request.user.pk:
        # Also keeps at least one admin: the one asking.
        messages.error(request, _("You cannot deactivate your own account."))
    elif not DeactivateForm(request.POST).is_valid():
        messages.error(request, _("Tick the box to confirm the deactivation."))
    elif not user.is_active:
        messages.info(request, _("That account was already deactivated."))
    else:
        editor_deactivate(user=user, actor=actor_of(request.user))
        messages.success(
            request,
            _("%(name)s was deactivated; their key no longer opens any tip.")
            % {"name": user.get_username()},
        )
    return redirect("staff:editors")


@admin_view
@require_POST
def editor_second_factor_reset_view(request: StaffRequest, user_id: int) -> HttpResponse:
    """The account's second factor stops working; a sign-in code to enrol a new one, shown once."""
    user = get_object_or_404(get_user_model(), pk=user_id, is_staff=True, is_active=True)
    if user.pk == request.user.pk:
        # A stolen session must not be able to move the account to another phone.
        messages.error(request, _("Ask another admin to reset your own second factor."))
    elif not SecondFactorResetForm(request.POST).is_valid():
        messages.error(request, _("Tick the box to confirm the reset."))
    else:
        reset = editor_second_factor_reset(user=user, actor=actor_of(request.user))
        # Rendered, not redirected, like a new account's: the code exists only here.
        return render(request, "staff/editors_second_factor.html", {"reset": reset})
    return redirect("staff:editors")


@staff_view
@require_POST
def editor_grant_mine_view(request: StaffRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(get_user_model(), pk=user_id, is_staff=True, is_active=True)
    newcomer = editor_key(user)
    if newcomer is None:
        raise Http404
    back = "staff:editors"
    if newcomer.pk == request.editor.recipient.pk:
        messages.info(request, _("You can already read your own tips."))
        return redirect(back)
    count = grants_copy_to_editor(
        editor=request.editor, newcomer=newcomer, actor=actor_of(request.user)
    )
    messages.success(
        request,
        ngettext(
            "%(count)d tip you can read was shared with %(name)s.",
            "%(count)d tips you can read were shared with %(name)s.",
            count,
        )
        % {"count": count, "name": user.get_username()},
    )
    return redirect(back)


urlpatterns = [
    path("editors/", editors_view, name="editors"),
    path("editors/new/", editor_create_view, name="editor_create"),
    path("editors/<int:user_id>/deactivate/", editor_deactivate_view, name="editor_deactivate"),
    path("editors/<int:user_id>/grant-my-tips/", editor_grant_mine_view, name="editor_grant_mine"),
    path(
        "editors/<int:user_id>/reset-second-factor/",
        editor_second_factor_reset_view,
        name="editor_second_factor_reset",
    ),
]
