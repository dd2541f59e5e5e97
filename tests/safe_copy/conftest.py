"""Helpers for the safe copy tests: a conversion run as the worker runs it, into memory."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pikepdf
import pytest

from tests.safe_copy.hostile import Listener
from tipline.sealed import SafePage
from tipline.worker.safe_copy import (
    CONVERTER,
    ConversionRequest,
    converter_command,
    safe_copy_write,
    sandbox_kind,
    sandbox_limits,
)
from tipline.worker.sandbox import SandboxKind, sandbox_run

# What no safe PDF may hold (issue 15): anything that runs, calls out or carries a file.
ACTIVE_KEYS = (
    "/JS",
    "/JavaScript",
    "/AA",
    "/OpenAction",
    "/Launch",
    "/URI",
    "/EmbeddedFiles",
    "/RichMedia",
    "/XFA",
    "/AcroForm",
)


@pytest.fixture(autouse=True)
def safe_copies_made_at_once(monkeypatch) -> None:
    """Without a broker safe copies are made in a background thread after the request
    (tipline/worker/background.py); here at once, so a test reads the outcome next.
    test_safe_copies.py checks the background thread itself."""
    from tipline.worker import pipeline

    def at_once(function, *args):
        function(*args)

    monkeypatch.setattr(pipeline, "run_in_background", at_once)


@pytest.fixture(autouse=True)
def needs_a_sandbox() -> None:
    if sandbox_kind() == SandboxKind.NONE:
        pytest.fail("no sandbox on this machine: install bubblewrap (see .ci/run)")


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


class Converted:
    def __init__(self, pages: list[SafePage], jpegs: bytes, pdf: bytes) -> None:
        self.pages = pages
        self.jpegs = jpegs
        self.pdf = pdf

    @property
    def text(self) -> str:
        return "\n".join(page["text"] for page in self.pages)


def convert(
    data: bytes, *, kind: str, extension: str = "", ocr: bool = True, extra: tuple[str, ...] = ()
) -> Converted:
    """The document through the sandboxed converter, as the worker runs it (blobs in memory)."""
    request = ConversionRequest(kind=kind, extension=extension, dpi=100, max_pages=50, ocr=ocr)
    pages_sink, pdf_sink = io.BytesIO(), io.BytesIO()
    sandbox = sandbox_kind()
    with sandbox_run(
        [*converter_command(request, sandbox), *extra],
        source=io.BytesIO(data),
        limits=sandbox_limits(),
        kind=sandbox,
        script=CONVERTER,
    ) as output:
        pages = safe_copy_write(output, pages_sink, pdf_sink, request=request)  # type: ignore[arg-type]
    return Converted(pages, pages_sink.getvalue(), pdf_sink.getvalue())


def active_keys_in(pdf_bytes: bytes) -> set[str]:
    """Every active key anywhere in the PDF, read by pikepdf and in the raw bytes."""
    found = {key for key in ACTIVE_KEYS if key.encode() in pdf_bytes}
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                found |= {key for key in ACTIVE_KEYS if key in obj}
    return found
