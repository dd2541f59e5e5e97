"""Who may see a staff page, and which tips an editor can open.

Every staff view is wrapped by ``staff_view`` or ``admin_view``; the
access-control test enumerates the URL resolver to prove none is left open.
A staff page needs an active staff account, a verified one-time code this
session, and the editor's private key in the session (see accounts.py). A tip
needs, on top, a grant to the editor's key: without one it does not exist for
them (404, the same answer as a reference that does not exist).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from tipline.crypto import CryptoError, PrivateKey
from tipline.keyring import KeyringError, tip_key_unwrap
from tipline.models import RecipientKey, Tip
from tipline.triage.accounts import editor_key, session_private_key

View = Callable[..., HttpResponse]


@dataclass(frozen=True)
class Editor:
    """The signed-in editor's recipient key and, for this request only, its private half."""

    recipient: RecipientKey
    private_key: PrivateKey


def _is_signed_in_staff(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_authenticated and user.is_active and user.is_staff and user.is_verified())


def _editor_for(request: HttpRequest) -> Editor | None:
    recipient = editor_key(request.user)
    private_key = session_private_key(request)
    if recipient is None or private_key is None:
        return None
    if private_key.public_key().to_bytes() != bytes(recipient.public_key):
        return None  # the key was replaced since this session began
    return Editor(recipient, private_key)


def staff_view(view: View) -> View:
    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not _is_signed_in_staff(request):
            return redirect_to_login(request.get_full_path())
        editor = _editor_for(request)
        if editor is None:
            # Signed in but without a usable key (cookie lost, account changed):
            # a session that cannot read anything is ended, not half-served.
            logout(request)
            return redirect_to_login(request.get_full_path())
        request.editor = editor
        return view(request, *args, **kwargs)

    guarded.staff_guard = "staff"  # read by the access-control test
    return guarded


def admin_view(view: View) -> View:
    @wraps(view)
    def admin_only(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_superuser:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    guarded = staff_view(admin_only)
    guarded.staff_guard = "admin"
    return guarded


@dataclass(frozen=True)
class OpenTip:
    tip: Tip
    tip_key: bytes


def tip_open(request: HttpRequest, reference: str) -> OpenTip:
    """The tip and its key through the editor's own grant; 404 without one."""
    tip = Tip.objects.filter(reference=reference).select_related("assignee").first()
    if tip is None:
        raise Http404
    editor: Editor = request.editor
    try:
        tip_key = tip_key_unwrap(
            tip=tip, recipient=editor.recipient, private_key=editor.private_key
        )
    except (KeyringError, CryptoError):
        raise Http404 from None
    return OpenTip(tip, tip_key)
