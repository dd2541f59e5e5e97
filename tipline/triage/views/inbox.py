"""The inbox: the tips the editor can read, newest first, with filters and bulk status."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from tipline.audit import actor_of
from tipline.models import Tip
from tipline.triage.access import staff_view
from tipline.triage.accounts import staff_account_choices
from tipline.triage.forms import BulkStatusForm, InboxFilterForm
from tipline.triage.inbox import InboxFilters, inbox_tips, status_counts, tip_preview
from tipline.triage.tips import tips_status_set

PAGE_SIZE = 50


class CountedPaginator(Paginator):
    """A paginator told its total, which the per-status counts already give: one query less."""

    def __init__(self, object_list, per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self._known_count = count

    @property
    def count(self) -> int:
        return self._known_count


def _filters(form: InboxFilterForm) -> InboxFilters:
    if not form.is_valid():
        return InboxFilters()
    data = {key: value for key, value in form.cleaned_data.items() if value not in ("", None)}
    if "tag" in data:
        data["tag"] = data["tag"].pk
    return InboxFilters(**data)


def _query(request: HttpRequest, **changes: str) -> str:
    """The current filters as a query string, without the page and with ``changes``."""
    query = request.GET.copy()
    query.pop("page", None)
    for key, value in changes.items():
        query.pop(key, None)
        if value:
            query[key] = value
    return query.urlencode()


@staff_view
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    form = InboxFilterForm(request.GET or None, staff_choices=staff_account_choices())
    filters = _filters(form)
    tips = inbox_tips(request.editor, filters, request.user.pk)
    counts = status_counts(request.editor, filters, request.user.pk)
    total = counts[filters.status] if filters.status else sum(counts.values())
    page = CountedPaginator(tips, PAGE_SIZE, count=total).get_page(request.GET.get("page"))
    rows = [(tip, tip_preview(tip, request.editor)) for tip in page.object_list]
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "tabs": [
            (value, label, counts[value], _query(request, status=value))
            for value, label in Tip.Status.choices
        ],
        "all_tab_query": _query(request, status=""),
        "current_status": filters.status,
        "page_query": _query(request),
        "bulk_form": BulkStatusForm(references=[]),
    }
    return render(request, "staff/inbox.html", context)


@staff_view
@require_POST
def bulk_status(request: HttpRequest) -> HttpResponse:
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
