"""The staff inbox with 100,000 tips in PostgreSQL, next to a bare Django view.

    .venv/bin/python bench/triage.py [--tips 100000] [--requests 40]
        [--database-url postgres://postgres@127.0.0.1:5432/tipline_bench]

Creates (or reuses, if it already holds the same number of tips) a PostgreSQL
database, fills it with real tips: each with its own key wrapped by HPKE to an
editor and to the recovery key, an encrypted note, statuses, tags, assignees.
Then signs in through the real login form and, through Django's full
middleware stack in this process, times:

- the inbox's first page (50 rows, each note decrypted for its preview);
- the inbox filtered by status;
- the 1,000th page (tips 49,951 to 50,000), opened straight from its cursor
  as a bookmark would (``?before=<id>``, the id computed here beforehand), and
  the same page reached from below (``?after=<id>``, the Newer link of page
  1,001): the inbox pages by key, so a deep page should cost what page 1 does;
- a bare view (returns "ok") behind the same middleware, as the floor.

For each it prints the median and 90th percentile in ms and the number of SQL
queries, and shows that a page of a few rows costs the same queries as a page
of 50. Goal: inbox median under 150 ms, on page 1 and on page 1,000; query
count independent of the rows and of the depth.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import types
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._django import (  # noqa: E402
    bench_recipients,
    django_setup,
    ensure_postgres_database,
    grants_bulk_create,
)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/tipline_bench"
PASSWORD = "benchmark editor password 1"
BATCH = 2000


def seed(count: int) -> None:
    """``count`` tips readable by the editor "bench", unless they are already there."""
    from django.db import transaction

    from tipline.models import Grant, RecipientKey, Tag, Tip

    if Tip.objects.count() == count and RecipientKey.objects.filter(user__username="bench"):
        print(f"reusing {count} tips already in the database")
        return
    # Start from an empty installation (this is the benchmark's own database).
    from django.contrib.auth import get_user_model

    for model in (Grant, Tip, Tag, RecipientKey, get_user_model()):
        model.objects.all().delete()
    recovery, editor, colleague = bench_recipients("bench", "bench-colleague", password=PASSWORD)
    tags = [Tag.objects.create(name=f"topic {n}") for n in range(12)]
    recipients = [RecipientKey.objects.get(user=editor), recovery]
    rng = random.Random(7)
    started = time.perf_counter()
    for first in range(0, count, BATCH):
        with transaction.atomic():
            _seed_batch(min(BATCH, count - first), rng, recipients, tags, [editor, colleague, None])
        done = min(first + BATCH, count)
        print(f"\rseeded {done}/{count} tips ({time.perf_counter() - started:.0f} s)", end="")
    print()


def vacuum() -> None:
    """What autovacuum does on a live server: statistics for the planner and the
    visibility map that lets it read the grants index alone. Run on reused
    databases too (a migration may have rewritten rows since they were seeded)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def _seed_batch(size, rng, recipients, tags, assignees):
    from django.utils import timezone

    from tipline.crypto import encrypt_bytes, new_tip_key
    from tipline.models import Tip

    statuses = list(Tip.Status.values)
    tips, keys = [], []
    for _ in range(size):
        tip = Tip(
            status=rng.choice(statuses),
            received_on=timezone.now() - timedelta(days=rng.randrange(700)),
            file_count=rng.choice([0, 0, 1, 3]),
            assignee=rng.choice(assignees),
            content_sealed=b"",
        )
        key = new_tip_key()
        note = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(5, 120)))
        document = json.dumps({"note": note, "links": []}).encode()
        tip.content_sealed = encrypt_bytes(
            document, tip_key=key, object_id=tip.object_id("content")
        )
        tips.append(tip)
        keys.append(key)
    Tip.objects.bulk_create(tips)
    grants_bulk_create(tips, keys, recipients)
    through = Tip.tags.through
    through.objects.bulk_create(
        through(tip_id=tip.pk, tag_id=tag.pk) for tip in tips for tag in rng.sample(tags, 2)
    )


WORDS = (
    "camión puerto contenedor martes noche cargamento policía alcalde dinero "
    "transferencia empresa fachada bodega frontera testigo ruta aduana"
).split()


def signed_in_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    from tipline.accounts.services import BACKUP_CODE_COUNT, backup_codes_replace
    from tipline.models import BackupCode

    user = get_user_model().objects.get(username="bench")
    code = backup_codes_replace(user=user)[0]
    client = Client()
    response = client.post(
        "/staff/login/", {"username": "bench", "password": PASSWORD, "code": code}
    )
    assert response.status_code == 302, "login failed"
    assert BackupCode.objects.filter(device__user=user).count() == BACKUP_CODE_COUNT - 1
    return client


def measure(client, url: str, requests: int) -> tuple[float, float, int, int]:
    """(median ms, p90 ms, queries of one request, status) over ``requests`` GETs."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm caches, connections, templates
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    times.sort()
    return (
        statistics.median(times),
        times[int(len(times) * 0.9) - 1],
        len(queries),
        response.status_code,
    )


def bare_view_urlconf() -> str:
    """The project's URLs plus /bench/bare/, a view that does nothing behind the same middleware."""
    from django.http import HttpResponse
    from django.urls import path

    from config.urls import urlpatterns

    module = types.ModuleType("bench_triage_urls")
    module.urlpatterns = [path("bench/bare/", lambda request: HttpResponse("ok")), *urlpatterns]
    sys.modules[module.__name__] = module
    return module.__name__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tips", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()
    ensure_postgres_database(args.database_url)
    django_setup(Path(tempfile.mkdtemp(prefix="tipline-bench-triage-")), args.database_url)
    from django.core.management import call_command
    from django.test.utils import override_settings

    call_command("migrate", verbosity=0)
    seed(args.tips)
    vacuum()
    from tipline.models import Tip

    # Django's test client over plain HTTP, without setup_test_environment():
    # that would instrument template rendering and slow every page down.
    with override_settings(
        ROOT_URLCONF=bare_view_urlconf(), SESSION_COOKIE_SECURE=False, ALLOWED_HOSTS=["testserver"]
    ):
        client = signed_in_client()
        from django.db import connection

        connection.force_debug_cursor = False
        deep, before, after = _deep_page_cursors(DEEP_PAGE)
        deep_before = f"inbox, page {deep} (?before=)"
        rows = [
            ("bare view (same middleware)", "/bench/bare/"),
            ("inbox, first page (50 previews)", "/staff/"),
            ("inbox, status=verified", "/staff/?status=verified"),
            (deep_before, f"/staff/?before={before}"),
            (f"inbox, page {deep} (?after=)", f"/staff/?after={after}"),
            ("inbox, one tag (50 rows)", _few_rows_query().replace("received_", "x_")),
            ("inbox, a few rows (tag + day)", _few_rows_query()),
        ]
        _check_deep_page(client, deep, before, after)
        print(f"{Tip.objects.count()} tips in PostgreSQL; {args.requests} requests each\n")
        print(f"{'page':<34} {'median ms':>10} {'p90 ms':>8} {'queries':>8}")
        results = {}
        for label, url in rows:
            median, p90, queries, status = measure(client, url, args.requests)
            assert status == 200, f"{url} answered {status}"
            results[label] = (median, queries)
            print(f"{label:<34} {median:>10.1f} {p90:>8.1f} {queries:>8}")
    inbox_median = results["inbox, first page (50 previews)"][0]
    deep_median = results[deep_before][0]
    met = inbox_median < 150 and deep_median < 150
    print(
        f"\ninbox median page 1 {inbox_median:.1f} ms, page {deep} {deep_median:.1f} ms "
        f"(goal < 150 ms): {'met' if met else 'NOT met'}; "
        f"queries page 1 {results['inbox, first page (50 previews)'][1]}, "
        f"page {deep} {results[deep_before][1]}; "
        f"queries with the same filters: 50 rows {results['inbox, one tag (50 rows)'][1]}, "
        f"a few rows {results['inbox, a few rows (tag + day)'][1]}"
    )


DEEP_PAGE = 1000
PAGE_SIZE = 50


def _deep_page_cursors(page: int) -> tuple[int, int, int]:
    """(page, before, after): the ids that open the inbox's ``page``-th page directly.

    ``before`` is the id of the last tip of the page above it (the Older link of
    page ``page - 1``), ``after`` the id of the first tip of the page below (the
    Newer link of page ``page + 1``). Computed once here, outside the timings,
    as a bookmark holds them. Fewer tips than that: the last full page.
    """
    from tipline.models import Tip

    ids = Tip.objects.filter(grants__recipient__user__username="bench").order_by("-id")
    page = max(1, min(page, (ids.count() - 1) // PAGE_SIZE))
    before = ids.values_list("id", flat=True)[(page - 1) * PAGE_SIZE - 1] if page > 1 else 2**62
    after = ids.values_list("id", flat=True)[page * PAGE_SIZE]
    return page, before, after


def _check_deep_page(client, page: int, before: int, after: int) -> None:
    """Both cursors open the same page, at the right place in the list."""
    import re

    first = (page - 1) * PAGE_SIZE + 1
    shown = []
    for url in (f"/staff/?before={before}", f"/staff/?after={after}"):
        response = client.get(url)
        assert response.status_code == 200, f"{url} answered {response.status_code}"
        html = response.content.decode()
        expected = f"{first:,}–{first + PAGE_SIZE - 1:,}"  # grouped as the language does
        assert any(expected.replace(",", sep) in html for sep in (",", "\xa0")), url
        shown.append(re.findall(r'href="/staff/tips/([A-Z0-9-]+)/"', html))
    assert shown[0] == shown[1] and len(shown[0]) == PAGE_SIZE, "the two cursors disagree"


def _few_rows_query() -> str:
    """A filter that matches exactly a handful of tips, to compare query counts."""
    from tipline.models import Tip

    tip = Tip.objects.filter(tags__isnull=False).order_by("id").first()
    tag = tip.tags.first()
    day = tip.received_on.date().isoformat()
    return f"/staff/?tag={tag.pk}&received_from={day}&received_to={day}&status={tip.status}"


if __name__ == "__main__":
    main()
