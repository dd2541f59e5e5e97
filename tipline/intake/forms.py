"""The source form's text fields. Files never pass through a Django form field:
the encrypting upload handler takes them as they arrive."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

MAX_LINK_CHARS = 2000


class TipForm(forms.Form):
    note = forms.CharField(
        label=_("Your note"),
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 8, "autocomplete": "off", "spellcheck": "false"}),
        help_text=_(
            "What happened, where and when, who is involved. "
            "Leave out anything that could identify you."
        ),
    )
    links = forms.CharField(
        label=_("Links"),
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false", "inputmode": "url"}
        ),
        help_text=_("One per line."),
    )

    def clean_note(self) -> str:
        note = self.cleaned_data["note"]
        limit = settings.TIPLINE_MAX_NOTE_CHARS
        if len(note) > limit:
            raise forms.ValidationError(
                _("The note is too long: at most %(limit)d characters (it has %(length)d).")
                % {"limit": limit, "length": len(note)}
            )
        return note

    def clean_links(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["links"].splitlines()]
        links = [line for line in lines if line]
        if len(links) > settings.TIPLINE_MAX_LINKS:
            raise forms.ValidationError(
                ngettext(
                    "Send at most %(count)d link.",
                    "Send at most %(count)d links.",
                    settings.TIPLINE_MAX_LINKS,
                )
                % {"count": settings.TIPLINE_MAX_LINKS}
            )
        if any(len(link) > MAX_LINK_CHARS for link in links):
            raise forms.ValidationError(_("One of the links is too long."))
        return links

    def is_blank(self) -> bool:
        return not self.cleaned_data.get("note") and not self.cleaned_data.get("links")


class ComeBackForm(forms.Form):
    """The receipt passphrase. No length limit here: a long one is cut, not refused, so
    every answer takes the time of a real check (tipline/conversation/passphrase.py)."""

    passphrase = forms.CharField(
        label=_("Your receipt passphrase"),
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"}),
    )


class SourceMessageForm(forms.Form):
    # Not required: files alone may be sent (the view asks for one or the other).
    message = forms.CharField(
        label=_("Your message"),
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
