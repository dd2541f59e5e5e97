"""Forms of the editors pages (admins managing staff accounts)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from tipline.triage.forms import StaffForm, chosen_password_check


class EditorCreateForm(StaffForm):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        # The model's own rule (letters, digits and @.+-_), which the service does not check.
        validators=[get_user_model().username_validator],
    )
    password = forms.CharField(label=_("Password"), strip=False, widget=forms.PasswordInput)
    password_again = forms.CharField(
        label=_("Password, again"), strip=False, widget=forms.PasswordInput
    )
    is_admin = forms.BooleanField(
        label=_("Admin (manages editors and reads the audit log)"), required=False
    )
    email = forms.EmailField(
        label=_("Email address (optional)"),
        required=False,
        help_text=_(
            "Only for the daily reminder, if the tip line sends one: the same message every "
            "day, with nothing about the tips."
        ),
    )

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username=username).exists():
            raise forms.ValidationError(_("An account with this username already exists."))
        return username

    def clean(self) -> dict[str, Any]:
        super().clean()
        chosen_password_check(
            self,
            field="password",
            again_field="password_again",
            user=get_user_model()(username=self.cleaned_data.get("username", "")),
            differ_message=_("The two passwords differ."),
        )
        return self.cleaned_data


class DeactivateForm(StaffForm):
    # Deactivating deletes the account's grants for good: a box to tick stands
    # in for a JavaScript confirm() the CSP would not allow anyway.
    confirm = forms.BooleanField(label=_("Yes, deactivate"), required=True)


class SecondFactorResetForm(StaffForm):
    # The old authenticator and backup codes stop working at once: confirm first.
    confirm = forms.BooleanField(label=_("Yes, reset"), required=True)
