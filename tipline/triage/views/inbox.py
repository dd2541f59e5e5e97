"""The inbox: the tips the editor can read, newest first, with filters and bulk status.

Pages are cut by key (``?before=<id>`` / ``?after=<id>``), not by number: see
``tipline.triage.inbox`` for why, and why the cursor may be the tip's id.

Tips that arrived during a flood (``tipline.intake.flood``) are listed apart,
under ``?flood=1``, where one action discards them all.
"""

from __future__ import annotations

from dataclasses import replace

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from tipline.accounts.selectors import staff_account_choices
from tipline.audit import actor_of
from tipline.models import Tip
from tipline.triage.access import StaffRequest, staff_view
from tipline.triage.forms import BulkStatusForm, FloodDiscardForm, InboxFilterForm
from tipline.triage.inbox import (
    CURSOR_MAX,
    PAGE_SIZE,
    Cursor,
    InboxFilters,
    InboxPage,
    inbox_page,
    inbox_tips,
    readable_tags,
    tip_preview,
)
from tipline.triage.tips import flood_discard, tips_status_set


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
# Which group is listed: "1" for the tips that arrived during a flood. Like the
# cursor, it is not one of the filters (the filter panel stays closed).
FLOOD_PARAMETER = "flood"


def _in_flood_group(query) -> bool:
    return query.get(FLOOD_PARAMETER) == "1"


def _inbox_redirect(*, flood: bool) -> HttpResponseRedirect:
    url = reverse("staff:inbox")
    return HttpResponseRedirect(f"{url}?{FLOOD_PARAMETER}=1" if flood else url)


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


def _groups(request: HttpRequest, page: InboxPage, *, flood: bool) -> dict[str, str]:
    """The links between the two groups, with their counts under the same filters."""
    own, other = _number(page.total), _number(page.other_group_total)
    return {
        "inbox_query": _query(request, **{FLOOD_PARAMETER: ""}),
        "flood_query": _query(request, **{FLOOD_PARAMETER: "1"}),
        "inbox_count": other if flood else own,
        "flood_count": own if flood else other,
    }


@staff_view
@require_GET
def inbox(request: StaffRequest) -> HttpResponse:
    data = request.GET.copy()
    for key in (*CURSOR_PARAMETERS, FLOOD_PARAMETER):  # not filters: the panel stays closed
        data.pop(key, None)
    form = InboxFilterForm(
        data or None, staff_choices=staff_account_choices(), tags=readable_tags(request.editor)
    )
    flood = _in_flood_group(request.GET)
    filters = replace(_filters(form), flood=flood)
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
        "flood": flood,
        "groups": _groups(request, page, flood=flood),
        "flood_form": FloodDiscardForm(),
    }
    return render(request, "staff/inbox.html", context)


@staff_view
@require_POST
def bulk_status(request: StaffRequest) -> HttpResponse:
    references = request.POST.getlist("tips")
    back_to_flood = _in_flood_group(request.POST)
    readable = set(
        inbox_tips(request.editor, InboxFilters(flood=None), request.user.pk)
        .filter(reference__in=references)
        .values_list("reference", flat=True)
    )
    # A tip the editor cannot read (any more) is left out, not a reason to refuse the rest.
    data = request.POST.copy()
    data.setlist("tips", [reference for reference in references if reference in readable])
    form = BulkStatusForm(data, references=sorted(readable))
    if not form.is_valid():
        messages.error(request, _("Choose one or more tips you can read, and a status."))
        return _inbox_redirect(flood=back_to_flood)
    tips_status_set(
        tips=Tip.objects.filter(reference__in=form.cleaned_data["tips"]),
        status=form.cleaned_data["status"],
        actor=actor_of(request.user),
    )
    count = len(form.cleaned_data["tips"])
    messages.success(
        request, ngettext("%(n)d tip updated.", "%(n)d tips updated.", count) % {"n": count}
    )
    return _inbox_redirect(flood=back_to_flood)


@staff_view
@require_POST
def flood_discard_view(request: StaffRequest) -> HttpResponse:
    """Discard, in one action, every new flood tip the editor can read (and no other)."""
    if not FloodDiscardForm(request.POST).is_valid():
        messages.error(request, _("Tick the box to confirm discarding the flood."))
        return _inbox_redirect(flood=True)
    count = flood_discard(editor=request.editor, actor=actor_of(request.user))
    messages.success(
        request,
        ngettext(
            "%(n)d tip that arrived during a flood was discarded.",
            "%(n)d tips that arrived during a flood were discarded.",
            count,
        )
        % {"n": count},
    )
    return _inbox_redirect(flood=True)


urlpatterns = [
    path("", inbox, name="inbox"),
    path("bulk-status/", bulk_status, name="bulk_status"),
    path("flood/discard/", flood_discard_view, name="flood_discard"),
]
