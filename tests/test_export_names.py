"""``export_tips`` cannot be confused by the names sources give their files.

Issue 13: a file the source named ``contract.pdf.report.txt`` took the place of
the real report of a damaged ``contract.pdf`` (and said "Metadata removed"),
and ``summary.txt`` called damaged and uncleaned files "cleaned copy". Now the
names the export writes itself are reserved (a source's file that would take
one is renamed), every file is created new (``O_EXCL``) in a folder the
export makes, and every file is labelled by what it really is.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, TestCase
from django.utils import translation

from tests.conftest import RECOVERY_PASSPHRASE
from tests.intake.helpers import SUBMIT_URL, submit_tip
from tests.triage.helpers import jpeg_bytes
from tipline.export import ExportError, tip_export
from tipline.intake.form_token import FIELD, form_token_issue
from tipline.models import Attachment, Tip

pytestmark = pytest.mark.django_db

DAMAGED_PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\nthis is no PDF"
UNSUPPORTED = b"\x00\x01binary blob nobody cleans\xff" * 50
# What a hostile source would put in a file named like another file's report.
FORGED_REPORT = b"cleaned copy\n\nMetadata removed. The content was not re-encoded.\n"


@pytest.fixture(autouse=True)
def english(settings):
    """The export writes in the installation's language: English here, to read the labels."""
    settings.LANGUAGE_CODE = "en"


def send(files: list[tuple[str, bytes]]) -> Tip:
    response = submit_tip(Client(), note="n", files=files)
    assert response.status_code == 200
    return Tip.objects.order_by("-id").first()


def send_without_cleaning(files: list[tuple[str, bytes]]) -> Tip:
    """A tip whose files the worker has not cleaned yet (its task never ran)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {
        "note": "n",
        "links": "",
        FIELD: form_token_issue(),
        "files": [SimpleUploadedFile(name, content) for name, content in files],
    }
    with TestCase.captureOnCommitCallbacks(execute=False):
        assert Client().post(SUBMIT_URL, data).status_code == 200
    tip = Tip.objects.order_by("-id").first()
    assert set(tip.attachments.values_list("state", flat=True)) == {Attachment.State.RECEIVED}
    return tip


def export_all(out: Path, recovery, monkeypatch) -> None:
    monkeypatch.setenv("TIPLINE_RECOVERY_PASSPHRASE", RECOVERY_PASSPHRASE)
    call_command("export_tips", "--recovery-key", str(recovery.path), "--output", str(out))


def export_one(tip: Tip, recovery, out: Path) -> Path:
    out.mkdir(exist_ok=True)
    with translation.override("en"):
        return tip_export(
            tip=tip, recipient=recovery.recipient, private_key=recovery.private_key, output_dir=out
        )


def files_in(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in (folder / "files").iterdir()}


def summary_entry(folder: Path, name: str) -> str:
    """The summary's line for ``name`` (the line that starts with it)."""
    lines = (folder / "summary.txt").read_text().splitlines()
    (line,) = [line for line in lines if line.startswith(f"{name}: ")]
    return line


# --- A source's name never takes a name the export writes ---------------------------------


@pytest.mark.parametrize("forged_first", [False, True])
def test_a_file_named_like_a_report_cannot_replace_the_real_report(
    open_tipline, tmp_path, monkeypatch, forged_first
):
    files = [("contract.pdf", DAMAGED_PDF), ("contract.pdf.report.txt", FORGED_REPORT)]
    tip = send(files[::-1] if forged_first else files)
    export_all(tmp_path / "out", open_tipline, monkeypatch)
    folder = tmp_path / "out" / tip.reference
    written = files_in(folder)
    assert set(written) == {
        "contract.pdf",
        "contract.pdf.report.txt",
        "contract.pdf.report (source file).txt",
        "contract.pdf.report (source file).txt.report.txt",
    }
    assert written["contract.pdf"] == DAMAGED_PDF
    assert written["contract.pdf.report (source file).txt"] == FORGED_REPORT
    real_report = written["contract.pdf.report.txt"].decode()
    assert real_report.startswith("ORIGINAL, DAMAGED")
    assert "Damaged PDF" in real_report
    assert "Metadata removed" not in real_report and "cleaned copy" not in real_report
    assert summary_entry(folder, "contract.pdf").startswith("contract.pdf: ORIGINAL, DAMAGED")
    renamed = summary_entry(folder, "contract.pdf.report (source file).txt")
    assert "cleaned copy" not in renamed
    assert "the source named it “contract.pdf.report.txt”" in (folder / "summary.txt").read_text()


HOSTILE_NAMES = {
    "summary.txt": "summary (source file).txt",
    "SUMMARY.TXT": "SUMMARY (source file) (2).TXT",
    "note.txt": "note (source file).txt",
    "Links.Txt": "Links (source file).Txt",
    "x.REPORT.txt": "x.REPORT (source file).txt",
    "ｓｕｍｍａｒｙ.txt": "ｓｕｍｍａｒｙ (source file) (3).txt",  # fullwidth: the same once folded
    "../x": "x",  # the parser keeps the last part of a path
    "summary.txt.": "summary (source file) (4).txt",
    "Photo.jpg": "Photo.jpg",
    "photo.JPG": "photo (2).JPG",
}


def test_hostile_names_are_renamed_and_nothing_is_lost(open_tipline, tmp_path, monkeypatch):
    contents = {name: f"from {name}".encode() for name in HOSTILE_NAMES}
    tip = send(list(contents.items()))
    export_all(tmp_path / "out", open_tipline, monkeypatch)
    folder = tmp_path / "out" / tip.reference
    assert sorted(p.name for p in folder.iterdir()) == [
        "files",
        "links.txt",
        "note.txt",
        "summary.txt",
    ]
    assert (folder / "note.txt").read_text() == "n\n"
    written = files_in(folder)
    for original, expected in HOSTILE_NAMES.items():
        assert written[expected] == contents[original], original
        assert expected + ".report.txt" in written, original
    assert len(written) == 2 * len(HOSTILE_NAMES)
    # No two names a case-insensitive file system would take for one.
    assert len({name.casefold() for name in written}) == len(written)


def test_an_existing_output_folder_is_refused(open_tipline, tmp_path, monkeypatch):
    send([("a.bin", UNSUPPORTED)])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(CommandError, match="already exists"):
        export_all(out, open_tipline, monkeypatch)
    assert list(out.iterdir()) == []


def test_a_link_planted_as_the_output_folder_is_refused(open_tipline, tmp_path, monkeypatch):
    send([("a.bin", UNSUPPORTED)])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out").symlink_to(elsewhere)
    with pytest.raises(CommandError, match="already exists"):
        export_all(tmp_path / "out", open_tipline, monkeypatch)
    assert list(elsewhere.iterdir()) == []


def test_an_existing_tip_folder_is_never_written_into(open_tipline, tmp_path):
    tip = send([("a.bin", UNSUPPORTED)])
    out = tmp_path / "out"
    planted = out / tip.reference / "files"
    planted.mkdir(parents=True)
    target = tmp_path / "victim"
    target.write_bytes(b"keep me")
    (planted / "a.bin").symlink_to(target)
    with pytest.raises(ExportError, match="already exists"):
        export_one(tip, open_tipline, out)
    assert target.read_bytes() == b"keep me"
    assert [p.name for p in planted.iterdir()] == ["a.bin"]


def test_every_export_file_is_private(open_tipline, tmp_path, monkeypatch):
    tip = send([("a.bin", UNSUPPORTED), ("b.jpg", jpeg_bytes())])
    out = tmp_path / "nested" / "out"
    export_all(out, open_tipline, monkeypatch)
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for folder, _dirs, names in os.walk(out / tip.reference):
        assert stat.S_IMODE(Path(folder).stat().st_mode) == 0o700, folder
        for name in names:
            assert stat.S_IMODE((Path(folder) / name).stat().st_mode) == 0o600, name


# --- Each file labelled by what it really is ------------------------------------------------


def test_each_file_is_labelled_by_its_real_status(open_tipline, tmp_path, monkeypatch):
    tip = send(
        [("photo.jpg", jpeg_bytes()), ("ledger.bin", UNSUPPORTED), ("broken.pdf", DAMAGED_PDF)]
    )
    states = dict(tip.attachments.values_list("position", "sanitize_status"))
    assert states == {0: "cleaned", 1: "not_sanitized", 2: "damaged"}
    export_all(tmp_path / "out", open_tipline, monkeypatch)
    folder = tmp_path / "out" / tip.reference
    assert summary_entry(folder, "photo.jpg") == "photo.jpg: cleaned copy: metadata removed"
    assert summary_entry(folder, "ledger.bin").startswith("ledger.bin: ORIGINAL, COULD NOT BE")
    assert summary_entry(folder, "broken.pdf").startswith("broken.pdf: ORIGINAL, DAMAGED")
    report = (folder / "files" / "ledger.bin.report.txt").read_text()
    assert report.startswith("ORIGINAL, COULD NOT BE CLEANED")
    assert "Not cleaned: stored unchanged." in report
    assert (folder / "files" / "photo.jpg.report.txt").read_text().startswith("cleaned copy")
    assert "cleaned copy" not in summary_entry(folder, "broken.pdf")


def test_files_not_cleaned_yet_and_failed_ones_say_so(open_tipline, tmp_path):
    tip = send_without_cleaning([("waiting.jpg", jpeg_bytes()), ("lost.bin", UNSUPPORTED)])
    lost = tip.attachments.get(position=1)
    Attachment.objects.filter(pk=lost.pk).update(state=Attachment.State.FAILED, raw_blob="")
    folder = export_one(tip, open_tipline, tmp_path / "out")
    assert summary_entry(folder, "waiting.jpg") == (
        "waiting.jpg: ORIGINAL, NOT YET CLEANED: may still hold metadata"
    )
    assert summary_entry(folder, "lost.bin") == (
        "lost.bin: not available: processing failed, nothing was kept"
    )
    assert files_in(folder)["waiting.jpg"] == jpeg_bytes()
    assert "lost.bin" not in files_in(folder)
    report = (folder / "files" / "waiting.jpg.report.txt").read_text()
    assert report.startswith("ORIGINAL, NOT YET CLEANED")


def test_the_export_speaks_the_installation_language(open_tipline, tmp_path, monkeypatch, settings):
    settings.LANGUAGE_CODE = "es"
    tip = send([("ledger.bin", UNSUPPORTED)])
    with translation.override("en"):  # whatever a previous request left active
        export_all(tmp_path / "out", open_tipline, monkeypatch)
    folder = tmp_path / "out" / tip.reference
    assert summary_entry(folder, "ledger.bin").startswith(
        "ledger.bin: ORIGINAL, NO SE PUDO LIMPIAR"
    )
    assert (folder / "files" / "ledger.bin.report.txt").read_text().startswith("ORIGINAL, NO SE")
