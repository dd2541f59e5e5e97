"""The audit log for admins: newest first, and a check of the hash chain on request."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from tipline.audit import GENESIS_HASH, ChainCheck, audit_verify
from tipline.models import AuditEntry
from tipline.triage.access import StaffRequest, admin_view
from tipline.triage.audit_log import audit_rows

PAGE_SIZE = 50

# audit_verify's reasons, in words an admin can act on (unknown ones are shown as they are).
BREAK_REASONS: dict[str, Promise] = {
    "does not follow the entry before it": _(
        "it does not follow the entry before it: an entry was removed, inserted or moved"
    ),
    "was changed after it was written": _("it was changed after it was written"),
}


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
        "rows": audit_rows(page, editor=request.editor),
        "check": check,
        "last_hash": last_hash or GENESIS_HASH,
        "break_reason": BREAK_REASONS.get(check.reason, check.reason) if check else "",
    }
    return render(request, "staff/audit.html", context)


urlpatterns = [
    path("audit/", audit_view, name="audit"),
]
