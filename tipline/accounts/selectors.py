"""Reads about staff accounts that pages and services need."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User

from tipline.models import RecipientKey, StaffEnrolment


def editor_key(user: User | AnonymousUser) -> RecipientKey | None:
    """The account's active key (the one its grants are wrapped to), if it has one."""
    if not user.is_authenticated:
        return None
    return RecipientKey.objects.filter(
        user=user, kind=RecipientKey.Kind.EDITOR, active=True
    ).first()


def staff_account_choices() -> list[tuple[str, str]]:
    """(id, username) of every active staff account, for "assigned to" fields."""
    users = get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")
    return [(str(user.pk), user.get_username()) for user in users]


@dataclass(frozen=True)
class EditorRow:
    user: User
    fingerprint: str  # empty when the account has no active key
    # A ``StaffEnrolment.Reason`` when the account must enrol at its next sign-in, else "".
    enrolment: str = ""


def editor_rows(*, include_inactive: bool) -> list[EditorRow]:
    """Staff accounts by username, each with its active key's fingerprint and enrolment due."""
    users = get_user_model().objects.filter(is_staff=True).order_by("username")
    if not include_inactive:
        users = users.filter(is_active=True)
    fingerprints = dict(
        RecipientKey.objects.filter(kind=RecipientKey.Kind.EDITOR, active=True).values_list(
            "user_id", "fingerprint"
        )
    )
    enrolments = dict(StaffEnrolment.objects.values_list("user_id", "reason"))
    return [
        EditorRow(user, fingerprints.get(user.pk, ""), enrolments.get(user.pk, ""))
        for user in users
    ]
