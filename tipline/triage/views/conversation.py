"""The conversation with a tip's source, on the tip page: reply, delete a reply, close.

Every view opens the tip with the editor's own grant (``tip_open``), so an
editor who cannot read the tip cannot write to its source either.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tipline.audit import actor_of
from tipline.conversation.services import (
    MAX_MESSAGE_CHARS,
    ConversationClosed,
    Entry,
    conversation_close,
    conversation_entries,
    conversation_key_for_reader,
    conversation_mark_read,
    reply_delete,
    reply_send,
)
from tipline.models import Conversation, Tip
from tipline.triage.access import StaffRequest, staff_view, tip_open
from tipline.triage.forms import StaffForm
from tipline.triage.views.opening import tip_back_after_change


class ReplyForm(StaffForm):
    reply = forms.CharField(
        label=gettext_lazy("Reply to the source"),
        max_length=MAX_MESSAGE_CHARS,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


def conversation_context(tip: Tip, *, tip_key: bytes) -> dict:
    """What the tip page shows of the conversation; opening the page marks it read."""
    conversation = Conversation.objects.filter(tip=tip).first()
    if conversation is None:
        return {"conversation": None}
    conversation_key = conversation_key_for_reader(tip=tip, tip_key=tip_key)
    entries: list[Entry] = (
        conversation_entries(tip=tip, conversation_key=conversation_key)
        if conversation_key is not None
        else []
    )
    conversation_mark_read(tip=tip)
    return {"conversation": conversation, "entries": entries, "reply_form": ReplyForm()}


@staff_view
@require_POST
def tip_reply(request: StaffRequest, reference: str) -> HttpResponse:
    opened = tip_open(request, reference)
    form = ReplyForm(request.POST)
    if not form.is_valid() or not Conversation.objects.filter(tip=opened.tip).exists():
        messages.error(request, _("The reply was empty or too long; nothing was sent."))
        return tip_back_after_change(request, reference)
    try:
        reply_send(
            actor=actor_of(request.user),
            tip=opened.tip,
            tip_key=opened.tip_key,
            body=form.cleaned_data["reply"],
        )
    except ConversationClosed:
        messages.error(request, _("The conversation is closed; nothing was sent."))
    else:
        messages.success(request, _("Reply sent. The source reads it when they come back."))
    return tip_back_after_change(request, reference)


@staff_view
@require_POST
def tip_reply_delete(request: StaffRequest, reference: str, message_id: int) -> HttpResponse:
    opened = tip_open(request, reference)
    if reply_delete(actor=actor_of(request.user), tip=opened.tip, message_id=message_id):
        messages.success(request, _("Reply deleted."))
    return tip_back_after_change(request, reference)


@staff_view
@require_POST
def tip_conversation_close(request: StaffRequest, reference: str) -> HttpResponse:
    opened = tip_open(request, reference)
    conversation_close(actor=actor_of(request.user), tip=opened.tip)
    messages.success(request, _("Conversation closed: the source can no longer write."))
    return tip_back_after_change(request, reference)


urlpatterns = [
    path("tips/<str:reference>/reply/", tip_reply, name="tip_reply"),
    path(
        "tips/<str:reference>/reply/<int:message_id>/delete/",
        tip_reply_delete,
        name="tip_reply_delete",
    ),
    path("tips/<str:reference>/conversation/close/", tip_conversation_close, name="tip_close"),
]
