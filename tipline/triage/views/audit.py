"""The audit log for admins: newest first, and a check of the hash chain on request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from tipline.audit import GENESIS_HASH, Action, ChainCheck, audit_verify
from tipline.models import AuditEntry
from tipline.triage.access import StaffRequest, admin_view

PAGE_SIZE = 50

ACTION_LABELS: dict[str, Promise] = {
    Action.LOGIN: _("Logged in"),
    Action.LOGIN_FAILED: _("Failed login"),
    Action.LOGOUT: _("Logged out"),
    Action.PASSWORD_CHANGED: _("Changed password"),
    Action.TIP_VIEWED: _("Viewed tip"),
    Action.FILE_DOWNLOADED: _("Downloaded file"),
    Action.STATUS_CHANGED: _("Changed status"),
    Action.ASSIGNEE_CHANGED: _("Changed assignee"),
    Action.TAGS_CHANGED: _("Changed tags"),
    Action.NOTE_ADDED: _("Added note"),
    Action.GRANT_ADDED: _("Granted access"),
    Action.GRANT_REVOKED: _("Revoked access"),
    Action.REVOCATION_LIFTED: _("Lifted a revocation"),
    Action.EDITOR_CREATED: _("Created editor"),
    Action.EDITOR_DEACTIVATED: _("Deactivated editor"),
    Action.TIP_DELETED: _("Deleted tip"),
    Action.RETENTION_CHANGED: _("Changed retention policy"),
    Action.LEGAL_HOLD_SET: _("Set legal hold"),
    Action.LEGAL_HOLD_LIFTED: _("Lifted legal hold"),
    Action.UPLOADS_SWEPT: _("Deleted abandoned uploads"),
    Action.SECOND_FACTOR_RESET: _("Second factor reset"),
    Action.ENROLMENT_BEGUN: _("Signed in to set up a second factor"),
    Action.SECOND_FACTOR_ENROLLED: _("Set up a second factor"),
    Action.RECOVERY_KEY_ROTATED: _("Rotated recovery key"),
    Action.RECOVERY_KEY_CREATED: _("Created recovery key"),
    Action.PIPELINE_KEY_REGISTERED: _("Registered the worker's key"),
    Action.PIPELINE_KEY_ROTATED: _("Replaced the worker's key"),
    Action.FLOOD_DISCARDED: _("Discarded the tips of a flood"),
    Action.REPLY_SENT: _("Replied to the source"),
    Action.REPLY_DELETED: _("Deleted a reply to the source"),
    Action.CONVERSATION_CLOSED: _("Closed the conversation with the source"),
}

# audit_verify's reasons, in words an admin can act on (unknown ones are shown as they are).
BREAK_REASONS: dict[str, Promise] = {
    "does not follow the entry before it": _(
        "it does not follow the entry before it: an entry was removed, inserted or moved"
    ),
    "was changed after it was written": _("it was changed after it was written"),
}


@dataclass(frozen=True)
class AuditRow:
    entry: AuditEntry
    label: str | Promise
    detail: list[tuple[str, Any]]


def _row(entry: AuditEntry) -> AuditRow:
    detail = entry.detail
    # A tampered row may hold anything; show it rather than fail the page.
    pairs = sorted(detail.items()) if isinstance(detail, dict) else [("", detail)]
    return AuditRow(entry, ACTION_LABELS.get(entry.action, entry.action), pairs)


@admin_view
@require_GET
def audit_view(request: StaffRequest) -> HttpResponse:
    paginator = Paginator(AuditEntry.objects.order_by("-id"), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    check: ChainCheck | None = None
    last_hash: str | None = ""
    if request.GET.get("verify") == "1":  # walking the chain reads every row: only when asked
        # Read before the walk, so the hash shown is one the walk covered.
        last_hash = AuditEntry.objects.order_by("-id").values_list("entry_hash", flat=True).first()
        check = audit_verify()
    context = {
        "page": page,
        "rows": [_row(entry) for entry in page],
        "check": check,
        "last_hash": last_hash or GENESIS_HASH,
        "break_reason": BREAK_REASONS.get(check.reason, check.reason) if check else "",
    }
    return render(request, "staff/audit.html", context)


urlpatterns = [
    path("audit/", audit_view, name="audit"),
]
