"""Who may see a staff page, and which tips an editor can open.

Every staff view is wrapped by ``staff_view`` or ``admin_view``; the
access-control test enumerates the URL resolver to prove none is left open.
A staff page needs an active staff account, a verified one-time code this
session, and the editor's private key in the session (tipline/accounts/session.py). A tip
needs, on top, a grant to the editor's key: without one it does not exist for
them (404, the same answer as a reference that does not exist).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Concatenate, Literal, ParamSpec, TypeAlias, TypeGuard

from django.contrib.auth import logout
from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseBase

from tipline.accounts.session import Editor, session_editor
from tipline.crypto import CryptoError
from tipline.keyring import KeyringError, tip_key_unwrap
from tipline.models import Tip

P = ParamSpec("P")


class StaffRequest(HttpRequest):
    """The request a staff view is called with, once ``staff_view`` has let it through.

    A type only (no request is ever of this class): the guard has checked that
    ``user`` is an active, verified staff account and set ``editor``.
    """

    user: User
    editor: Editor


# A staff view takes the checked request; the guarded view the URL conf gets takes any.
StaffView: TypeAlias = Callable[Concatenate[StaffRequest, P], HttpResponseBase]
GuardedView: TypeAlias = Callable[Concatenate[HttpRequest, P], HttpResponseBase]

# The attribute the access-control test reads off every view the URL resolver lists.
GUARD_ATTRIBUTE = "staff_guard"
Guard = Literal["staff", "admin"]


def _mark(view: GuardedView[P], guard: Guard) -> GuardedView[P]:
    # A function's own attributes have no static type: set it by name.
    setattr(view, GUARD_ATTRIBUTE, guard)
    return view


def _is_signed_in_staff(request: HttpRequest) -> TypeGuard[StaffRequest]:
    """An active staff account whose session passed the one-time code.

    When true, the request is a ``StaffRequest`` as soon as ``editor`` is set,
    which ``staff_view`` does before anything else reads the request.
    """
    user = request.user
    return bool(
        user.is_authenticated
        and user.is_active
        and user.is_staff
        # django-otp's OTPMiddleware adds is_verified() to the user; django-otp
        # ships no type information, so the User type does not know it.
        and user.is_verified()  # type: ignore[attr-defined]
    )


def staff_view(view: StaffView[P]) -> GuardedView[P]:
    @wraps(view)
    def guarded(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
        if not _is_signed_in_staff(request):
            return redirect_to_login(request.get_full_path())
        editor = session_editor(request)
        if editor is None:
            # Signed in but without a usable key (cookie lost, account changed):
            # a session that cannot read anything is ended, not half-served.
            logout(request)
            return redirect_to_login(request.get_full_path())
        request.editor = editor
        return view(request, *args, **kwargs)

    return _mark(guarded, "staff")


def admin_view(view: StaffView[P]) -> GuardedView[P]:
    @wraps(view)
    def admin_only(request: StaffRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
        if not request.user.is_superuser:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return _mark(staff_view(admin_only), "admin")


@dataclass(frozen=True)
class OpenTip:
    tip: Tip
    tip_key: bytes


def tip_open(request: StaffRequest, reference: str) -> OpenTip:
    """The tip and its key through the editor's own grant; 404 without one."""
    tip = Tip.objects.filter(reference=reference).select_related("assignee").first()
    if tip is None:
        raise Http404
    editor = request.editor
    try:
        tip_key = tip_key_unwrap(
            tip=tip, recipient=editor.recipient, private_key=editor.private_key
        )
    except (KeyringError, CryptoError):
        raise Http404 from None
    return OpenTip(tip, tip_key)
