"""The retention page (admins): the policy, and what it will delete in the next 7 and 30 days.

Nothing here decrypts anything: the preview reads statuses, dates and grants.
The services that write the policy and the legal hold live here too, next to
their only callers (this page and the tip page).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.contrib import messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from tipline.audit import Action, audit_record
from tipline.models import Grant, RecipientKey, RetentionPolicy, Tip
from tipline.retention.policy import tip_deletion_date, tips_due_within
from tipline.triage.access import admin_view
from tipline.triage.forms_retention import MAX_DAYS, MIN_DAYS, RetentionPolicyForm

PREVIEW_DAYS = (7, 30)
# The list under the counts stops here; the counts are always complete.
PREVIEW_LIST_LIMIT = 200


# --- Services ------------------------------------------------------------------------------


def _policy_numbers(policy: RetentionPolicy) -> dict[str, int]:
    return {"default": policy.default_days, **dict(sorted(policy.status_days.items()))}


@transaction.atomic
def retention_policy_set(*, default_days: int, status_days: dict[str, int], actor: str) -> bool:
    """Save the policy; audited with the old and new numbers. False if nothing changed."""
    policy = RetentionPolicy.objects.select_for_update().get(pk=RetentionPolicy.current().pk)
    before = _policy_numbers(policy)
    policy.default_days = default_days
    policy.status_days = dict(sorted(status_days.items()))
    after = _policy_numbers(policy)
    if before == after:
        return False
    policy.save(update_fields=["default_days", "status_days"])
    audit_record(actor=actor, action=Action.RETENTION_CHANGED, detail={"from": before, "to": after})
    return True


@transaction.atomic
def tip_legal_hold_set(*, tip: Tip, hold: bool, actor: str) -> bool:
    """Set or lift the hold; audited. False if it was already so."""
    changed = Tip.objects.filter(pk=tip.pk, legal_hold=not hold).update(legal_hold=hold)
    tip.legal_hold = hold
    if changed:
        action = Action.LEGAL_HOLD_SET if hold else Action.LEGAL_HOLD_LIFTED
        audit_record(actor=actor, action=action, tip_reference=tip.reference)
    return bool(changed)


# --- The preview ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DueTip:
    tip: Tip
    readable: bool  # by the admin looking: only then is the reference shown, as a link
    deletion_date: date | None


@dataclass(frozen=True)
class RetentionPreview:
    counts: list[tuple[int, int]]  # (days, tips deleted within them)
    due: list[DueTip]  # within the longest period, soonest first
    more: int  # due tips left off the list
    on_hold: int


def _due_soonest(due: QuerySet[Tip], policy: RetentionPolicy) -> list[tuple[date, Tip]]:
    """The first ``PREVIEW_LIST_LIMIT`` tips by deletion date (those being purged first).

    Within one status the period is the same, so the order by the day the tip
    got its status is the order of deletion: one query per status, merged here.
    """
    candidates = [
        tip
        for status in Tip.Status.values
        for tip in due.filter(status=status).order_by("-purging", "status_changed_on", "id")[
            :PREVIEW_LIST_LIMIT
        ]
    ]
    dated = [(tip_deletion_date(tip, policy), tip) for tip in candidates]
    dated.sort(key=lambda row: (not row[1].purging, row[0], row[1].pk))
    return dated[:PREVIEW_LIST_LIMIT]


def retention_preview(*, policy: RetentionPolicy, reader: RecipientKey) -> RetentionPreview:
    today = timezone.localdate()
    counts = [
        (days, tips_due_within(days=days, today=today, policy=policy).count())
        for days in PREVIEW_DAYS
    ]
    due = _due_soonest(tips_due_within(days=PREVIEW_DAYS[-1], today=today, policy=policy), policy)
    readable = set(
        Grant.objects.filter(recipient=reader, tip__in=[row[1] for row in due]).values_list(
            "tip_id", flat=True
        )
    )
    rows = [DueTip(tip, tip.pk in readable, deletion) for deletion, tip in due]
    on_hold = Tip.objects.filter(legal_hold=True, purging=False).count()
    return RetentionPreview(counts, rows, counts[-1][1] - len(rows), on_hold)


# --- The page ------------------------------------------------------------------------------


@admin_view
@require_http_methods(["GET", "POST"])
def retention_view(request: HttpRequest) -> HttpResponse:
    """GET shows the policy; a POST previews what the typed one would delete, or saves it."""
    saved = RetentionPolicy.current()
    form = RetentionPolicyForm(request.POST or None, policy=saved)
    proposed = None
    if request.method == "POST" and form.is_valid():
        if "preview" not in request.POST:
            changed = retention_policy_set(
                default_days=form.cleaned_data["default_days"],
                status_days=form.status_days(),
                actor=request.user.get_username(),
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
