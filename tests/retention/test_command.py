"""``manage.py purge_expired [--dry-run] [--as-of YYYY-MM-DD]``."""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.conftest import all_files_under
from tests.retention.helpers import tip_make
from tipline.audit import Action
from tipline.models import AuditEntry, Grant, RetentionPolicy, Tip

pytestmark = pytest.mark.django_db

START = date(2026, 3, 10)


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("purge_expired", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def snapshot(blob_storage: Path) -> tuple:
    return (
        list(Tip.objects.values_list("pk", "purging").order_by("pk")),
        Grant.objects.count(),
        AuditEntry.objects.count(),
        RetentionPolicy.objects.count(),
        sorted(all_files_under(blob_storage)),
    )


def test_dry_run_lists_what_would_go_and_changes_nothing(recovery_key, blob_storage: Path) -> None:
    discarded = tip_make(changed_on=START, status="discarded")
    new = tip_make(changed_on=START, status="new")
    tip_make(changed_on=START, status="discarded", hold=True)
    before = snapshot(blob_storage)
    assert before[3] == 0  # not even the default policy row exists yet

    out, _err = run("--dry-run", "--as-of", "2026-04-09")

    assert f"{discarded.tip.reference}  discarded   2026-04-09" in out
    assert new.tip.reference not in out
    assert "1 tip(s) would be deleted as of 2026-04-09 (dry run: nothing changed)." in out
    assert snapshot(blob_storage) == before


def test_dry_run_names_a_purge_already_begun(recovery_key) -> None:
    made = tip_make(changed_on=timezone.localdate(), status="new")
    Tip.objects.filter(pk=made.tip.pk).update(purging=True)
    out, _err = run("--dry-run")
    assert made.tip.reference in out and "(purge begun: finishing)" in out


def test_as_of_travels_in_time(recovery_key, blob_storage: Path) -> None:
    made = tip_make(changed_on=START, status="discarded")
    out, _err = run("--as-of", "2026-04-08")
    assert "Deleted 0 tip(s)" in out and Tip.objects.exists()
    out, _err = run("--as-of", "2026-04-09")
    assert "Deleted 1 tip(s) and 2 stored blob(s)." in out
    assert not Tip.objects.exists() and all_files_under(blob_storage) == []
    assert AuditEntry.objects.get(action=Action.TIP_DELETED).tip_reference == made.tip.reference


def test_without_as_of_it_is_today(recovery_key) -> None:
    tip_make(changed_on=timezone.localdate() - timedelta(days=30), status="discarded")
    tip_make(changed_on=timezone.localdate() - timedelta(days=29), status="discarded")
    out, err = run()
    assert "Deleted 1 tip(s)" in out and err == ""
    assert Tip.objects.count() == 1


def test_a_day_in_the_future_is_said_out_loud(recovery_key) -> None:
    later = (timezone.localdate() + timedelta(days=400)).isoformat()
    _out, err = run("--as-of", later)
    assert f"Deleting as if today were {later}" in err


def test_tips_left_pending_are_reported(recovery_key, monkeypatch) -> None:
    tip_make(changed_on=START, status="discarded")
    monkeypatch.setattr("tipline.retention.purge.delete_blob", lambda name: False)
    out, err = run("--as-of", "2026-04-09")
    assert "Deleted 0 tip(s)" in out
    assert "1 tip(s) are unreadable already" in err


def test_a_malformed_date_is_refused() -> None:
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        run("--as-of", "09/04/2026")
