"""The form of the enrolment page: one's own authenticator and, for a new account, password."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _


class EnrolForm(forms.Form):
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
        data = self.cleaned_data
        new, again = data.get("new_password"), data.get("new_password_again")
        if new and again and new != again:
            raise forms.ValidationError(_("The two passwords differ."))
        if new:
            try:
                password_validation.validate_password(new, self.user)
            except forms.ValidationError as error:
                self.add_error("new_password", error)
        return data
