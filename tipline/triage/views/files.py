"""Files of a tip: streamed decrypted downloads, inline previews of cleaned pictures, thumbnails.

Downloads are decrypted chunk by chunk as the browser reads them, never held
whole in memory or written anywhere. Every response that carries a file says
``nosniff`` and a sandboxing CSP, so a hostile file opened by mistake in the
browser can run nothing with the newsroom's session.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from tipline.audit import actor_of
from tipline.crypto import DecryptionError
from tipline.filenames import safe_filename
from tipline.models import Attachment
from tipline.report_text import report_lines
from tipline.sealed import (
    OpenBlob,
    Part,
    attachment_blob_open,
    attachment_name_open,
    attachment_report_open,
    attachment_thumbnail_open,
)
from tipline.triage.access import OpenTip, StaffRequest, staff_view, tip_open
from tipline.triage.tip_page import PREVIEWABLE_TYPES, attachment_is_cleaned, safe_page_read
from tipline.triage.tips import file_served_record

logger = logging.getLogger(__name__)
STREAM_CHUNK = 256 * 1024
# A file response may not run anything, load anything or be framed.
FILE_CSP = (
    "default-src 'none'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'; sandbox"
)


def _attachment(opened: OpenTip, number: int) -> Attachment:
    attachment = opened.tip.attachments.filter(position=number - 1).first()
    if attachment is None or attachment.state != Attachment.State.DONE or not attachment.clean_blob:
        raise Http404
    return attachment


class DecryptedStream:
    """The cleaned file, decrypted chunk by chunk as the response is sent.

    Opened before the response starts, so a blob that fails its header check
    becomes an error page rather than a broken download. Django calls
    ``close()`` when the response ends, even if it never started.
    """

    def __init__(self, attachment: Attachment, tip_key: bytes) -> None:
        self._blob: OpenBlob = attachment_blob_open(attachment, Part.CLEAN, tip_key=tip_key)

    def __iter__(self) -> Iterator[bytes]:
        return self._blob.chunks(STREAM_CHUNK)

    def close(self) -> None:
        self._blob.close()


def _file_response(
    attachment: Attachment, tip_key: bytes, *, content_type: str, disposition: str
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        DecryptedStream(attachment, tip_key), content_type=content_type
    )
    # With the length declared, a stream cut short by a damaged blob shows up
    # as a failed download in the browser rather than as a shorter file.
    response["Content-Length"] = str(attachment.stored_size)
    response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    # nginx would otherwise buffer a large decrypted download in its temp
    # directory on disk (docs/deploy.md turns buffering off as well).
    response["X-Accel-Buffering"] = "no"
    return response


def _damaged(request: HttpRequest, opened: OpenTip) -> HttpResponse:
    logger.warning("a stored file failed authentication when an editor opened it")
    return render(request, "staff/file_damaged.html", {"tip": opened.tip}, status=500)


def _served_file(
    request: StaffRequest,
    opened: OpenTip,
    attachment: Attachment,
    *,
    content_type: str,
    disposition: str,
) -> StreamingHttpResponse | HttpResponse:
    """The cleaned file streamed, and on record; or the damaged-file page."""
    try:
        response = _file_response(
            attachment, opened.tip_key, content_type=content_type, disposition=disposition
        )
    except DecryptionError:
        return _damaged(request, opened)
    file_served_record(
        attachment=attachment, actor=actor_of(request.user), inline=disposition == "inline"
    )
    return response


@staff_view
@require_GET
def file_download(
    request: StaffRequest, reference: str, number: int
) -> StreamingHttpResponse | HttpResponse:
    opened = tip_open(request, reference)
    attachment = _attachment(opened, number)
    name = safe_filename(
        attachment_name_open(attachment, tip_key=opened.tip_key), fallback=f"file-{number}"
    )
    if not attachment_is_cleaned(attachment) and request.GET.get("confirm") != "1":
        context = {
            "tip": opened.tip,
            "number": number,
            "name": name,
            "report": report_lines(attachment_report_open(attachment, tip_key=opened.tip_key)),
        }
        return render(request, "staff/download_warning.html", context)
    return _served_file(
        request,
        opened,
        attachment,
        content_type="application/octet-stream",
        disposition=content_disposition_header(True, name),
    )


@staff_view
@require_GET
def file_preview(
    request: StaffRequest, reference: str, number: int
) -> StreamingHttpResponse | HttpResponse:
    """A cleaned picture shown inline; never any other kind of file."""
    opened = tip_open(request, reference)
    attachment = _attachment(opened, number)
    if not attachment_is_cleaned(attachment) or attachment.mime_type not in PREVIEWABLE_TYPES:
        raise Http404
    return _served_file(
        request, opened, attachment, content_type=attachment.mime_type, disposition="inline"
    )


@staff_view
@require_GET
def file_thumbnail(request: StaffRequest, reference: str, number: int) -> HttpResponse:
    opened = tip_open(request, reference)
    attachment = _attachment(opened, number)
    if not attachment.thumbnail_blob:
        raise Http404
    try:
        jpeg = attachment_thumbnail_open(attachment, tip_key=opened.tip_key)
    except DecryptionError:
        return _damaged(request, opened)
    response = HttpResponse(jpeg, content_type="image/jpeg")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    return response


# --- Safe copies (tipline/worker/safe_copy.py): pages as images, and the image-only PDF ---------


def _safe_copy(opened: OpenTip, number: int) -> Attachment:
    attachment = _attachment(opened, number)
    if attachment.safe_copy != Attachment.SafeCopy.DONE:
        raise Http404
    return attachment


@staff_view
@require_GET
def file_safe_page(request: StaffRequest, reference: str, number: int, page: int) -> HttpResponse:
    """One page of the safe copy: a JPEG the worker encoded from pixels, nothing else."""
    opened = tip_open(request, reference)
    attachment = _safe_copy(opened, number)
    try:
        jpeg = safe_page_read(attachment, page, tip_key=opened.tip_key)
    except DecryptionError:
        return _damaged(request, opened)
    if jpeg is None:
        raise Http404
    response = HttpResponse(jpeg, content_type="image/jpeg")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    return response


class _DecryptedSafePdf(DecryptedStream):
    def __init__(self, attachment: Attachment, tip_key: bytes) -> None:
        self._blob = attachment_blob_open(attachment, Part.SAFE_PDF, tip_key=tip_key)


@staff_view
@require_GET
def file_safe_pdf(
    request: StaffRequest, reference: str, number: int
) -> StreamingHttpResponse | HttpResponse:
    """The safe copy as a PDF of page images: no warning, it holds nothing that runs."""
    opened = tip_open(request, reference)
    attachment = _safe_copy(opened, number)
    name = safe_filename(
        attachment_name_open(attachment, tip_key=opened.tip_key), fallback=f"file-{number}"
    )
    try:
        stream = _DecryptedSafePdf(attachment, opened.tip_key)
    except DecryptionError:
        return _damaged(request, opened)
    response = StreamingHttpResponse(stream, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(True, f"{name}.safe.pdf")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    response["X-Accel-Buffering"] = "no"
    file_served_record(attachment=attachment, actor=actor_of(request.user), inline=False)
    return response


urlpatterns = [
    path(
        "tips/<str:reference>/files/<int:number>/safe/<int:page>/",
        file_safe_page,
        name="file_safe_page",
    ),
    path("tips/<str:reference>/files/<int:number>/safe.pdf", file_safe_pdf, name="file_safe_pdf"),
    path("tips/<str:reference>/files/<int:number>/", file_download, name="file_download"),
    path("tips/<str:reference>/files/<int:number>/preview/", file_preview, name="file_preview"),
    path(
        "tips/<str:reference>/files/<int:number>/thumbnail/", file_thumbnail, name="file_thumbnail"
    ),
]
