"""Safe copies through the whole way: worker, encrypted blobs, the tip page, export, purge.

A PDF and a picture sent through the source form come out with a safe copy an
editor reads page by page (JPEGs served by a staff-only view) with the OCR
text beside them; the blobs are ciphertext at rest; the export writes
NAME.safe.pdf; the purge deletes them; a conversion that fails marks only
the safe copy and still lets the pipeline's grant go.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pikepdf
import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image

from tests.arrivals_support import blob_path
from tests.safe_copy.conftest import active_keys_in
from tests.safe_copy.hostile import text_pdf
from tests.triage.helpers import jpeg_bytes, send_tip, signed_in_client, staff_account_create
from tipline.export import tip_export
from tipline.models import Attachment, Grant, RecipientKey, Tip
from tipline.retention.purge import tips_purge_expired
from tipline.storage import blob_exists
from tipline.worker import safe_copy
from tipline.worker.sandbox import SandboxError

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def safe_copies_on(settings) -> None:
    settings.TIPLINE_SAFE_COPIES = True
    settings.TIPLINE_SAFE_COPY_DPI = 100


@pytest.fixture
def editor(open_tipline):
    return staff_account_create("ana")


def pipeline_grant_exists(tip: Tip) -> bool:
    return Grant.objects.filter(tip=tip, recipient__kind=RecipientKey.Kind.PIPELINE).exists()


def test_a_pdf_gets_a_safe_copy_an_editor_reads_page_by_page(editor, blob_storage) -> None:
    tip = send_tip(files=[("informe.pdf", text_pdf(pages=2))])
    attachment = tip.attachments.get()
    assert attachment.state == Attachment.State.DONE
    assert attachment.safe_copy == Attachment.SafeCopy.DONE
    assert not pipeline_grant_exists(tip)  # processing is over, safe copy included
    for name in (attachment.safe_pdf_blob, attachment.safe_pages_blob):
        stored = blob_path(blob_storage, name).read_bytes()
        assert b"SEGURO" not in stored and b"%PDF" not in stored and b"JFIF" not in stored

    client = signed_in_client(editor)
    page = client.get(f"/staff/tips/{tip.reference}/", headers={"accept-language": "en"})
    html = page.content.decode()
    assert "Download safe PDF" in html and "Download original" in html
    assert "may still attack the program that opens it" in html  # the original's warning
    assert f"/staff/tips/{tip.reference}/files/1/safe/2/" in html
    assert "SEGURO" in html  # the OCR text beside the page
    assert "<iframe" not in html and "<embed" not in html and "<object" not in html

    image = client.get(f"/staff/tips/{tip.reference}/files/1/safe/1/")
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert "sandbox" in image["Content-Security-Policy"]
    assert Image.open(io.BytesIO(image.content)).format == "JPEG"
    assert client.get(f"/staff/tips/{tip.reference}/files/1/safe/3/").status_code == 404

    pdf = client.get(f"/staff/tips/{tip.reference}/files/1/safe.pdf")
    body = b"".join(pdf.streaming_content)
    assert (
        pdf["Content-Type"] == "application/pdf"
        and "informe.pdf.safe.pdf" in pdf["Content-Disposition"]
    )
    assert active_keys_in(body) == set()
    with pikepdf.open(io.BytesIO(body)) as opened:
        assert len(opened.pages) == 2


def test_safe_copy_views_are_for_the_tips_readers_only(editor, open_tipline) -> None:
    tip = send_tip(files=[("informe.pdf", text_pdf())])
    stranger_url = f"/staff/tips/{tip.reference}/files/1/safe/1/"
    assert Client().get(stranger_url).status_code in (302, 403, 404)
    latecomer = signed_in_client(staff_account_create("luis"))  # no grant to this tip
    assert latecomer.get(stranger_url).status_code in (403, 404)
    assert latecomer.get(f"/staff/tips/{tip.reference}/files/1/safe.pdf").status_code in (403, 404)


def test_a_picture_gets_a_one_page_safe_copy(editor) -> None:
    tip = send_tip(files=[("foto.jpg", jpeg_bytes((300, 200)))])
    attachment = tip.attachments.get()
    assert attachment.safe_copy == Attachment.SafeCopy.DONE


def test_a_file_that_is_not_a_document_gets_none(editor) -> None:
    tip = send_tip(files=[("data.bin", b"\x00\x01nothing to render" * 50)])
    assert tip.attachments.get().safe_copy == Attachment.SafeCopy.NONE


def test_a_failed_conversion_costs_nothing_else(editor, monkeypatch) -> None:
    def crash(*args, **kwargs):
        raise SandboxError("crashed")

    monkeypatch.setattr(safe_copy, "sandbox_run", crash)
    tip = send_tip(files=[("informe.pdf", text_pdf())])
    attachment = tip.attachments.get()
    assert attachment.state == Attachment.State.DONE and blob_exists(attachment.clean_blob)
    assert attachment.safe_copy == Attachment.SafeCopy.FAILED
    assert attachment.safe_pdf_blob == attachment.safe_pages_blob == ""
    assert not pipeline_grant_exists(tip)
    html = signed_in_client(editor).get(
        f"/staff/tips/{tip.reference}/", headers={"accept-language": "en"}
    )
    assert "A safe copy could not be made." in html.content.decode()


def test_a_hang_in_the_converter_is_killed_and_marked(editor, settings, monkeypatch) -> None:
    settings.TIPLINE_SAFE_COPY_SECONDS = 2
    monkeypatch.setattr(safe_copy, "converter_command", lambda request, kind: ["/bin/sleep", "600"])
    tip = send_tip(files=[("informe.pdf", text_pdf())])
    assert tip.attachments.get().safe_copy == Attachment.SafeCopy.FAILED


def test_the_export_writes_the_safe_pdf_next_to_the_file(editor, open_tipline, tmp_path) -> None:
    tip = send_tip(files=[("informe.pdf", text_pdf())])
    folder = tip_export(
        tip=tip,
        recipient=open_tipline.recipient,
        private_key=open_tipline.private_key,
        output_dir=tmp_path,
    )
    safe = folder / "files" / "informe.pdf.safe.pdf"
    assert safe.exists() and (folder / "files" / "informe.pdf").exists()
    assert active_keys_in(safe.read_bytes()) == set()


def test_the_purge_deletes_the_safe_copy(editor) -> None:
    tip = send_tip(files=[("informe.pdf", text_pdf())])
    attachment = tip.attachments.get()
    names = [attachment.safe_pdf_blob, attachment.safe_pages_blob]
    assert all(blob_exists(name) for name in names)
    tips_purge_expired(as_of=timezone.localdate() + timedelta(days=3650))
    assert not Tip.objects.filter(pk=tip.pk).exists()
    assert not any(blob_exists(name) for name in names)


def test_the_sweep_keeps_safe_copies_a_row_names(editor, settings) -> None:
    from tipline.retention.sweep import uploads_sweep

    tip = send_tip(files=[("informe.pdf", text_pdf())])
    attachment = tip.attachments.get()
    uploads_sweep(now=timezone.now() + timedelta(days=30))
    assert blob_exists(attachment.safe_pdf_blob) and blob_exists(attachment.safe_pages_blob)


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_safe_copy_is_made_after_the_source_is_answered(
    editor, monkeypatch
) -> None:
    """Eager Celery would convert in the source's own request (minutes with OCR, a source
    thread held meanwhile): the source is answered first, the copy follows in the background."""
    import threading

    from tipline.worker import background, pipeline, tasks

    submitted = []

    def recorded(function, *args):
        submitted.append(background.run_in_background(function, *args))

    monkeypatch.setattr(pipeline, "run_in_background", recorded)
    may_convert = threading.Event()
    real_process = tasks.attachment_safe_copy_process

    def held_back(**kwargs):
        assert may_convert.wait(timeout=30)
        real_process(**kwargs)

    monkeypatch.setattr(tasks, "attachment_safe_copy_process", held_back)

    tip = send_tip(files=[("informe.pdf", text_pdf(pages=1))])  # answered while held back
    assert tip.attachments.get().safe_copy == Attachment.SafeCopy.PENDING
    assert len(submitted) == 1
    may_convert.set()
    submitted[0].result(timeout=120)
    assert tip.attachments.get().safe_copy == Attachment.SafeCopy.DONE
    assert not pipeline_grant_exists(tip)
