"""The inbox: the tips the editor can read, newest first, with filters and bulk status.

Pages are cut by key (``?before=<id>`` / ``?after=<id>``), not by number: see
``tipline.triage.inbox`` for why, and why the cursor may be the tip's id.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from tipline.accounts.selectors import staff_account_choices
from tipline.audit import actor_of
from tipline.models import Tip
from tipline.triage.access import StaffRequest, staff_view
from tipline.triage.forms import BulkStatusForm, InboxFilterForm
from tipline.triage.inbox import (
    CURSOR_MAX,
    PAGE_SIZE,
    Cursor,
    InboxFilters,
    InboxPage,
    inbox_page,
    inbox_tips,
    tip_preview,
)
from tipline.triage.tips import tips_status_set


def _filters(form: InboxFilterForm) -> InboxFilters:
    if not form.is_valid():
        return InboxFilters()
    data = {key: value for key, value in form.cleaned_data.items() if value not in ("", None)}
    if "tag" in data:
        data["tag"] = data["tag"].pk
    return InboxFilters(**data)


# Where a page starts, in the query string; "page" is what the links carried before
# the inbox paged by key (old bookmarks then open the first page).
CURSOR_PARAMETERS = ("before", "after", "page")


def _cursor_id(value: str) -> int | None:
    """A tip id from the query string, or None for anything that cannot be one."""
    if not (value.isascii() and value.isdigit()) or len(value) > len(str(CURSOR_MAX)):
        return None
    number = int(value)
    return number if 1 <= number <= CURSOR_MAX else None


def _cursor(request: HttpRequest) -> Cursor:
    """``?before=<id>`` (older tips) or ``?after=<id>`` (newer tips); an invalid value is
    ignored, which gives the first page. Both: ``before`` counts."""
    before = _cursor_id(request.GET.get("before", ""))
    if before is not None:
        return Cursor(before=before)
    return Cursor(after=_cursor_id(request.GET.get("after", "")))


def _query(request: HttpRequest, **changes: str) -> str:
    """The current filters as a query string, without the cursor and with ``changes``."""
    query = request.GET.copy()
    for key in CURSOR_PARAMETERS:
        query.pop(key, None)
    for key, value in changes.items():
        query.pop(key, None)
        if value:
            query[key] = value
    return query.urlencode()


def _page_links(request: HttpRequest, page: InboxPage) -> dict[str, str | None]:
    """Query strings for the Newer and Older links (None: no such page)."""
    newer = None
    if page.newer_is_first:
        newer = _query(request)
    elif page.newer_cursor is not None:
        newer = _query(request, after=str(page.newer_cursor))
    older = None
    if page.older_cursor is not None:
        older = _query(request, before=str(page.older_cursor))
    return {"newer_query": newer, "older_query": older}


def _number(value: int) -> str:
    return number_format(value, force_grouping=True)


@staff_view
@require_GET
def inbox(request: StaffRequest) -> HttpResponse:
    data = request.GET.copy()
    for key in CURSOR_PARAMETERS:  # a cursor alone is not a filter (the panel stays closed)
        data.pop(key, None)
    form = InboxFilterForm(data or None, staff_choices=staff_account_choices())
    filters = _filters(form)
    page = inbox_page(request.editor, filters, request.user.pk, _cursor(request), PAGE_SIZE)
    rows = [(tip, tip_preview(tip, request.editor)) for tip in page.tips]
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "position": {
            "first": _number(page.first_position),
            "last": _number(page.last_position),
            "total": _number(page.total),
        },
        **_page_links(request, page),
        "tabs": [
            (value, label, page.counts[value], _query(request, status=value))
            for value, label in Tip.Status.choices
        ],
        "all_tab_query": _query(request, status=""),
        "current_status": filters.status,
        "bulk_form": BulkStatusForm(references=[]),
    }
    return render(request, "staff/inbox.html", context)


@staff_view
@require_POST
def bulk_status(request: StaffRequest) -> HttpResponse:
    references = request.POST.getlist("tips")
    readable = set(
        inbox_tips(request.editor, InboxFilters(), request.user.pk)
        .filter(reference__in=references)
        .values_list("reference", flat=True)
    )
    # A tip the editor cannot read (any more) is left out, not a reason to refuse the rest.
    data = request.POST.copy()
    data.setlist("tips", [reference for reference in references if reference in readable])
    form = BulkStatusForm(data, references=sorted(readable))
    if not form.is_valid():
        messages.error(request, _("Choose one or more tips you can read, and a status."))
        return redirect("staff:inbox")
    tips_status_set(
        tips=Tip.objects.filter(reference__in=form.cleaned_data["tips"]),
        status=form.cleaned_data["status"],
        actor=actor_of(request.user),
    )
    count = len(form.cleaned_data["tips"])
    messages.success(
        request, ngettext("%(n)d tip updated.", "%(n)d tips updated.", count) % {"n": count}
    )
    return redirect("staff:inbox")


urlpatterns = [
    path("", inbox, name="inbox"),
    path("bulk-status/", bulk_status, name="bulk_status"),
]
