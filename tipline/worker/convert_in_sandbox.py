"""The converter that runs INSIDE the sandbox (sandbox.py): a document in, pixels out.

Run as a script (``python -I convert_in_sandbox.py ...``), never imported by
the worker: it may use only the standard library, pypdfium2 and Pillow, it
sees no data dir and no key, and everything it prints is treated by the worker
as hostile data (raw pixels of a bounded size, and OCR words as plain text).

Standard input: the document. Standard output, one record per page::

    b"P" + >III(width, height, len(tsv)) + width*height*3 bytes of RGB + tsv (UTF-8)

then ``b"E" + >I(pages)``. On failure it exits non-zero with one code word on
standard error. Office documents go to PDF through LibreOffice headless first
(in the sandbox's temp dir, a tmpfs); PDFs go to pixels through pdfium, with
no form environment (so no JavaScript, no XFA); OCR goes through tesseract.
"""

from __future__ import annotations

import argparse
import io
import os
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import BinaryIO

OFFICE_SECONDS = 600
OCR_SECONDS = 120


class Refused(Exception):
    """Exit with this code word (no content)."""


def main() -> int:
    args = _arguments()
    document = sys.stdin.buffer.read()
    out = sys.stdout.buffer
    # OCR is the slow part (seconds a page): past its budget, the remaining pages
    # come without text rather than the whole copy running out of time.
    ocr_until = time.monotonic() + args.ocr_budget
    try:
        pages = 0
        for image in _pages(document, args):
            wanted = args.ocr != "none" and time.monotonic() < ocr_until
            _write_page(out, image, _ocr(image, args.ocr) if wanted else b"")
            pages += 1
        out.write(b"E" + struct.pack(">I", pages))
        out.flush()
    except Refused as refusal:
        sys.stderr.write(f"refused: {refusal}\n")
        return 3
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=("pdf", "office", "image"), required=True)
    parser.add_argument("--extension", default="")
    parser.add_argument("--dpi", type=int, default=150)
    parser.add_argument("--max-pages", type=int, default=300)
    parser.add_argument("--max-pixels", type=int, default=40_000_000)
    parser.add_argument("--ocr", default="none")
    parser.add_argument("--ocr-budget", type=float, default=300.0)
    return parser.parse_args()


def _pages(document: bytes, args: argparse.Namespace) -> Iterator[object]:
    if args.kind == "image":
        yield _image_page(document, args.max_pixels)
        return
    if args.kind == "office":
        document = _office_to_pdf(document, args.extension)
    yield from _pdf_pages(document, args)


def _image_page(document: bytes, max_pixels: int) -> object:
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:
        pass
    with Image.open(io.BytesIO(document)) as image:
        image.seek(0)
        upright = ImageOps.exif_transpose(image)
        return _fit(upright.convert("RGB"), max_pixels)


def _fit(image: object, max_pixels: int) -> object:
    width, height = image.size  # type: ignore[attr-defined]
    if width * height <= max_pixels:
        return image
    scale = (max_pixels / (width * height)) ** 0.5
    size = (max(1, int(width * scale)), max(1, int(height * scale)))
    return image.resize(size)  # type: ignore[attr-defined]


def _pdf_pages(document: bytes, args: argparse.Namespace) -> Iterator[object]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(document)
    except pdfium.PdfiumError as exc:
        raise Refused("unreadable") from exc
    count = len(pdf)
    if count > args.max_pages:
        raise Refused("too_many_pages")
    if count == 0:
        raise Refused("no_pages")
    for index in range(count):
        page = pdf[index]
        width, height = page.get_size()
        scale = args.dpi / 72
        pixels = width * scale * height * scale
        if pixels > args.max_pixels:
            scale *= (args.max_pixels / pixels) ** 0.5  # a huge page: fewer dots per inch
        bitmap = page.render(scale=scale, may_draw_forms=False)
        yield bitmap.to_pil().convert("RGB")
        bitmap.close()
        page.close()
    pdf.close()


def _office_to_pdf(document: bytes, extension: str) -> bytes:
    # The sandbox's temp dir is a tmpfs: the document never touches a disk.
    work = tempfile.mkdtemp()
    source = os.path.join(work, "document" + (extension if extension.startswith(".") else ""))
    with open(source, "wb") as handle:
        handle.write(document)
    profile = os.path.join(work, "profile")
    command = [  # found on the sandbox's PATH (/usr/bin), the only one it has
        "soffice",
        f"-env:UserInstallation=file://{profile}",
        "--headless",
        "--norestore",
        "--nologo",
        "--nolockcheck",
        "--nodefault",
        "--convert-to",
        "pdf",
        "--outdir",
        work,
        source,
    ]
    done = subprocess.run(  # noqa: S603 - fixed program
        command, capture_output=True, timeout=OFFICE_SECONDS, check=False
    )
    target = os.path.join(work, "document.pdf")
    if done.returncode != 0 or not os.path.exists(target):
        raise Refused("office_conversion_failed")
    with open(target, "rb") as handle:
        return handle.read()


def _ocr(image: object, languages: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")  # type: ignore[attr-defined]
    try:
        done = subprocess.run(  # noqa: S603 - fixed program, found on the sandbox's PATH
            ["tesseract", "stdin", "stdout", "-l", languages, "tsv"],  # noqa: S607
            input=buffer.getvalue(),
            capture_output=True,
            timeout=OCR_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return b""  # no text layer for this page; the pixels still count
    return done.stdout if done.returncode == 0 else b""


def _write_page(out: BinaryIO, image: object, tsv: bytes) -> None:
    width, height = image.size  # type: ignore[attr-defined]
    out.write(b"P" + struct.pack(">III", width, height, len(tsv)))
    out.write(image.tobytes())  # type: ignore[attr-defined]
    out.write(tsv)


if __name__ == "__main__":
    sys.exit(main())
