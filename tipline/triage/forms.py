"""Staff forms. Labels and messages are translated; nothing here touches keys."""

from __future__ import annotations

from typing import Any, TypeVar

from django import forms
from django.contrib.auth import password_validation
from django.db.models import QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from tipline.models import Tag, Tip

FieldT = TypeVar("FieldT", bound=forms.Field)


def _field(form: forms.BaseForm, name: str, kind: type[FieldT]) -> FieldT:
    """The form's own copy of a declared field, as the kind of field it was declared as."""
    field = form.fields[name]
    if not isinstance(field, kind):
        raise TypeError(f"field {name!r} is a {type(field).__name__}, not a {kind.__name__}")
    return field


class LoginForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    password = forms.CharField(label=_("Password"), strip=False, widget=forms.PasswordInput)
    code = forms.CharField(
        label=_("One-time code"),
        max_length=16,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(
        label=_("Current password"), strip=False, widget=forms.PasswordInput
    )
    new_password = forms.CharField(label=_("New password"), strip=False, widget=forms.PasswordInput)
    new_password_again = forms.CharField(
        label=_("New password, again"), strip=False, widget=forms.PasswordInput
    )

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        new, again = data.get("new_password"), data.get("new_password_again")
        if new and again and new != again:
            raise forms.ValidationError(_("The two new passwords differ."))
        if new:
            password_validation.validate_password(new, self.user)
        return data


def _status_choices(blank: str | Promise) -> list[tuple[str, str | Promise]]:
    return [("", blank), *Tip.Status.choices]


class InboxFilterForm(forms.Form):
    """The inbox's filters, read from the query string (GET: bookmarkable, no JS)."""

    status = forms.ChoiceField(label=_("Status"), required=False)
    tag: forms.ModelChoiceField[Tag] = forms.ModelChoiceField(
        label=_("Tag"), queryset=None, required=False
    )
    assignee = forms.ChoiceField(label=_("Assigned to"), required=False)
    has_files = forms.TypedChoiceField(
        label=_("Files"),
        required=False,
        choices=[("", _("Any")), ("yes", _("With files")), ("no", _("Without files"))],
        coerce=lambda value: value == "yes",
        empty_value=None,
    )
    unread = forms.TypedChoiceField(
        label=_("Messages"),
        required=False,
        choices=[("", _("Any")), ("yes", _("Unread messages from the source"))],
        coerce=lambda value: value == "yes",
        empty_value=None,
    )
    received_from = forms.DateField(
        label=_("Received from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    received_to = forms.DateField(
        label=_("Received until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(
        self, *args, staff_choices: list[tuple[str, str]], tags: QuerySet[Tag], **kwargs
    ) -> None:
        """``tags``: the ones the editor may see (``tipline.triage.inbox.readable_tags``)."""
        super().__init__(*args, **kwargs)
        _field(self, "status", forms.ChoiceField).choices = _status_choices(_("All"))
        # Only tags of tips the editor can read: a tag's name can say what a tip
        # the editor was never given is about (docs/staff.md, "Tags").
        _field(self, "tag", forms.ModelChoiceField).queryset = tags
        _field(self, "assignee", forms.ChoiceField).choices = [
            ("", _("Anyone")),
            ("me", _("Me")),
            ("none", _("Nobody")),
            *staff_choices,
        ]


class BulkStatusForm(forms.Form):
    tips = forms.MultipleChoiceField(required=True)  # references; choices set per request
    status = forms.ChoiceField(label=_("Set status of the selected tips to"))

    def __init__(self, *args, references: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _field(self, "tips", forms.ChoiceField).choices = [(ref, ref) for ref in references]
        _field(self, "status", forms.ChoiceField).choices = Tip.Status.choices


class FloodDiscardForm(forms.Form):
    # Discarding a flood changes hundreds of tips at once: a box to tick, as
    # for other actions that cannot be taken back in one click.
    confirm = forms.BooleanField(label=_("Yes, discard them"), required=True)


class TipStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Tip.Status.choices)


class TipAssigneeForm(forms.Form):
    assignee = forms.ChoiceField(label=_("Assigned to"), required=False)

    def __init__(self, *args, staff_choices: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _field(self, "assignee", forms.ChoiceField).choices = [
            ("", _("Nobody")),
            *staff_choices,
        ]


class TipTagsForm(forms.Form):
    tags = forms.CharField(
        label=_("Tags"),
        required=False,
        max_length=500,
        help_text=_(
            "Separated by commas. Tags are not encrypted, so they can be filtered on: "
            "never put a name or anything from the tip in them."
        ),
    )


class EditorNoteForm(forms.Form):
    body = forms.CharField(
        label=_("Internal note"),
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Seen only by editors who can read this tip; encrypted like the tip."),
    )


class GrantForm(forms.Form):
    recipient = forms.TypedChoiceField(label=_("Give access to"), coerce=int)

    def __init__(self, *args, recipients: list, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _field(self, "recipient", forms.ChoiceField).choices = [
            (key.pk, key.user.get_username()) for key in recipients
        ]
