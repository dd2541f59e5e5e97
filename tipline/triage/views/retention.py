"""The retention page (admins): the policy, and what it will delete in the next 7 and 30 days.

Nothing here decrypts anything; the services are in tipline/retention/.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from tipline.audit import actor_of
from tipline.models import RetentionPolicy
from tipline.retention.preview import retention_preview
from tipline.retention.services import retention_policy_set
from tipline.triage.access import StaffRequest, admin_view
from tipline.triage.forms_retention import MAX_DAYS, MIN_DAYS, RetentionPolicyForm

# --- The page ------------------------------------------------------------------------------


@admin_view
@require_http_methods(["GET", "POST"])
def retention_view(request: StaffRequest) -> HttpResponse:
    """GET shows the policy; a POST previews what the typed one would delete, or saves it."""
    saved = RetentionPolicy.current()
    form = RetentionPolicyForm(request.POST or None, policy=saved)
    proposed = None
    if request.method == "POST" and form.is_valid():
        if "preview" not in request.POST:
            changed = retention_policy_set(
                default_days=form.cleaned_data["default_days"],
                status_days=form.status_days(),
                actor=actor_of(request.user),
            )
            messages.success(
                request, _("Retention policy saved.") if changed else _("Nothing was changed.")
            )
            return redirect("staff:retention")
        proposed = form.proposed_policy()
    preview = retention_preview(policy=proposed or saved, reader=request.editor.recipient)
    context = {"form": form, "preview": preview, "proposed": proposed is not None}
    context |= {"min_days": MIN_DAYS, "max_days": MAX_DAYS}
    return render(request, "staff/retention.html", context)


urlpatterns = [
    path("retention/", retention_view, name="retention"),
]
