"""The recovery key page (admins): its fingerprint, how many tips it reads, and rotation.

Rotation happens here with the admin's own unlocked key rather than the old
key file (usually lost when a rotation is needed): every tip the admin can read
is granted to the new key. The new private key, sealed under the passphrase
typed twice, is the POST's response itself, a file download: it is never
written to the server's disk or database.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from tipline.audit import actor_of
from tipline.keyring import (
    RecoveryKeyRotated,
    active_recovery_key,
    recovery_key_coverage,
    recovery_key_rotate,
)
from tipline.triage.access import StaffRequest, admin_view
from tipline.triage.forms_retention import RecoveryKeyRotateForm


def _key_file_response(rotated: RecoveryKeyRotated) -> HttpResponse:
    response = HttpResponse(rotated.armored_private_key, content_type="application/octet-stream")
    name = f"tipline-recovery-key-{rotated.recipient.fingerprint[:16]}.txt"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"  # the middleware says so too; this must never be cached
    return response


def _result_message(request: HttpRequest, rotated: RecoveryKeyRotated) -> None:
    # Shown on the next page the admin opens: the download leaves this page in place.
    text = ngettext(
        "New recovery key %(fingerprint)s: %(count)d tip was granted to it.",
        "New recovery key %(fingerprint)s: %(count)d tips were granted to it.",
        rotated.regranted_tips,
    ) % {"fingerprint": rotated.recipient.fingerprint, "count": rotated.regranted_tips}
    if rotated.tips_not_granted:
        text += " " + ngettext(
            "%(count)d tip you cannot read stays readable only by the old recovery key"
            " and its editors.",
            "%(count)d tips you cannot read stay readable only by the old recovery key"
            " and their editors.",
            rotated.tips_not_granted,
        ) % {"count": rotated.tips_not_granted}
    messages.success(request, text)


@admin_view
@require_http_methods(["GET", "POST"])
def recovery_key_view(request: StaffRequest) -> HttpResponse:
    form = RecoveryKeyRotateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        rotated = recovery_key_rotate(
            passphrase=form.cleaned_data["passphrase"],
            editor_recipient=request.editor.recipient,
            editor_private_key=request.editor.private_key,
            actor=actor_of(request.user),
        )
        _result_message(request, rotated)
        return _key_file_response(rotated)
    current = active_recovery_key()
    readable, total = recovery_key_coverage(current)
    mine, _total = recovery_key_coverage(request.editor.recipient)
    context = {"form": form, "current": current, "readable": readable, "total": total}
    context["missing"] = total - readable
    context["mine"] = mine  # what a rotation by this admin would grant to the new key
    return render(request, "staff/recovery.html", context)


urlpatterns = [
    path("recovery-key/", recovery_key_view, name="recovery_key"),
]
