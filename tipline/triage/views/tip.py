"""The tip page and the changes editors make on it. Every view needs the editor's own grant."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tipline.audit import Action, audit_record
from tipline.models import RecipientKey
from tipline.triage.access import OpenTip, admin_view, staff_view, tip_open
from tipline.triage.forms import (
    EditorNoteForm,
    GrantForm,
    TipAssigneeForm,
    TipStatusForm,
    TipTagsForm,
)
from tipline.triage.grants import editor_keys_without_grant, tip_grant_add, tip_grant_revoke
from tipline.triage.tip_page import tip_page_build
from tipline.triage.tips import (
    editor_note_add,
    tag_names_parse,
    tip_assignee_set,
    tip_status_set,
    tip_tags_set,
)
from tipline.triage.views.inbox import staff_choices


def _back(opened: OpenTip) -> HttpResponse:
    return redirect("staff:tip", opened.tip.reference)


def _forms(opened: OpenTip) -> dict:
    tip = opened.tip
    return {
        "status_form": TipStatusForm(initial={"status": tip.status}),
        "assignee_form": TipAssigneeForm(
            initial={"assignee": str(tip.assignee_id or "")}, staff_choices=staff_choices()
        ),
        "tags_form": TipTagsForm(initial={"tags": ", ".join(t.name for t in tip.tags.all())}),
        "note_form": EditorNoteForm(),
        "grant_form": GrantForm(recipients=editor_keys_without_grant(tip)),
    }


@staff_view
@require_GET
def tip_detail(request: HttpRequest, reference: str) -> HttpResponse:
    opened = tip_open(request, reference)
    page = tip_page_build(opened.tip, tip_key=opened.tip_key)
    audit_record(
        actor=request.user.get_username(), action=Action.TIP_VIEWED, tip_reference=reference
    )
    context = {"tip": opened.tip, "page": page, **_forms(opened)}
    return render(request, "staff/tip.html", context)


@staff_view
@require_POST
def tip_status(request: HttpRequest, reference: str) -> HttpResponse:
    opened = tip_open(request, reference)
    form = TipStatusForm(request.POST)
    if form.is_valid():
        tip_status_set(tip=opened.tip, status=form.cleaned_data["status"], actor=request.user)
        messages.success(request, _("Status changed."))
    return _back(opened)


@staff_view
@require_POST
def tip_assignee(request: HttpRequest, reference: str) -> HttpResponse:
    opened = tip_open(request, reference)
    form = TipAssigneeForm(request.POST, staff_choices=staff_choices())
    if form.is_valid():
        user_id = form.cleaned_data["assignee"]
        assignee = get_user_model().objects.get(pk=user_id) if user_id else None
        tip_assignee_set(tip=opened.tip, assignee=assignee, actor=request.user)
        messages.success(request, _("Assignment changed."))
    return _back(opened)


@staff_view
@require_POST
def tip_tags(request: HttpRequest, reference: str) -> HttpResponse:
    opened = tip_open(request, reference)
    form = TipTagsForm(request.POST)
    if form.is_valid():
        names = tag_names_parse(form.cleaned_data["tags"])
        tip_tags_set(tip=opened.tip, names=names, actor=request.user)
        messages.success(request, _("Tags saved."))
    return _back(opened)


@staff_view
@require_POST
def tip_note(request: HttpRequest, reference: str) -> HttpResponse:
    opened = tip_open(request, reference)
    form = EditorNoteForm(request.POST)
    if form.is_valid():
        editor_note_add(
            tip=opened.tip,
            tip_key=opened.tip_key,
            body=form.cleaned_data["body"],
            author=request.user,
        )
        messages.success(request, _("Note added."))
    else:
        messages.error(request, _("The note was empty or too long; nothing was saved."))
    return _back(opened)


@staff_view
@require_POST
def tip_grant(request: HttpRequest, reference: str) -> HttpResponse:
    opened = tip_open(request, reference)
    form = GrantForm(request.POST, recipients=editor_keys_without_grant(opened.tip))
    if form.is_valid():
        recipient = RecipientKey.objects.get(pk=form.cleaned_data["recipient"])
        tip_grant_add(
            tip=opened.tip,
            tip_key=opened.tip_key,
            recipient=recipient,
            actor=request.user.get_username(),
        )
        messages.success(request, _("Access given."))
    return _back(opened)


@admin_view
@require_POST
def tip_revoke(request: HttpRequest, reference: str, recipient_id: int) -> HttpResponse:
    opened = tip_open(request, reference)
    recipient = get_object_or_404(RecipientKey, pk=recipient_id, kind=RecipientKey.Kind.EDITOR)
    if recipient.user_id == request.user.pk:
        messages.error(request, _("You cannot take away your own access."))
    elif tip_grant_revoke(tip=opened.tip, recipient=recipient, actor=request.user.get_username()):
        messages.success(request, _("Access taken away."))
    return _back(opened)


urlpatterns = [
    path("tips/<str:reference>/", tip_detail, name="tip"),
    path("tips/<str:reference>/status/", tip_status, name="tip_status"),
    path("tips/<str:reference>/assignee/", tip_assignee, name="tip_assignee"),
    path("tips/<str:reference>/tags/", tip_tags, name="tip_tags"),
    path("tips/<str:reference>/notes/", tip_note, name="tip_note"),
    path("tips/<str:reference>/access/", tip_grant, name="tip_grant"),
    path("tips/<str:reference>/access/<int:recipient_id>/revoke/", tip_revoke, name="tip_revoke"),
]
