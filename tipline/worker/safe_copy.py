"""Safe copies: a document's pages as pixels, rebuilt into a new PDF that holds only images.

After a file is cleaned, the worker feeds the clean copy (decrypted, through a
pipe) to ``convert_in_sandbox.py`` running in the sandbox (sandbox.py). What
comes back is treated as hostile data: raw RGB pixels of a checked size, and
OCR words as plain text. From those alone the worker encodes each page as a
JPEG and writes, encrypted (tipline/sealed.py):

- the pages blob: every page's JPEG, one after the other (the tip page shows them);
- the safe PDF blob: those JPEGs as the only content, with the OCR words as an
  invisible text layer (safe_pdf.py);
- the page index and the OCR text, sealed in ``Attachment.safe_text_sealed``.

A crash, a hang, a bomb or anything over a limit marks the safe copy
``failed`` ("could not be made") and nothing else: the file, its clean copy
and the tip are untouched. The pipeline's grant is dropped only when the
tip's safe copies are over too (pipeline.tip_pipeline_finish).
"""

from __future__ import annotations

import csv
import io
import logging
import struct
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from PIL import Image

from tipline.crypto import DecryptionError
from tipline.models import Attachment
from tipline.pipeline_key import pipeline_tip_key_open
from tipline.sanitize import Report, SanitizeStatus
from tipline.sealed import (
    BlobWriter,
    Part,
    SafePage,
    attachment_blob_open,
    attachment_blob_write,
    attachment_safe_text_seal,
)
from tipline.storage import blob_forget, new_blob_name
from tipline.worker.safe_pdf import SafePdfWriter, Word
from tipline.worker.sandbox import (
    SandboxError,
    SandboxKind,
    SandboxLimits,
    SandboxOutput,
    python_in_sandbox,
    sandbox_kind_detect,
    sandbox_run,
    script_path_in_sandbox,
)

logger = logging.getLogger(__name__)

CONVERTER = Path(__file__).with_name("convert_in_sandbox.py")
MIB = 1024 * 1024
JPEG_QUALITY = 80
MAX_TSV_BYTES = 4 * MIB
# A page's pixels: A3 at 300 dpi is about 17.4 million; past this a page is
# rendered with fewer dots per inch (in the sandbox) rather than refused.
MAX_PAGE_PIXELS = 40_000_000
OCR_LANGUAGES = "spa+eng"
CLEANED = frozenset({SanitizeStatus.CLEANED, SanitizeStatus.CLEANED_REENCODED})
# Legacy office files (DOC, XLS, PPT) are not cleaned (stored as sent), but
# LibreOffice reads them: their safe copy is the one way to read them safely.
LEGACY_OFFICE = "application/x-ole-storage"
# Images Pillow reads in the sandbox; others (SVG) go through LibreOffice.
OFFICE_IMAGES = {"image/svg+xml": ".svg"}


def safe_copy_kind(report: Report) -> str | None:
    """How the converter takes this file ("pdf", "office", "image"), or None: no safe copy."""
    if report.status in CLEANED:
        if report.mime == "application/pdf":
            return "pdf"
        if report.mime in OFFICE_IMAGES or report.family == "office":
            return "office"
        if report.family == "image":
            return "image"
    if report.status == SanitizeStatus.NOT_SANITIZED and report.mime == LEGACY_OFFICE:
        return "office"
    return None


def sandbox_limits() -> SandboxLimits:
    return SandboxLimits(
        memory_bytes=settings.TIPLINE_SAFE_COPY_MEMORY_MB * MIB,
        cpu_seconds=settings.TIPLINE_SAFE_COPY_CPU_SECONDS,
        wall_seconds=settings.TIPLINE_SAFE_COPY_SECONDS,
        output_bytes=settings.TIPLINE_SAFE_COPY_MAX_OUTPUT_MB * MIB,
        scratch_bytes=settings.TIPLINE_SAFE_COPY_SCRATCH_MB * MIB,
    )


def sandbox_kind() -> SandboxKind:
    return sandbox_kind_detect(settings.TIPLINE_SANDBOX)


# --- The service ------------------------------------------------------------------------------


def attachment_safe_copy_make(*, attachment_id: int) -> None:
    """Make the safe copy of a file whose safe copy is pending; any failure marks it failed."""
    attachment = Attachment.objects.select_related("tip").filter(pk=attachment_id).first()
    if attachment is None or attachment.safe_copy != Attachment.SafeCopy.PENDING:
        return  # deleted meanwhile, or already made (a redelivered task)
    tip_key = pipeline_tip_key_open(tip=attachment.tip)
    _record_blob_names(attachment)
    try:
        pages = _convert(attachment, tip_key)
    except (SandboxError, DecryptionError, OSError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, SandboxError) else type(exc).__name__
        # A code only: never the file's name or anything the converter printed.
        logger.warning("a safe copy could not be made (%s)", reason)
        attachment_safe_copy_give_up(attachment)
        return
    _mark_done(attachment, pages=pages, tip_key=tip_key)


def _record_blob_names(attachment: Attachment) -> None:
    # Recorded before writing, as for the clean blob: a retry rewrites the same blobs.
    if not attachment.safe_pdf_blob:
        attachment.safe_pdf_blob = new_blob_name(Part.SAFE_PDF)
    if not attachment.safe_pages_blob:
        attachment.safe_pages_blob = new_blob_name(Part.SAFE_PAGES)
    attachment.save(update_fields=["safe_pdf_blob", "safe_pages_blob"])


@dataclass(frozen=True)
class ConversionRequest:
    kind: str
    extension: str
    dpi: int
    max_pages: int
    ocr: bool


def conversion_request(attachment: Attachment) -> ConversionRequest:
    mime = attachment.mime_type
    kind = "image" if mime.startswith("image/") and mime not in OFFICE_IMAGES else "office"
    if mime == "application/pdf":
        kind = "pdf"
    return ConversionRequest(
        kind=kind,
        extension=OFFICE_IMAGES.get(mime, _office_extension(mime)),
        dpi=settings.TIPLINE_SAFE_COPY_DPI,
        max_pages=settings.TIPLINE_SAFE_COPY_MAX_PAGES,
        ocr=settings.TIPLINE_SAFE_COPY_OCR,
    )


def _office_extension(mime: str) -> str:
    # LibreOffice detects the type from the content; the extension only helps it
    # choose among close filters. Ours, from the sniffed type, never the source's.
    return {
        "application/rtf": ".rtf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
        "application/vnd.oasis.opendocument.text": ".odt",
        "application/vnd.oasis.opendocument.spreadsheet": ".ods",
        "application/vnd.oasis.opendocument.presentation": ".odp",
        "application/vnd.oasis.opendocument.graphics": ".odg",
    }.get(mime, "")


def converter_command(request: ConversionRequest, kind: SandboxKind) -> list[str]:
    return [
        python_in_sandbox(),
        "-I",
        script_path_in_sandbox(CONVERTER, kind),
        f"--kind={request.kind}",
        f"--extension={request.extension}",
        f"--dpi={request.dpi}",
        f"--max-pages={request.max_pages}",
        f"--max-pixels={MAX_PAGE_PIXELS}",
        f"--ocr={OCR_LANGUAGES if request.ocr else 'none'}",
        # Half the wall clock at most: the pages must still come out in time.
        f"--ocr-budget={settings.TIPLINE_SAFE_COPY_SECONDS / 2}",
    ]


def _convert(attachment: Attachment, tip_key: bytes) -> list[SafePage]:
    request = conversion_request(attachment)
    kind = sandbox_kind()
    with (
        attachment_blob_open(attachment, Part.CLEAN, tip_key=tip_key) as clean,
        attachment_blob_write(attachment, Part.SAFE_PAGES, tip_key=tip_key) as pages_blob,
        attachment_blob_write(attachment, Part.SAFE_PDF, tip_key=tip_key) as pdf_blob,
        sandbox_run(
            converter_command(request, kind),
            source=clean,
            limits=sandbox_limits(),
            kind=kind,
            script=CONVERTER,
        ) as output,
    ):
        return safe_copy_write(output, pages_blob, pdf_blob, request=request)


# --- From the converter's output to the blobs -----------------------------------------------


def safe_copy_write(
    output: SandboxOutput,
    pages_blob: BlobWriter,
    pdf_blob: BlobWriter,
    *,
    request: ConversionRequest,
) -> list[SafePage]:
    """Read the converter's records, page by page, into the two blobs; the page index."""
    pdf = SafePdfWriter(pdf_blob)
    pages: list[SafePage] = []
    offset = 0
    while (tag := output.read_exactly(1)) == b"P":
        if len(pages) >= request.max_pages:
            raise SandboxError("too_many_pages")
        width, height, tsv_length = struct.unpack(">III", output.read_exactly(12))
        if not (0 < width and 0 < height and width * height <= MAX_PAGE_PIXELS):
            raise SandboxError("bad_page_size")
        if tsv_length > MAX_TSV_BYTES:
            raise SandboxError("bad_text_size")
        jpeg = _jpeg_of_pixels(output.read_exactly(width * height * 3), width, height)
        words = ocr_words(output.read_exactly(tsv_length))
        pdf.page_add(jpeg=jpeg, width=width, height=height, dpi=request.dpi, words=words)
        pages_blob.write(jpeg)
        page = SafePage(
            offset=offset, length=len(jpeg), width=width, height=height, text=ocr_text(words)
        )
        pages.append(page)
        offset += len(jpeg)
    if tag != b"E" or struct.unpack(">I", output.read_exactly(4))[0] != len(pages) or not pages:
        raise SandboxError("bad_output")
    pdf.close()
    return pages


def _jpeg_of_pixels(pixels: bytes, width: int, height: int) -> bytes:
    # Raw pixels of a size we checked: nothing here parses anything the document made.
    image = Image.frombytes("RGB", (width, height), pixels)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def ocr_words(tsv: bytes) -> list[Word]:
    """The words of tesseract's TSV (level 5 rows), read strictly: a bad row is skipped."""
    words: list[Word] = []
    text = tsv.decode("utf-8", "replace")
    for row in csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE):
        if len(row) != 12 or row[0] != "5" or not row[11].strip():
            continue
        try:
            # tesseract's block, paragraph and line numbers, then the word's box.
            line = (int(row[2]), int(row[3]), int(row[4]))
            left, top, width, height = (int(value) for value in row[6:10])
        except ValueError:
            continue
        if min(left, top, width, height) < 0:
            continue
        words.append(Word(row[11].strip()[:200], left, top, width, height, line))
    return words


def ocr_text(words: list[Word]) -> str:
    """The page's words, a line of text per line tesseract found."""
    lines: list[list[str]] = []
    previous = None
    for word in words:
        if word.line != previous:
            lines.append([])
            previous = word.line
        lines[-1].append(word.text)
    return "\n".join(" ".join(line) for line in lines)


# --- Outcome ----------------------------------------------------------------------------------


@transaction.atomic
def _mark_done(attachment: Attachment, *, pages: list[SafePage], tip_key: bytes) -> None:
    attachment_safe_text_seal(attachment, pages, tip_key=tip_key)
    attachment.safe_copy = Attachment.SafeCopy.DONE
    attachment.save(update_fields=["safe_copy", "safe_text_sealed"])


def attachment_safe_copy_give_up(attachment: Attachment) -> None:
    """Mark the safe copy "could not be made" and let go of its blobs; nothing else changes."""
    # Forgotten, not deleted now: like a failed clean copy (tipline/storage blob_forget).
    for field in ("safe_pdf_blob", "safe_pages_blob"):
        if blob_forget(getattr(attachment, field)):
            setattr(attachment, field, "")
    attachment.safe_copy = Attachment.SafeCopy.FAILED
    attachment.safe_text_sealed = None
    attachment.save(
        update_fields=["safe_copy", "safe_pdf_blob", "safe_pages_blob", "safe_text_sealed"]
    )
