"""The source comes back: the passphrase page, the conversation, Leave.

No JavaScript needed. A wrong passphrase gets one calm message in the same time
as a right one (tipline/conversation/services.py). The conversation page shows
the editors' replies and the source's own messages, and nothing about the
tip's status, assignee or tags: whoever forces a source to sign in learns no
more than what the source wrote and was asked.
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
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from tipline.conversation.checks import CheckBacksBusy
from tipline.conversation.keys import SourceKeys
from tipline.conversation.services import (
    ConversationClosed,
    ConversationGone,
    LaterFilesRefused,
    conversation_entries,
    conversation_open,
    source_message_send,
)
from tipline.conversation.visit import visit_end, visit_keys, visit_start
from tipline.csrf import csrf_protect
from tipline.intake import resumable
from tipline.intake.forms import ComeBackForm, SourceMessageForm
from tipline.intake.later_files import (
    LaterFilesUploadHandler,
    later_files_store,
    later_uploads_claim,
)
from tipline.intake.messages import megabytes, refusal_message
from tipline.intake.upload import EncryptingUploadHandler


@require_http_methods(["GET", "POST"])
def come_back(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _come_back_page(request, ComeBackForm())
    try:
        form = ComeBackForm(request.POST)
    except (RequestDataTooBig, BadRequest):  # far too long, or not UTF-8: not a passphrase
        return _come_back_page(request, ComeBackForm(), error=_wrong_passphrase(), status=400)
    if not form.is_valid():
        return _come_back_page(request, form, error=_wrong_passphrase(), status=400)
    try:
        keys = conversation_open(typed=form.cleaned_data["passphrase"])
    except CheckBacksBusy:
        error = _("Many people are coming back right now. Please try again in a minute.")
        return _come_back_page(request, ComeBackForm(), error=error, status=503)
    if keys is None:
        return _come_back_page(request, ComeBackForm(), error=_wrong_passphrase(), status=400)
    response = HttpResponseRedirect(reverse("intake:conversation"), status=303)
    visit_start(response, keys=keys)
    return response


def _wrong_passphrase() -> str:
    return _(
        "We found no tip for this passphrase. Check each word and try again. "
        "If it is right, the tip may no longer be kept."
    )


def _come_back_page(
    request: HttpRequest, form: ComeBackForm, *, error: str = "", status: int = 200
) -> HttpResponse:
    return render(request, "source/come_back.html", {"form": form, "error": error}, status=status)


@csrf_exempt  # checked by ``_conversation_post``, once the visit's upload handler is installed
@require_http_methods(["GET", "POST"])
def conversation(request: HttpRequest) -> HttpResponseBase:
    # The visit first, from the cookie alone: the body's files are encrypted
    # under its conversation key as they are read (tipline/intake/later_files.py).
    keys = visit_keys(request)
    if keys is None:
        return _visit_over(request)
    if request.method == "GET":
        return _conversation_page(request, keys, SourceMessageForm())
    # Streamed by the server (tipline/intake/streaming.py), the body is read already.
    handler = getattr(request, "tipline_upload_handler", None)
    if handler is None:
        handler = LaterFilesUploadHandler(request, keys=keys)
        request.upload_handlers = [handler]
    try:
        return _conversation_post(request, keys, handler)
    except (
        MultiPartParserError,
        UnreadablePostError,
        RequestDataTooBig,
        SuspiciousOperation,
        BadRequest,
    ):
        error = refusal_message("broken_upload")
        return _conversation_page(request, keys, SourceMessageForm(), error=error, status=400)
    finally:
        if not handler.committed:  # refused, invalid or cut off: no blob of it is kept
            handler.discard()


@csrf_protect
def _conversation_post(
    request: HttpRequest, keys: SourceKeys, handler: EncryptingUploadHandler
) -> HttpResponse:
    form = SourceMessageForm(request.POST)  # reads the body through the handler
    if getattr(request, "tipline_body_broken", False) or _body_cut_off(request):
        raise UnreadablePostError("the request body was cut off or malformed")
    if handler.refusal is not None:
        error = refusal_message(handler.refusal.code)
        status = 507 if handler.refusal.code == "storage_full" else 413
        return _conversation_page(request, keys, form, error=error, status=status)
    if request.POST.getlist(resumable.UPLOAD_FIELD) and not _claim_sent_ahead(request, handler):
        error = refusal_message("broken_upload")
        return _conversation_page(request, keys, form, error=error, status=400)
    if not form.is_valid() or not (form.cleaned_data["message"] or handler.uploads):
        return _conversation_page(request, keys, form, error=_not_sent(), status=400)
    try:
        _message_store(keys, form.cleaned_data["message"], handler)
    except ConversationGone:
        return _visit_over(request)
    except ConversationClosed:
        keys.conversation.closed = True
        return _conversation_page(request, keys, form, error=_not_sent(), status=400)
    except LaterFilesRefused:
        error = refusal_message("storage_full")
        return _conversation_page(request, keys, form, error=error, status=503)
    return HttpResponseRedirect(reverse("intake:conversation"), status=303)


def _claim_sent_ahead(request: HttpRequest, handler: EncryptingUploadHandler) -> bool:
    """The files this visit's page sent ahead in pieces (tipline/intake/tus.py) become the
    message's; False if any is another visit's or a form's, unfinished, or under another key."""
    if not isinstance(handler, LaterFilesUploadHandler):
        return False
    try:
        later_uploads_claim(
            handler,
            cookies=request.COOKIES,
            tokens=request.POST.getlist(resumable.UPLOAD_FIELD),
            secret=request.POST.get(resumable.SECRET_FIELD, ""),
            form_id=request.POST.get(resumable.FORM_ID_FIELD, ""),
        )
    except SuspiciousOperation:  # resumable.UploadClaimRefused, or files sent both ways
        return False
    return True


def _message_store(keys: SourceKeys, body: str, handler: EncryptingUploadHandler) -> None:
    if not handler.uploads:
        source_message_send(keys=keys, body=body)
        return
    later_files_store(keys=keys, body=body, uploads=handler.uploads)
    handler.committed = True


def _not_sent() -> str:
    return _("Your message was not sent.")


def _body_cut_off(request: HttpRequest) -> bool:
    """The connection ended before the declared body had arrived (as the form's view
    checks it): the parser would take the short body for the whole one."""
    stream = getattr(request, "_stream", None)
    read, declared = getattr(stream, "_pos", None), getattr(stream, "limit", None)
    return read is not None and declared is not None and read < declared


def _conversation_page(
    request: HttpRequest,
    keys: SourceKeys,
    form: SourceMessageForm,
    *,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    tip = keys.conversation.tip
    context = {
        "entries": conversation_entries(tip=tip, conversation_key=keys.conversation_key),
        "closed": keys.conversation.closed,
        "form": form,
        "error": error,
        "upload_url": f"/{get_language()}/uploads/",
        "limits": {
            "max_files": settings.TIPLINE_MAX_FILES,
            "max_file_mb": megabytes(settings.TIPLINE_MAX_FILE_BYTES),
            "max_tip_mb": megabytes(settings.TIPLINE_MAX_TIP_BYTES),
        },
    }
    return render(request, "source/conversation.html", context, status=status)


def _visit_over(request: HttpRequest) -> HttpResponse:
    response = render(request, "source/visit_over.html", status=403)
    visit_end(request, response)
    return response


@require_POST
def leave(request: HttpRequest) -> HttpResponse:
    response = HttpResponseRedirect(reverse("intake:landing"), status=303)
    visit_end(request, response)
    return response
