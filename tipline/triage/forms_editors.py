"""Forms of the editors pages (admins managing staff accounts)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.utils.translation import gettext_lazy as _


class EditorCreateForm(forms.Form):
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
        data = self.cleaned_data
        password, again = data.get("password"), data.get("password_again")
        if password and again and password != again:
            raise forms.ValidationError(_("The two passwords differ."))
        if password:
            # An unsaved user lets the similarity check compare with the username.
            candidate = get_user_model()(username=data.get("username", ""))
            try:
                password_validation.validate_password(password, candidate)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return data


class DeactivateForm(forms.Form):
    # Deactivating deletes the account's grants for good: a box to tick stands
    # in for a JavaScript confirm() the CSP would not allow anyway.
    confirm = forms.BooleanField(label=_("Yes, deactivate"), required=True)


class SecondFactorResetForm(forms.Form):
    # The old authenticator and backup codes stop working at once: confirm first.
    confirm = forms.BooleanField(label=_("Yes, reset"), required=True)
