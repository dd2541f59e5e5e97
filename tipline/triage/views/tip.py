"""The tip page and the changes editors make on it. Every view needs the editor's own grant."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tipline.accounts.selectors import staff_account_choices
from tipline.audit import actor_of
from tipline.models import RecipientKey
from tipline.retention.services import tip_legal_hold_set
from tipline.triage.access import OpenTip, StaffRequest, admin_view, staff_view, tip_open
from tipline.triage.forms import (
    EditorNoteForm,
    GrantForm,
    TipAssigneeForm,
    TipStatusForm,
    TipTagsForm,
)
from tipline.triage.forms_retention import LegalHoldForm
from tipline.triage.grants import (
    AccessRevoked,
    editor_keys_without_grant,
    tip_grant_add,
    tip_grant_revoke,
    tip_revocation_lift,
    tip_revocations,
)
from tipline.triage.tip_page import tip_page_build, tip_recoverable, tip_retention
from tipline.triage.tips import (
    editor_note_add,
    tag_names_parse,
    tip_assignee_set,
    tip_status_set,
    tip_tags_set,
)
from tipline.triage.views.conversation import conversation_context
from tipline.triage.views.opening import tip_back_after_change, tip_opening_record


def _back(request: StaffRequest, opened: OpenTip) -> HttpResponse:
    return tip_back_after_change(request, opened.tip.reference)


def _forms(opened: OpenTip) -> dict:
    tip = opened.tip
    return {
        "status_form": TipStatusForm(initial={"status": tip.status}),
        "assignee_form": TipAssigneeForm(
            initial={"assignee": str(tip.assignee_id or "")}, staff_choices=staff_account_choices()
        ),
        "tags_form": TipTagsForm(initial={"tags": ", ".join(t.name for t in tip.tags.all())}),
        "note_form": EditorNoteForm(),
        "grant_form": GrantForm(recipients=editor_keys_without_grant(tip)),
    }


@staff_view
@require_GET
def tip_detail(request: StaffRequest, reference: str) -> HttpResponse:
    opened = tip_open(request, reference)
    page = tip_page_build(opened.tip, tip_key=opened.tip_key)
    tip_opening_record(request, opened.tip)
    context = {
        "tip": opened.tip,
        "page": page,
        "retention": tip_retention(opened.tip),
        "recoverable": tip_recoverable(opened.tip),
        # Admins alone see (and lift) the revocations: nobody else can act on them.
        "revocations": tip_revocations(opened.tip) if request.user.is_superuser else [],
        **_forms(opened),
        **conversation_context(opened.tip, tip_key=opened.tip_key),
    }
    return render(request, "staff/tip.html", context)


def _change(
    request: StaffRequest,
    reference: str,
    make_form: Callable[[OpenTip], forms.Form],
    apply: Callable[[OpenTip, dict], None],
    done: str,
    refused: str = "",
) -> HttpResponse:
    """What every change on the tip page does: open the tip, check the form, apply, go back."""
    opened = tip_open(request, reference)
    form = make_form(opened)
    if form.is_valid():
        apply(opened, form.cleaned_data)
        messages.success(request, done)
    elif refused:
        messages.error(request, refused)
    return _back(request, opened)


@staff_view
@require_POST
def tip_status(request: StaffRequest, reference: str) -> HttpResponse:
    def apply(opened: OpenTip, data: dict) -> None:
        tip_status_set(tip=opened.tip, status=data["status"], actor=actor_of(request.user))

    return _change(
        request, reference, lambda _: TipStatusForm(request.POST), apply, _("Status changed.")
    )


@staff_view
@require_POST
def tip_assignee(request: StaffRequest, reference: str) -> HttpResponse:
    def apply(opened: OpenTip, data: dict) -> None:
        user_id = data["assignee"]
        assignee = get_user_model().objects.get(pk=user_id) if user_id else None
        tip_assignee_set(tip=opened.tip, assignee=assignee, actor=actor_of(request.user))

    def make_form(_: OpenTip) -> TipAssigneeForm:
        return TipAssigneeForm(request.POST, staff_choices=staff_account_choices())

    return _change(request, reference, make_form, apply, _("Assignment changed."))


@staff_view
@require_POST
def tip_tags(request: StaffRequest, reference: str) -> HttpResponse:
    def apply(opened: OpenTip, data: dict) -> None:
        tip_tags_set(
            tip=opened.tip, names=tag_names_parse(data["tags"]), actor=actor_of(request.user)
        )

    return _change(request, reference, lambda _: TipTagsForm(request.POST), apply, _("Tags saved."))


@staff_view
@require_POST
def tip_note(request: StaffRequest, reference: str) -> HttpResponse:
    def apply(opened: OpenTip, data: dict) -> None:
        editor_note_add(
            tip=opened.tip, tip_key=opened.tip_key, body=data["body"], author=request.user
        )

    return _change(
        request,
        reference,
        lambda _: EditorNoteForm(request.POST),
        apply,
        _("Note added."),
        refused=_("The note was empty or too long; nothing was saved."),
    )


@staff_view
@require_POST
def tip_grant(request: StaffRequest, reference: str) -> HttpResponse:
    opened = tip_open(request, reference)
    form = GrantForm(request.POST, recipients=editor_keys_without_grant(opened.tip))
    if not form.is_valid():
        # Not offered: already a reader, not an active editor, or taken away by an admin.
        messages.error(request, _("That account cannot be given access to this tip."))
        return _back(request, opened)
    recipient = RecipientKey.objects.get(pk=form.cleaned_data["recipient"])
    try:
        tip_grant_add(
            tip=opened.tip,
            tip_key=opened.tip_key,
            recipient=recipient,
            actor=actor_of(request.user),
        )
    except AccessRevoked:  # revoked since the form was checked
        messages.error(request, _("That account cannot be given access to this tip."))
    else:
        messages.success(request, _("Access given."))
    return _back(request, opened)


@admin_view
@require_POST
def tip_revoke(request: StaffRequest, reference: str, recipient_id: int) -> HttpResponse:
    """Take an editor's access away: nobody can give it back until an admin lifts it."""
    opened = tip_open(request, reference)
    recipient = get_object_or_404(RecipientKey, pk=recipient_id, kind=RecipientKey.Kind.EDITOR)
    if recipient.user_id == request.user.pk:
        messages.error(request, _("You cannot take away your own access."))
    elif tip_grant_revoke(tip=opened.tip, recipient=recipient, actor=actor_of(request.user)):
        messages.success(
            request, _("Access taken away. Nobody can give it back until an admin lifts this.")
        )
    return _back(request, opened)


@admin_view
@require_POST
def tip_revocation_lift_view(request: StaffRequest, reference: str, user_id: int) -> HttpResponse:
    """Let an account be given the tip again (admins, on a tip they can read)."""
    opened = tip_open(request, reference)
    user = get_object_or_404(get_user_model(), pk=user_id)
    if tip_revocation_lift(tip=opened.tip, user=user, admin=request.user):
        messages.success(
            request,
            _("%(name)s may be given access to this tip again; nobody has given it yet.")
            % {"name": user.get_username()},
        )
    return _back(request, opened)


@admin_view
@require_POST
def tip_legal_hold(request: StaffRequest, reference: str) -> HttpResponse:
    """Set or lift the legal hold (admins, and only on a tip they can read, like every tip URL)."""

    def apply(opened: OpenTip, data: dict) -> None:
        hold = data["hold"] == "set"
        tip_legal_hold_set(tip=opened.tip, hold=hold, actor=actor_of(request.user))

    done = (
        _("Legal hold set: this tip is kept until the hold is lifted.")
        if request.POST.get("hold") == "set"
        else _("Legal hold lifted: the retention policy applies again.")
    )
    return _change(request, reference, lambda _: LegalHoldForm(request.POST), apply, done)


urlpatterns = [
    path("tips/<str:reference>/", tip_detail, name="tip"),
    path("tips/<str:reference>/status/", tip_status, name="tip_status"),
    path("tips/<str:reference>/assignee/", tip_assignee, name="tip_assignee"),
    path("tips/<str:reference>/tags/", tip_tags, name="tip_tags"),
    path("tips/<str:reference>/notes/", tip_note, name="tip_note"),
    path("tips/<str:reference>/access/", tip_grant, name="tip_grant"),
    path("tips/<str:reference>/access/<int:recipient_id>/revoke/", tip_revoke, name="tip_revoke"),
    path(
        "tips/<str:reference>/access/revocations/<int:user_id>/lift/",
        tip_revocation_lift_view,
        name="tip_revocation_lift",
    ),
    path("tips/<str:reference>/legal-hold/", tip_legal_hold, name="tip_legal_hold"),
]
