"""The set-up page's forms: the first admin's name, then password and authenticator code.

Staff forms (labels without a colon, tipline/triage/forms.py). The checks are
create_editor's: the username model's own rule, a name not taken, and Django's
password validators (AUTH_PASSWORD_VALIDATORS, at least ``MIN_PASSPHRASE_CHARS``
long), compared with the username. The recovery key's form is the staff page's
own (``RecoveryKeyRotateForm``): the same rule as ``create_recovery_key``,
passphrase typed twice.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core import signing
from django.utils.translation import gettext_lazy as _

from tipline.accounts.second_factor import TOTP_SECRET_BYTES
from tipline.triage.forms import StaffForm, chosen_password_check

# The name and the authenticator being enrolled travel with the page, signed
# (so nothing of them waits on the server), and go stale after this long.
ENROLMENT_MAX_AGE_SECONDS = 30 * 60
_ENROLMENT_SALT = "tipline.setup.admin-enrolment"


class AdminNameForm(StaffForm):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        validators=[get_user_model().username_validator],
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username=username).exists():
            raise forms.ValidationError(_("An account with this username already exists."))
        return username


class AdminEnrolForm(StaffForm):
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label=_("Password, again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    code = forms.CharField(
        label=_("Code from the app"),
        max_length=16,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )

    def __init__(self, *args: Any, username: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.username = username

    def clean(self) -> dict[str, Any]:
        super().clean()
        chosen_password_check(
            self,
            field="password",
            again_field="password_again",
            user=get_user_model()(username=self.username),
            differ_message=_("The two passwords differ."),
        )
        return self.cleaned_data


@dataclass(frozen=True)
class PendingAdmin:
    """The admin being made: its name and the authenticator secret its QR code shows."""

    username: str
    totp_secret: bytes

    def signed(self) -> str:
        secret = base64.b32encode(self.totp_secret).decode("ascii")
        return signing.dumps({"username": self.username, "secret": secret}, salt=_ENROLMENT_SALT)

    @classmethod
    def from_signed(cls, value: str) -> PendingAdmin | None:
        try:
            data = signing.loads(value, salt=_ENROLMENT_SALT, max_age=ENROLMENT_MAX_AGE_SECONDS)
            secret = base64.b32decode(data["secret"])
            username = data["username"]
        except (signing.BadSignature, binascii.Error, KeyError, TypeError):
            return None
        if len(secret) != TOTP_SECRET_BYTES or not isinstance(username, str):
            return None
        return cls(username, secret)
