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

from tipline.conversation.services import conversation_start
from tipline.csrf import csrf_protect
from tipline.intake import form_token, resumable
from tipline.intake.flood import tip_arrived_in_flood
from tipline.intake.form_token import FormToken
from tipline.intake.forms import TipForm
from tipline.intake.messages import megabytes, refusal_message
from tipline.intake.reserve import storage_reserve_refuses
from tipline.intake.services import TiplineClosed, received_files_summary, tip_create
from tipline.intake.upload import EncryptingUploadHandler
from tipline.keyring import tipline_is_open

# Room for the multipart framing and the text fields on top of the files.
MULTIPART_ALLOWANCE = 1024 * 1024


def _landing(
    request: HttpRequest,
    form: TipForm,
    *,
    error: str = "",
    status: int = 200,
    token: FormToken | None = None,
) -> HttpResponse:
    # A form shown again keeps its token (and with it when it was first shown);
    # any other gets a new one, good for one tip (tipline.intake.form_token).
    context = {
        "form": form,
        "upload_error": error,
        "limits": _limits(),
        "form_token": token.value if token else form_token.form_token_issue(),
    }
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
    if _declared_length(request) > settings.TIPLINE_MAX_TIP_BYTES + MULTIPART_ALLOWANCE:
        # Refused before a byte of the body is read.
        return _landing(request, TipForm(), error=refusal_message("tip_too_large"), status=413)
    if storage_reserve_refuses(_declared_length(request)):
        # Refused before a byte of the body is read: a body this size carries files.
        return _landing(request, TipForm(), error=refusal_message("storage_full"), status=507)
    # The streaming intake (tipline/intake/streaming.py) has read the body through
    # its own handler already; through Django's parser, it is read below.
    handler = getattr(request, "tipline_upload_handler", None)
    if handler is None:
        handler = EncryptingUploadHandler(request)
        request.upload_handlers = [handler]
    try:
        if getattr(request, "tipline_body_broken", False):  # found so while streaming
            raise UnreadablePostError("the request body was cut off or malformed")
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
    token = form_token.form_token_read(request.POST.get(form_token.FIELD, ""))
    if token is None:  # missing, forged or expired: the form again, with a new token
        form.is_valid()  # keep what the source typed, with its own errors if any
        return _landing(request, form, error=refusal_message("form_expired"), status=400)
    if form_token.form_token_used(token):  # a reload of the confirmation, or a replay
        return _already_received(request)
    if handler.refusal is not None:
        form.is_valid()  # keep what the source typed, with its own errors if any
        return _landing(
            request,
            form,
            error=refusal_message(handler.refusal.code),
            status=507 if handler.refusal.code == "storage_full" else 413,
            token=token,
        )
    if not form.is_valid():
        return _landing(request, form, status=400, token=token)
    if request.POST.getlist(resumable.UPLOAD_FIELD) and not _claim_sent_ahead(request, handler):
        error = refusal_message("broken_upload")
        return _landing(request, form, error=error, status=400, token=token)
    if form.is_blank() and not handler.uploads:
        return _landing(request, form, error=refusal_message("empty"), status=400, token=token)
    return _store(request, handler, form, token)


def _claim_sent_ahead(request: HttpRequest, handler: EncryptingUploadHandler) -> bool:
    """The files the page's script sent ahead in pieces (tipline/intake/resumable.py)
    become this tip's, with their tip key; False if any is not this form's or not complete."""
    binding = resumable.form_binding_of(
        form_token=request.POST.get(form_token.FIELD, ""),
        form_id=request.POST.get(resumable.FORM_ID_FIELD, ""),
    )
    try:
        claimed = resumable.pending_uploads_claim(
            tokens=request.POST.getlist(resumable.UPLOAD_FIELD),
            secret=request.POST.get(resumable.SECRET_FIELD, ""),
            form_binding=binding,
        )
        handler.take_claimed(
            tip_key_id=claimed.tip_key_id, tip_key=claimed.tip_key, uploads=claimed.uploads
        )
    except SuspiciousOperation:  # resumable.UploadClaimRefused, or files sent both ways
        return False
    return True


def _store(
    request: HttpRequest, handler: EncryptingUploadHandler, form: TipForm, token: FormToken
) -> HttpResponse:
    if not form_token.form_token_use(token):  # the same form, sent twice at once
        return _already_received(request)
    try:
        tip = tip_create(
            tip_key_id=handler.tip_key_id,
            tip_key=handler.tip_key,
            note=form.cleaned_data["note"],
            links=form.cleaned_data["links"],
            uploads=handler.uploads,
            arrived_in_flood=tip_arrived_in_flood(
                issued_minute=token.issued_minute, flagged=token.flood
            ),
        )
    except TiplineClosed:
        form_token.form_token_release(token)
        return _closed(request)
    except BaseException:
        # Nothing was stored: a reload must send the tip, not say it arrived.
        form_token.form_token_release(token)
        raise
    handler.committed = True
    files = received_files_summary(tip=tip, tip_key=handler.tip_key)
    passphrase = conversation_start(
        tip=tip, tip_key=handler.tip_key, language=request.LANGUAGE_CODE
    )
    return render(request, "source/received.html", {"files": files, "passphrase": passphrase})


def _already_received(request: HttpRequest) -> HttpResponse:
    """This form made a tip already: say so calmly, store nothing a second time."""
    return render(request, "source/already_received.html")
