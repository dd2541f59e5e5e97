"""PDF: remove metadata, hidden history, scripts and attachments with pikepdf,
then write a fresh file (never an incremental update).

Removed: the document information dictionary (author, title, dates, producer),
XMP metadata on the catalog and on every object (pages, images, fonts),
PieceInfo application data, LastModified dates, earlier revisions (qpdf writes
only objects reachable from the new trailer), the trailer /ID (replaced by a
random one), embedded files (EmbeddedFiles name tree,
FileAttachment annotations, /EF file specifications, portfolios), JavaScript
and automatic or dangerous actions (OpenAction, AA, Names/JavaScript, XFA
forms, Launch, SubmitForm, ImportData, GoToR/GoToE, Rendition, RichMedia, Movie,
Sound), annotation authors and dates (/T on markup annotations, /M,
/CreationDate, /NM), page thumbnails (/Thumb), media annotations, and EXIF/XMP
inside embedded JPEG images (the JPEG marker walker runs on each DCTDecode
image stream: the compressed image data is not re-encoded).

Kept: pages, content streams (so text and its selectability are unchanged),
fonts, images, links to web addresses (/URI), bookmarks, forms (their field
names are content, not authorship), tagged-PDF structure.

Streams are copied without decoding (stream_decode_level=none), so a
compression bomb inside a stream is never inflated here.
"""

from __future__ import annotations

import io
import secrets
from typing import BinaryIO

import pikepdf
from pikepdf import Array, Dictionary, Name

from .common import Context
from .jpeg import clean_jpeg
from .limits import Damaged, LimitExceeded, SanitizeError, Unsupported
from .report import Report

DANGEROUS_ACTIONS = {
    "/JavaScript",
    "/Launch",
    "/SubmitForm",
    "/ImportData",
    "/GoToR",
    "/GoToE",
    "/Rendition",
    "/RichMediaExecute",
    "/Movie",
    "/Sound",
    "/GoTo3DView",
}
MEDIA_ANNOTATIONS = {"/FileAttachment", "/Sound", "/Movie", "/Screen", "/RichMedia", "/3D"}
INFO_CODES = {
    "/Author": "author",
    "/Creator": "software",
    "/Producer": "software",
    "/CreationDate": "creation_time",
    "/ModDate": "creation_time",
}
CATALOG_DROP = {
    "/Metadata": "xmp",
    "/PieceInfo": "private_data",
    "/OpenAction": "javascript",
    "/AA": "javascript",
    "/Perms": "other",
    "/Legal": "other",
    "/SpiderInfo": "other",
    "/Collection": "embedded_files",
    "/URI": "other",
}


def sanitize_pdf(src: BinaryIO, dst: BinaryIO, ctx: Context) -> Report:
    report = ctx.new_report()
    try:
        pdf = pikepdf.open(src)
    except pikepdf.PasswordError as exc:
        raise Unsupported("encrypted", "password-protected PDF") from exc
    except pikepdf.PdfError as exc:
        raise Damaged("unreadable", "PDF does not parse") from exc
    try:
        with pdf:
            _check_limits(pdf, ctx)
            _clean(pdf, ctx, report)
            _new_random_id(pdf, report)
            pdf.save(
                dst,
                deterministic_id=True,
                object_stream_mode=pikepdf.ObjectStreamMode.generate,
                stream_decode_level=pikepdf.StreamDecodeLevel.none,
                encryption=False,
                fix_metadata_version=False,
                linearize=False,
            )
    except pikepdf.PdfError as exc:
        raise Damaged("unreadable", "PDF could not be rewritten") from exc
    return report


def _new_random_id(pdf: pikepdf.Pdf, report: Report) -> None:
    """Replace the trailer /ID: its first half is kept by qpdf when saving, and a
    document system's copy of the file carries the same one, so it links the two.

    Random, never derived: qpdf's own non-deterministic ID hashes the time of
    saving (it would date the cleaning). qpdf keeps the first half given here and
    computes the second from the written content (``deterministic_id``).
    """
    if "/ID" in pdf.trailer:
        report.add("document_id")
    fresh = secrets.token_bytes(16)
    pdf.trailer.ID = Array([pikepdf.String(fresh), pikepdf.String(fresh)])


def _check_limits(pdf: pikepdf.Pdf, ctx: Context) -> None:
    size = int(pdf.trailer.get("/Size", 0))
    if size > ctx.limits.max_pdf_objects:
        raise LimitExceeded("too_large", "more PDF objects than the limit")
    if len(pdf.pages) > ctx.limits.max_pdf_pages:
        raise LimitExceeded("too_many_frames", "more PDF pages than the limit")


def _clean(pdf: pikepdf.Pdf, ctx: Context, report: Report) -> None:
    if pdf.is_encrypted:  # opened with an empty user password: it is saved unencrypted
        report.add("other")
    info = pdf.trailer.get("/Info")
    if info is not None:
        if isinstance(info, Dictionary):
            for key in info.keys():
                report.add(INFO_CODES.get(key, "document_properties"))
        del pdf.trailer["/Info"]
    root = pdf.Root
    for key, code in CATALOG_DROP.items():
        if key in root:
            del root[key]
            report.add(code)
    names = root.get("/Names")
    if isinstance(names, Dictionary):
        if "/JavaScript" in names:
            del names["/JavaScript"]
            report.add("javascript")
        if "/EmbeddedFiles" in names:
            report.add("embedded_files", max(1, _count_name_tree(names["/EmbeddedFiles"])))
            del names["/EmbeddedFiles"]
    form = root.get("/AcroForm")
    if isinstance(form, Dictionary) and "/XFA" in form:
        del form["/XFA"]
        report.add("javascript")
    for page in pdf.pages:
        _clean_page(page.obj, report)
        ctx.deadline.check()
    for index, obj in enumerate(pdf.objects):
        if isinstance(obj, Dictionary | pikepdf.Stream):
            _clean_object(obj, ctx, report)
        if index % 1000 == 0:
            ctx.deadline.check()


def _count_name_tree(node: object, depth: int = 0) -> int:
    if not isinstance(node, Dictionary) or depth > 32:
        return 0
    count = len(node.get("/Names", [])) // 2
    for kid in node.get("/Kids", []):
        count += _count_name_tree(kid, depth + 1)
    return count


def _clean_page(page: Dictionary, report: Report) -> None:
    if "/Thumb" in page:
        del page["/Thumb"]
        report.add("thumbnail")
    annots = page.get("/Annots")
    if not isinstance(annots, Array):
        return
    kept = Array()
    for annot in annots:
        if not isinstance(annot, Dictionary):
            continue
        subtype = str(annot.get("/Subtype", ""))
        if subtype in MEDIA_ANNOTATIONS:
            report.add("embedded_files")
            continue
        touched = False
        keys = ["/M", "/CreationDate", "/NM"]
        if subtype not in ("/Widget", "/Link"):
            keys.append("/T")  # a markup annotation's author (a widget's /T is its field name)
        for key in keys:
            if key in annot:
                del annot[key]
                touched = True
        report.add("annotations", 1 if touched else 0)
        kept.append(annot)
    page.Annots = kept


def _clean_object(obj: Dictionary | pikepdf.Stream, ctx: Context, report: Report) -> None:
    for key, code in (
        ("/Metadata", "xmp"),
        ("/PieceInfo", "private_data"),
        ("/LastModified", "creation_time"),
        ("/AA", "javascript"),
        ("/EF", "embedded_files"),
    ):
        if key in obj:
            del obj[key]
            report.add(code)
    for key in ("/A", "/Next"):
        action = obj.get(key)
        if isinstance(action, Dictionary) and str(action.get("/S", "")) in DANGEROUS_ACTIONS:
            del obj[key]
            report.add("javascript")
        elif isinstance(action, Array):
            del obj[key]  # action chains: drop the chain rather than vet each link
            report.add("javascript")
    if "/JS" in obj:
        del obj["/JS"]
        report.add("javascript")
    if isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == Name.Image:
        _clean_jpeg_image(obj, ctx, report)


def _clean_jpeg_image(stream: pikepdf.Stream, ctx: Context, report: Report) -> None:
    filters = stream.get("/Filter")
    if isinstance(filters, Array):
        filters = filters[0] if len(filters) == 1 else None
    if filters != Name.DCTDecode:
        return
    raw = stream.read_raw_bytes()
    out = io.BytesIO()
    sub = Report(status=report.status)
    try:
        clean_jpeg(io.BytesIO(raw), out, ctx, sub, check_size=False)
    except SanitizeError:
        return  # leave an image we cannot parse as it is: viewers cannot show it either
    if sub.removed:
        for item in sub.removed:
            report.add(item.what, item.count)
        parms = stream.get("/DecodeParms")
        if parms is not None and not isinstance(parms, Dictionary | Array):
            # A hostile /DecodeParms (a number, a string...): pikepdf's write()
            # would raise a TypeError that escapes cleaning and fails the
            # worker's task. The file is malformed: say so like any other.
            raise Damaged(
                "bad_structure", "an image's /DecodeParms is neither a dictionary nor an array"
            )
        stream.write(out.getvalue(), filter=Name.DCTDecode, decode_parms=parms)
