"""When opening a tip is on record: once per opening, not on the page shown again after a change.

Every change on the tip page (status, note, tags, a reply...) is a form that
posts and sends the browser back to the tip page. That page, shown again, is
not a new reading: the change itself is on record, and so is the opening the
editor made it from. Recording it again wrote a "viewed" entry after every
save, which buried the real openings (docs/decisions.md, "Audit log: one
entry per opening").

The rule, kept in the session: a change on a tip marks the next showing of
that tip as the page shown again, but only if this session's last recorded
opening is that same tip. So the suppression can never hide a reading: any
session that sees a tip's content has its opening on record, and opening it
again later (from the inbox, a link, another tip) is recorded again.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect

from tipline.audit import actor_of
from tipline.models import Tip
from tipline.triage.access import StaffRequest
from tipline.triage.tips import tip_viewed_record

# The reference of the tip whose opening this session recorded last.
LAST_OPENED_KEY = "tipline_tip_opened"
# The reference of the tip the next showing of which is the page shown again after a change.
SHOWN_AGAIN_KEY = "tipline_tip_shown_again"


def tip_back_after_change(request: StaffRequest, reference: str) -> HttpResponse:
    """Back to the tip page after a change made on it: not a new opening."""
    if request.session.get(LAST_OPENED_KEY) == reference:
        request.session[SHOWN_AGAIN_KEY] = reference
    return redirect("staff:tip", reference)


def tip_opening_record(request: StaffRequest, tip: Tip) -> None:
    """Record this showing of the tip, unless it is the page shown again after a change."""
    shown_again = request.session.pop(SHOWN_AGAIN_KEY, None) == tip.reference
    if shown_again and request.session.get(LAST_OPENED_KEY) == tip.reference:
        return
    tip_viewed_record(tip=tip, actor=actor_of(request.user))
    request.session[LAST_OPENED_KEY] = tip.reference
