"""The source's pages: the landing page with the form, and what answers a submission.

No session, no lasting cookie, no redirect after a submission: the answer is
rendered in the POST's own response, so nothing in the browser's history or
cookie jar says a tip was sent. A refused submission answers with the form
again, the error summary first (templates/source/error_summary.html), so the
error is the first thing the source sees with or without JavaScript.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    UnreadablePostError,
)
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from tipline.conversation.services import conversation_start
from tipline.csrf import csrf_protect
from tipline.intake import form_token, resumable
from tipline.intake.file_kinds import cleaned_kinds
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
    files_lost: bool = False,
) -> HttpResponse:
    # A form shown again keeps its token (and with it when it was first shown);
    # any other gets a new one, good for one tip (tipline.intake.form_token).
    context = {
        "form": form,
        "upload_error": error,
        # Browsers do not keep chosen files across a reload: say so only when there were some.
        "files_lost": files_lost,
        "limits": _limits(),
        "cleaned_kinds": cleaned_kinds(),
        "form_token": token.value if token else form_token.form_token_issue(),
    }
    return render(request, "source/landing.html", context, status=status)


def _limits() -> dict[str, int]:
    return {
        "max_files": settings.TIPLINE_MAX_FILES,
        "max_file_mb": megabytes(settings.TIPLINE_MAX_FILE_BYTES),
        "max_tip_mb": megabytes(settings.TIPLINE_MAX_TIP_BYTES),
    }


# When a browser (or a monitor) should ask again: set-up takes minutes, not seconds.
CLOSED_RETRY_AFTER_SECONDS = 3600


def _closed(request: HttpRequest) -> HttpResponse:
    """The tip line is not open yet: a calm page for the source, and no ERROR in the log.

    503 with Retry-After tells caches and monitors the truth (not in service
    yet, try later). Django's request logger logs every 5xx at ERROR; this one
    is expected, on every visit until set-up is done, so the response is marked
    as logged already (docs/decisions.md). Only a refused submission (a POST)
    says that nothing sent was kept: a first-time visitor has sent nothing.
    """
    context = {"after_submission": request.method == "POST"}
    response = render(request, "source/closed.html", context, status=503)
    response["Retry-After"] = str(CLOSED_RETRY_AFTER_SECONDS)
    response._has_been_logged = True  # type: ignore[attr-defined]  # django.utils.log.log_response
    return response


@require_safe  # HEAD too: uptime monitors ask with it
def landing(request: HttpRequest) -> HttpResponse:
    if not tipline_is_open():
        return _closed(request)
    return _landing(request, TipForm())


@csrf_exempt  # checked by `_receive` below, after the encrypting handler is installed
@require_http_methods(["GET", "HEAD", "POST"])
def submit(request: HttpRequest) -> HttpResponseBase:
    if request.method != "POST":
        # The address from history or a restored tab: the form, not an empty 405.
        return HttpResponseRedirect(reverse("intake:landing"), status=303)
    if not tipline_is_open():
        return _closed(request)
    if _declared_length(request) > settings.TIPLINE_MAX_TIP_BYTES + MULTIPART_ALLOWANCE:
        # Refused before a byte of the body is read: a body this size carries files.
        error = refusal_message("tip_too_large")
        return _landing(request, TipForm(), error=error, status=413, files_lost=True)
    if storage_reserve_refuses(_declared_length(request)):
        # Refused before a byte of the body is read: a body this size carries files.
        error = refusal_message("storage_full")
        return _landing(request, TipForm(), error=error, status=507, files_lost=True)
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
        # A body cut off is nearly always one with files: ask for them again.
        error = refusal_message("broken_upload")
        response = _landing(request, TipForm(), error=error, status=400, files_lost=True)
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
        return _refused(request, handler, form, code="form_expired", status=400)
    if form_token.form_token_used(token):  # a reload of the confirmation, or a replay
        return _already_received(request)
    if handler.refusal is not None:
        form.is_valid()  # keep what the source typed, with its own errors if any
        code = handler.refusal.code
        status = 507 if code == "storage_full" else 413
        return _refused(request, handler, form, code=code, status=status, token=token)
    if not form.is_valid():
        return _refused(request, handler, form, status=400, token=token)
    if request.POST.getlist(resumable.UPLOAD_FIELD) and not _claim_sent_ahead(request, handler):
        return _refused(request, handler, form, code="broken_upload", status=400, token=token)
    if form.is_blank() and not handler.uploads:
        return _refused(request, handler, form, code="empty", status=400, token=token)
    return _store(request, handler, form, token)


def _refused(
    request: HttpRequest,
    handler: EncryptingUploadHandler,
    form: TipForm,
    *,
    status: int,
    code: str = "",
    token: FormToken | None = None,
) -> HttpResponse:
    """The form again, saying why; the files, if any were sent, must be chosen again."""
    files_sent = bool(
        handler.created_blobs  # files arrived, whole or in part
        or handler.refusal is not None  # every refusal of the handler is about files
        or request.POST.getlist(resumable.UPLOAD_FIELD)  # files sent ahead by the page's script
    )
    error = refusal_message(code) if code else ""
    return _landing(request, form, error=error, status=status, token=token, files_lost=files_sent)


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
    files = received_files_summary(tip=tip, tip_key=handler.tip_key, uploads=handler.uploads)
    passphrase = conversation_start(
        tip=tip, tip_key=handler.tip_key, language=request.LANGUAGE_CODE
    )
    # The numbers of the files stored as sent: warned about above the list, in words.
    kept = [number for number, file in enumerate(files, start=1) if file["kept_as_sent"]]
    context = {"files": files, "kept_as_sent": kept, "passphrase": passphrase}
    return render(request, "source/received.html", context)


def _already_received(request: HttpRequest) -> HttpResponse:
    """This form made a tip already: say so calmly, store nothing a second time."""
    return render(request, "source/already_received.html")
