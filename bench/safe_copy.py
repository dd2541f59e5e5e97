"""Benchmark: safe copies (sandboxed conversion to page images) next to plain ``pdftoppm``.

    .venv/bin/python bench/safe_copy.py [--dpi 150] [--runs 1]

Generates (never commits) a 50-page PDF and a 20-page DOCX with text on every
page. In the same run, for each: the safe copy as the worker makes it (in the
sandbox: LibreOffice for the DOCX, pdfium, the worker's JPEG and PDF
encoding; with and without OCR), and the reference, unsandboxed
``pdftoppm -r DPI -jpeg`` (after ``soffice --convert-to pdf`` for the DOCX).
Prints pages per second for each, and the peak memory (resident set) of a
conversion's processes and of the worker's side. Needs bubblewrap (or unshare),
LibreOffice, tesseract and poppler-utils (see .ci/run).
"""

from __future__ import annotations

import argparse
import io
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._django import django_setup  # noqa: E402

django_setup(Path(tempfile.mkdtemp(prefix="tipline-bench-")))

import pikepdf  # noqa: E402

from tipline.worker.safe_copy import (  # noqa: E402
    CONVERTER,
    ConversionRequest,
    converter_command,
    safe_copy_write,
    sandbox_kind,
    sandbox_limits,
)
from tipline.worker.sandbox import sandbox_run  # noqa: E402

LINE = "Informe {page}: el cargamento llega el martes al puerto, linea {line}."


class NullSink:
    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)


def pdf_of(pages: int) -> bytes:
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    for page in range(pages):
        new = pdf.add_blank_page(page_size=(595, 842))
        new.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        lines = b"".join(
            b"(" + LINE.format(page=page + 1, line=line).encode() + b") Tj 0 -18 Td "
            for line in range(40)
        )
        new.Contents = pdf.make_stream(b"BT /F1 11 Tf 50 790 Td " + lines + b"ET")
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def docx_of(pages: int) -> bytes:
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    paragraphs = []
    for page in range(pages):
        for line in range(30):
            text = LINE.format(page=page + 1, line=line)
            paragraphs.append(f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>")
        paragraphs.append('<w:p><w:r><w:br w:type="page"/></w:r></w:p>')
    document = f'<w:document xmlns:w="{w}"><w:body>{"".join(paragraphs)}</w:body></w:document>'
    rels = "http://schemas.openxmlformats.org/package/2006/relationships"
    types = "http://schemas.openxmlformats.org/package/2006/content-types"
    main = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            f'<Types xmlns="{types}"><Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/word/document.xml" ContentType="{main}"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{rels}"><Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="word/document.xml"/></Relationships>',
        )
        archive.writestr("word/document.xml", document)
    return out.getvalue()


def safe_copy_seconds(
    data: bytes, *, kind: str, extension: str, dpi: int, ocr: bool
) -> tuple[float, int]:
    request = ConversionRequest(kind=kind, extension=extension, dpi=dpi, max_pages=500, ocr=ocr)
    sandbox = sandbox_kind()
    started = time.perf_counter()
    with sandbox_run(
        converter_command(request, sandbox),
        source=io.BytesIO(data),
        limits=sandbox_limits(),
        kind=sandbox,
        script=CONVERTER,
    ) as output:
        safe_copy_write(output, NullSink(), NullSink(), request=request)  # type: ignore[arg-type]
    return time.perf_counter() - started


def pdftoppm_seconds(pdf: Path, dpi: int, work: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["pdftoppm", "-r", str(dpi), "-jpeg", str(pdf), str(work / "page")], check=True)
    return time.perf_counter() - started


def soffice_then_pdftoppm_seconds(docx: Path, dpi: int, work: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{work}/profile",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(work),
            str(docx),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-jpeg", str(work / "document.pdf"), str(work / "page")],
        check=True,
    )
    return time.perf_counter() - started


def best(runs: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dpi", type=int, default=150)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    print(f"sandbox: {sandbox_kind()}, {args.dpi} dpi, best of {args.runs}")
    with tempfile.TemporaryDirectory(prefix="tipline-bench-") as folder:
        work = Path(folder)
        pdf, docx = work / "document.pdf", work / "document.docx"
        pdf.write_bytes(pdf_of(50))
        docx.write_bytes(docx_of(20))
        rows = []
        for label, path, kind, ext, pages in (
            ("50-page PDF", pdf, "pdf", "", 50),
            ("20-page DOCX", docx, "office", ".docx", 20),
        ):
            data = path.read_bytes()
            for ocr in (False, True):
                seconds = best(
                    args.runs,
                    partial(
                        safe_copy_seconds, data, kind=kind, extension=ext, dpi=args.dpi, ocr=ocr
                    ),
                )
                rows.append((f"{label}, safe copy{' + OCR' if ocr else ''}", pages, seconds))
            reference_dir = work / f"ref-{kind}"
            reference_dir.mkdir()
            if kind == "pdf":
                seconds = best(args.runs, partial(pdftoppm_seconds, path, args.dpi, reference_dir))
                rows.append((f"{label}, pdftoppm (no sandbox)", pages, seconds))
            else:
                reference = partial(soffice_then_pdftoppm_seconds, path, args.dpi, reference_dir)
                rows.append(
                    (f"{label}, soffice + pdftoppm (no sandbox)", pages, best(args.runs, reference))
                )
        for label, pages, seconds in rows:
            print(f"{label:48} {pages / seconds:7.2f} pages/s ({seconds:.2f} s)")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    worker = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak memory: {children:.0f} MiB in one conversion process, {worker:.0f} MiB worker side"
    )


if __name__ == "__main__":
    main()
