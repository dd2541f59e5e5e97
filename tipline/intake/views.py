"""The source's pages: the landing page with the form, and what answers a submission.

No session, no lasting cookie, no redirect after a submission: the answer is
rendered in the POST's own response, so nothing in the browser's history or
cookie jar says a tip was sent.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseBase, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from tipline.csrf import csrf_protect
from tipline.intake.forms import TipForm
from tipline.intake.messages import megabytes, refusal_message
from tipline.intake.ratelimit import seconds_until_next_hour, tip_accepted_count, tip_rate_exceeded
from tipline.intake.services import TiplineClosed, received_files_summary, tip_create
from tipline.intake.upload import EncryptingUploadHandler
from tipline.keyring import tipline_is_open

# Room for the multipart framing and the text fields on top of the files.
MULTIPART_ALLOWANCE = 1024 * 1024


def _landing(
    request: HttpRequest, form: TipForm, *, error: str = "", status: int = 200
) -> HttpResponse:
    context = {"form": form, "upload_error": error, "limits": _limits()}
    return render(request, "source/landing.html", context, status=status)


def _limits() -> dict[str, int]:
    return {
        "max_files": settings.TIPLINE_MAX_FILES,
        "max_file_mb": megabytes(settings.TIPLINE_MAX_FILE_BYTES),
        "max_tip_mb": megabytes(settings.TIPLINE_MAX_TIP_BYTES),
    }


def _closed(request: HttpRequest) -> HttpResponse:
    return render(request, "source/closed.html", status=503)


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    if not tipline_is_open():
        return _closed(request)
    return _landing(request, TipForm())


@csrf_exempt  # checked by `_receive` below, after the encrypting handler is installed
@require_POST
def submit(request: HttpRequest) -> HttpResponseBase:
    if not tipline_is_open():
        return _closed(request)
    if tip_rate_exceeded():
        # Refused before a byte of the body is read: nothing of it is stored.
        busy = render(request, "source/busy.html", status=429)
        busy["Retry-After"] = str(seconds_until_next_hour())
        return busy
    if _declared_length(request) > settings.TIPLINE_MAX_TIP_BYTES + MULTIPART_ALLOWANCE:
        # Refused before a byte of the body is read.
        return _landing(request, TipForm(), error=refusal_message("tip_too_large"), status=413)
    handler = EncryptingUploadHandler(request)
    request.upload_handlers = [handler]
    try:
        response = _receive(request, handler)
    except (
        MultiPartParserError,
        UnreadablePostError,
        RequestDataTooBig,
        SuspiciousOperation,
        BadRequest,  # a urlencoded body not in UTF-8
    ):
        response = _landing(request, TipForm(), error=refusal_message("broken_upload"), status=400)
    finally:
        # Refused, invalid, cut off or forged: no blob of this request is kept.
        if not handler.committed:
            handler.discard()
    return response


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _body_cut_off(request: HttpRequest) -> bool:
    """True if the connection ended before the declared body had arrived.

    The server's stream then simply reads short, and the multipart parser takes
    its end for the end of the body: without this check a tip would be stored
    without the file that was cut off, and the source told it all arrived.
    """
    stream = getattr(request, "_stream", None)
    read, declared = getattr(stream, "_pos", None), getattr(stream, "limit", None)
    return read is not None and declared is not None and read < declared


@csrf_protect
def _receive(request: HttpRequest, handler: EncryptingUploadHandler) -> HttpResponse:
    form = TipForm(request.POST)  # reads the whole body through the encrypting handler
    if _body_cut_off(request):
        raise UnreadablePostError("the request body ended before its declared length")
    if handler.refusal is not None:
        form.is_valid()  # keep what the source typed, with its own errors if any
        return _landing(request, form, error=refusal_message(handler.refusal.code), status=413)
    if not form.is_valid():
        return _landing(request, form, status=400)
    if form.is_blank() and not handler.uploads:
        return _landing(request, form, error=refusal_message("empty"), status=400)
    try:
        tip = tip_create(
            tip_key_id=handler.tip_key_id,
            tip_key=handler.tip_key,
            note=form.cleaned_data["note"],
            links=form.cleaned_data["links"],
            uploads=handler.uploads,
        )
    except TiplineClosed:
        return _closed(request)
    handler.committed = True
    tip_accepted_count()
    files = received_files_summary(tip=tip, tip_key=handler.tip_key)
    return render(request, "source/received.html", {"files": files})
