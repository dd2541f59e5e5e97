"""The form of the enrolment page: one's own authenticator and, for a new account, password."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _

from tipline.triage.forms import StaffForm, chosen_password_check


class EnrolForm(StaffForm):
    new_password = forms.CharField(
        label=_("Your own password"), strip=False, widget=forms.PasswordInput
    )
    new_password_again = forms.CharField(
        label=_("Your own password, again"), strip=False, widget=forms.PasswordInput
    )
    code = forms.CharField(
        label=_("Code from the app"),
        max_length=16,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )

    def __init__(self, *args: Any, user: User, chooses_password: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if not chooses_password:  # after a second-factor reset the password stays
            del self.fields["new_password"]
            del self.fields["new_password_again"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        chosen_password_check(
            self,
            field="new_password",
            again_field="new_password_again",
            user=self.user,
            differ_message=_("The two passwords differ."),
        )
        return self.cleaned_data
