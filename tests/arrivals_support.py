"""Finding blobs on the local storage now that they wait in the spool until their batch.

Every blob is written to ``spool/<kind>-<token>`` first and copied to its name
(``<kind>/<2 hex>/<token>``) by the arrivals' batch (docs/arrivals.md). Tests
that look at the files themselves use these to find them wherever they are.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from tests.conftest import all_files_under
from tipline.retention.settle import SettleSummary, arrivals_settle
from tipline.storage import spool_name_of


def blob_path(blob_storage: Path, name: str) -> Path:
    """The file holding blob ``name`` now: its spool copy until its batch, else its own."""
    spooled = blob_storage / spool_name_of(name)
    return spooled if spooled.exists() else blob_storage / name


def blob_files(blob_storage: Path, kind: str) -> list[Path]:
    """Every file of blobs of ``kind``, each as the path its name has once its batch has run."""
    found = all_files_under(blob_storage / kind)
    prefix = f"{kind}-"
    for path in all_files_under(blob_storage / "spool"):
        if path.name.startswith(prefix):
            token = path.name[len(prefix) :]
            found.append(blob_storage / kind / token[:2] / token)
    return sorted(found)


def settle_everything() -> SettleSummary:
    """A batch that takes every blob in the spool, even those of this very second."""
    summary = arrivals_settle(cutoff=timezone.now() + timedelta(seconds=1))
    assert summary is not None and summary.refused == 0, summary
    return summary
