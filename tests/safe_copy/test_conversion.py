"""Safe copies from hostile documents: pixels only, nothing active, no connection out.

Each document names a listener on this machine's 127.0.0.1; the conversion
(in its sandbox, with no network) must never reach it, and the safe PDF
must hold none of the keys that run, call out or carry files.
"""

from __future__ import annotations

import io
import time

import pikepdf
import pytest
from PIL import Image

from tests.safe_copy.conftest import active_keys_in, convert
from tests.safe_copy.hostile import (
    VISIBLE_TEXT,
    font_bomb_pdf,
    hostile_docx,
    hostile_odt,
    hostile_pdf,
    hostile_xlsx,
    page_bomb_pdf,
    text_pdf,
)
from tipline.worker.sandbox import SandboxError


def assert_safe(converted, listener) -> None:
    assert converted.pages, "no page came out"
    assert active_keys_in(converted.pdf) == set()
    with pikepdf.open(io.BytesIO(converted.pdf)) as pdf:
        for page in pdf.pages:
            images = list(page.get_images().values())
            assert len(images) == 1 and images[0].Filter == pikepdf.Name.DCTDecode
            assert "/Annots" not in page
    time.sleep(0.3)  # a late connection attempt would land by now
    assert listener.connections == 0


def test_a_text_pdf_keeps_its_text_as_pixels_read_back_by_ocr() -> None:
    converted = convert(text_pdf(), kind="pdf")
    assert "SEGURO" in converted.text and "4711" in converted.text.replace(" ", "")
    page = converted.pages[0]
    image = Image.open(
        io.BytesIO(converted.jpegs[page["offset"] : page["offset"] + page["length"]])
    )
    assert image.format == "JPEG" and image.size == (page["width"], page["height"])
    # The text layer of the safe PDF is the OCR's, in the safe PDF: searchable.
    assert b"SEGURO" in converted.pdf


def test_past_its_budget_ocr_stops_and_the_pages_still_come() -> None:
    converted = convert(text_pdf(pages=3), kind="pdf", extra=("--ocr-budget=0",))
    assert len(converted.pages) == 3 and converted.text.strip() == ""


def test_the_original_pdf_id_and_content_do_not_reach_the_safe_pdf() -> None:
    original = text_pdf()
    with pikepdf.open(io.BytesIO(original)) as pdf:
        original_id = bytes(pdf.trailer.ID[0])
    first, second = (
        convert(original, kind="pdf", ocr=False),
        convert(original, kind="pdf", ocr=False),
    )
    with pikepdf.open(io.BytesIO(first.pdf)) as a, pikepdf.open(io.BytesIO(second.pdf)) as b:
        assert bytes(a.trailer.ID[0]) != original_id
        assert bytes(a.trailer.ID[0]) != bytes(b.trailer.ID[0])  # random, not derived
        assert "/Info" not in a.trailer and "/Metadata" not in a.Root
        assert b"/Helvetica" in first.pdf and b"Tj" not in first.pdf  # no text without OCR


def test_a_hostile_pdf_gives_a_safe_copy_and_calls_nowhere(listener) -> None:
    converted = convert(hostile_pdf(listener.url), kind="pdf")
    assert_safe(converted, listener)
    assert "SEGURO" in converted.text


def test_a_hostile_docx_gives_a_safe_copy_and_calls_nowhere(listener) -> None:
    converted = convert(hostile_docx(listener.url), kind="office", extension=".docx")
    assert_safe(converted, listener)
    assert "SEGURO" in converted.text


def test_a_hostile_xlsx_gives_a_safe_copy_and_calls_nowhere(listener) -> None:
    converted = convert(hostile_xlsx(listener.url), kind="office", extension=".xlsx")
    assert_safe(converted, listener)
    assert "SEGURO" in converted.text


def test_an_odt_linking_a_remote_file_gives_a_safe_copy_and_calls_nowhere(listener) -> None:
    converted = convert(hostile_odt(listener.url), kind="office", extension=".odt")
    assert_safe(converted, listener)
    assert "SEGURO" in converted.text


def test_a_page_count_bomb_is_refused_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(SandboxError) as refused:
        convert(page_bomb_pdf(), kind="pdf", ocr=False)
    assert refused.value.reason == "refused" and b"too_many_pages" in refused.value.stderr_tail
    assert time.monotonic() - started < 60


def test_a_font_bomb_ends_within_the_limits(settings) -> None:
    settings.TIPLINE_SAFE_COPY_MEMORY_MB = 1024
    # Either pdfium refuses the font (a page drawn without it) or the memory limit
    # ends the conversion: never the worker's memory, never a hang.
    started = time.monotonic()
    try:
        converted = convert(font_bomb_pdf(), kind="pdf", ocr=False)
    except SandboxError:
        pass
    else:
        assert active_keys_in(converted.pdf) == set() and len(converted.pages) == 1
    assert time.monotonic() - started < 120


def test_an_image_becomes_a_one_page_safe_copy() -> None:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), "navy").save(out, "PNG")
    converted = convert(out.getvalue(), kind="image", ocr=False)
    assert [(page["width"], page["height"]) for page in converted.pages] == [(400, 300)]
    assert active_keys_in(converted.pdf) == set()


def test_visible_text_constant_is_what_the_documents_show() -> None:
    assert VISIBLE_TEXT.startswith("SEGURO")
