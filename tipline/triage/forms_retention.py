"""Forms of the retention page, the legal hold on the tip page and the recovery key page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tipline.models import RetentionPolicy, Tip
from tipline.passphrases import MIN_PASSPHRASE_CHARS
from tipline.triage.forms import StaffForm

# One day at least (zero would delete a tip the night it arrives), ten years at most.
MIN_DAYS = 1
MAX_DAYS = 3650
STATUS_FIELD_PREFIX = "days_"


def _days_field(*, label, required: bool, help_text="") -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=required,
        min_value=MIN_DAYS,
        max_value=MAX_DAYS,
        help_text=help_text,
    )


class RetentionPolicyForm(StaffForm):
    """The default period and, per status, an optional period of its own (blank: the default)."""

    default_days = _days_field(
        label=_("Days every tip is kept"),
        required=True,
        help_text=_("Counted from the day a tip reached its current status."),
    )

    def __init__(self, data: Mapping[str, Any] | None = None, *, policy: RetentionPolicy) -> None:
        initial = {"default_days": policy.default_days}
        for status, _label in Tip.Status.choices:
            initial[STATUS_FIELD_PREFIX + status] = policy.status_days.get(status)
        super().__init__(data, initial=initial)
        for status, label in Tip.Status.choices:
            self.fields[STATUS_FIELD_PREFIX + status] = _days_field(
                label=_("Days kept when “%(status)s”") % {"status": label}, required=False
            )

    def status_fields(self) -> list[forms.BoundField]:
        return [self[STATUS_FIELD_PREFIX + status] for status in Tip.Status.values]

    def status_days(self) -> dict[str, int]:
        """The overrides given, by status value (after ``is_valid``)."""
        return {
            status: days
            for status in Tip.Status.values
            if (days := self.cleaned_data.get(STATUS_FIELD_PREFIX + status)) is not None
        }

    def proposed_policy(self) -> RetentionPolicy:
        """An unsaved policy with the form's values, for the preview (after ``is_valid``)."""
        return RetentionPolicy(
            default_days=self.cleaned_data["default_days"], status_days=self.status_days()
        )


class LegalHoldForm(StaffForm):
    # An explicit value, not a checkbox: an empty POST must never lift a hold.
    hold = forms.ChoiceField(choices=[("set", _("Set")), ("lift", _("Lift"))])


class RecoveryKeyRotateForm(StaffForm):
    passphrase = forms.CharField(
        label=_("Passphrase for the new key file"),
        strip=False,
        min_length=MIN_PASSPHRASE_CHARS,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    passphrase_again = forms.CharField(
        label=_("Passphrase, again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        passphrase, again = data.get("passphrase"), data.get("passphrase_again")
        if passphrase and again is not None and passphrase != again:
            raise forms.ValidationError(_("The two passphrases differ."))
        return data
