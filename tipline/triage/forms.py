"""Staff forms. Labels and messages are translated; nothing here touches keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django import forms
from django.contrib.auth import password_validation
from django.db.models import QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from tipline.models import Tag, Tip

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise

FieldT = TypeVar("FieldT", bound=forms.Field)


def _field(form: forms.BaseForm, name: str, kind: type[FieldT]) -> FieldT:
    """The form's own copy of a declared field, as the kind of field it was declared as."""
    field = form.fields[name]
    if not isinstance(field, kind):
        raise TypeError(f"field {name!r} is a {type(field).__name__}, not a {kind.__name__}")
    return field


class StaffForm(forms.Form):
    """Every staff form: labels without a trailing colon, like the source's form.

    Django adds ":" after each label by default; the source form has none, and
    one interface should not write labels two ways.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def chosen_password_check(
    form: forms.Form, *, field: str, again_field: str, user: Any, differ_message: StrOrPromise
) -> None:
    """A password chosen by typing it twice: both typings agree (else the form's own
    error), and it passes the validators, whose errors go under ``field``. ``user``
    may be unsaved: the similarity check only compares with its username."""
    password, again = form.cleaned_data.get(field), form.cleaned_data.get(again_field)
    if password and again and password != again:
        raise forms.ValidationError(differ_message)
    if password:
        try:
            password_validation.validate_password(password, user)
        except forms.ValidationError as error:
            form.add_error(field, error)


class LoginForm(StaffForm):
    username = forms.CharField(label=_("Username"), max_length=150)
    password = forms.CharField(label=_("Password"), strip=False, widget=forms.PasswordInput)
    code = forms.CharField(
        label=_("One-time code"),
        max_length=16,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


class PasswordChangeForm(StaffForm):
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
        chosen_password_check(
            self,
            field="new_password",
            again_field="new_password_again",
            user=self.user,
            differ_message=_("The two new passwords differ."),
        )
        return self.cleaned_data


def _status_choices(blank: str | Promise) -> list[tuple[str, str | Promise]]:
    return [("", blank), *Tip.Status.choices]


class InboxFilterForm(StaffForm):
    """The inbox's filters, read from the query string (GET: bookmarkable, no JS)."""

    status = forms.ChoiceField(label=_("Status"), required=False)
    tag: forms.ModelChoiceField[Tag] = forms.ModelChoiceField(
        label=_("Tag"), queryset=None, required=False, empty_label=_("All tags")
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


class BulkStatusForm(StaffForm):
    tips = forms.MultipleChoiceField(required=True)  # references; choices set per request
    status = forms.ChoiceField(label=_("Set status of the selected tips to"))

    def __init__(self, *args, references: list[str], **kwargs) -> None:
        # The inbox shows this form beside the filters, which have a status too:
        # ids of their own, so each label names its own select.
        kwargs.setdefault("auto_id", "bulk_%s")
        super().__init__(*args, **kwargs)
        _field(self, "tips", forms.ChoiceField).choices = [(ref, ref) for ref in references]
        _field(self, "status", forms.ChoiceField).choices = Tip.Status.choices


class FloodDiscardForm(StaffForm):
    # Discarding a flood changes hundreds of tips at once: a box to tick, as
    # for other actions that cannot be taken back in one click.
    confirm = forms.BooleanField(label=_("Yes, discard them"), required=True)


class TipStatusForm(StaffForm):
    status = forms.ChoiceField(label=_("Status"), choices=Tip.Status.choices)


class TipAssigneeForm(StaffForm):
    assignee = forms.ChoiceField(label=_("Assigned to"), required=False)

    def __init__(self, *args, staff_choices: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _field(self, "assignee", forms.ChoiceField).choices = [
            ("", _("Nobody")),
            *staff_choices,
        ]


class TipTagsForm(StaffForm):
    tags = forms.CharField(
        label=_("Tags"),
        required=False,
        max_length=500,
        help_text=_(
            "Separated by commas. Tags are not encrypted, so they can be filtered on: "
            "never put a name or anything from the tip in them."
        ),
    )


class EditorNoteForm(StaffForm):
    body = forms.CharField(
        label=_("Internal note"),
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Seen only by editors who can read this tip; encrypted like the tip."),
    )


class GrantForm(StaffForm):
    recipient = forms.TypedChoiceField(label=_("Give access to"), coerce=int)

    def __init__(self, *args, recipients: list, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _field(self, "recipient", forms.ChoiceField).choices = [
            (key.pk, key.user.get_username()) for key in recipients
        ]
