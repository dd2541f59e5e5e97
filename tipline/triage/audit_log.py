"""The audit log in words, for the admins' page: one sentence per entry, links where they lead.

Only how an entry is shown lives here. What is stored (and hashed, see
``tipline.audit``) is read, never changed, so ``verify_audit_log`` checks the
same entries this page describes.

Stored values become the words the rest of the interface uses: a status value
becomes its label ("in_review" → "In review"), a list of tags a list in words,
``inline: True`` "viewed in the browser". A detail of an unexpected shape (an
entry written by an older version, or a row tampered with) is never a reason to
fail the page: the action's label is shown with the stored values as they are,
and keys a sentence does not use are listed after it, so nothing stored is
hidden from the admin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from tipline.accounts.session import Editor
from tipline.audit import COMMAND_LINE_ACTOR, NOBODY, RETENTION_ACTOR, SYSTEM_ACTOR, Action
from tipline.models import AuditEntry, Tip
from tipline.triage.inbox import readable_tips

ACTION_LABELS: dict[str, Promise] = {
    Action.LOGIN: gettext_lazy("Logged in"),
    Action.LOGIN_FAILED: gettext_lazy("Failed login"),
    Action.LOGOUT: gettext_lazy("Logged out"),
    Action.PASSWORD_CHANGED: gettext_lazy("Changed password"),
    Action.TIP_VIEWED: gettext_lazy("Viewed tip"),
    Action.FILE_DOWNLOADED: gettext_lazy("Downloaded file"),
    Action.STATUS_CHANGED: gettext_lazy("Changed status"),
    Action.ASSIGNEE_CHANGED: gettext_lazy("Changed assignee"),
    Action.TAGS_CHANGED: gettext_lazy("Changed tags"),
    Action.NOTE_ADDED: gettext_lazy("Added note"),
    Action.GRANT_ADDED: gettext_lazy("Granted access"),
    Action.GRANT_REVOKED: gettext_lazy("Revoked access"),
    Action.REVOCATION_LIFTED: gettext_lazy("Lifted a revocation"),
    Action.EDITOR_CREATED: gettext_lazy("Created editor"),
    Action.EDITOR_DEACTIVATED: gettext_lazy("Deactivated editor"),
    Action.TIP_DELETED: gettext_lazy("Deleted tip"),
    Action.RETENTION_CHANGED: gettext_lazy("Changed retention policy"),
    Action.LEGAL_HOLD_SET: gettext_lazy("Set legal hold"),
    Action.LEGAL_HOLD_LIFTED: gettext_lazy("Lifted legal hold"),
    Action.UPLOADS_SWEPT: gettext_lazy("Deleted abandoned uploads"),
    Action.SECOND_FACTOR_RESET: gettext_lazy("Second factor reset"),
    Action.ENROLMENT_BEGUN: gettext_lazy("Signed in to set up a second factor"),
    Action.SECOND_FACTOR_ENROLLED: gettext_lazy("Set up a second factor"),
    Action.RECOVERY_KEY_ROTATED: gettext_lazy("Rotated recovery key"),
    Action.RECOVERY_KEY_CREATED: gettext_lazy("Created recovery key"),
    Action.PIPELINE_KEY_REGISTERED: gettext_lazy("Registered the worker's key"),
    Action.PIPELINE_KEY_ROTATED: gettext_lazy("Replaced the worker's key"),
    Action.FLOOD_DISCARDED: gettext_lazy("Discarded the tips of a flood"),
    Action.REPLY_SENT: gettext_lazy("Replied to the source"),
    Action.REPLY_DELETED: gettext_lazy("Deleted a reply to the source"),
    Action.CONVERSATION_CLOSED: gettext_lazy("Closed the conversation with the source"),
}

# The names the log stores for what no account does, in the reader's language.
FIXED_ACTORS: dict[str, Promise] = {
    RETENTION_ACTOR: gettext_lazy("The retention policy"),
    COMMAND_LINE_ACTOR: gettext_lazy("The command line"),
    SYSTEM_ACTOR: gettext_lazy("The tip line"),
}


class _Unexpected(Exception):
    """The stored detail does not have the shape this version writes."""


@dataclass(frozen=True)
class Links:
    """What the viewer may open from the log: tips they can read, accounts on the editors page."""

    tips: frozenset[str]
    editors: dict[str, int]  # username → account id (the row's anchor on the editors page)

    def editor(self, name: str) -> SafeString:
        if name not in self.editors:
            return conditional_escape(name)
        url = f"{reverse('staff:editors')}#editor-{self.editors[name]}"
        return format_html('<a href="{}">{}</a>', url, name)

    def tip(self, reference: str) -> SafeString:
        if reference not in self.tips:
            return conditional_escape(reference)
        return format_html(
            '<a href="{}" class="reference">{}</a>',
            reverse("staff:tip", args=[reference]),
            reference,
        )


class _Detail:
    """An entry's detail read key by key, each value checked for the type this version writes."""

    def __init__(self, raw: object) -> None:
        if not isinstance(raw, dict):
            raise _Unexpected
        self._raw: dict[str, Any] = raw
        self._read: set[str] = set()

    def _value(self, key: str, kind: type | tuple[type, ...]) -> Any:
        self._read.add(key)
        value = self._raw.get(key)
        # bool is an int to Python; a count stored as true is not a count.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise _Unexpected
        return value

    def has(self, key: str) -> bool:
        return key in self._raw

    def text(self, key: str) -> str:
        return self._value(key, str)

    def number(self, key: str, *, default: int | None = None) -> int:
        if default is not None and key not in self._raw:
            return default
        return self._value(key, int)

    def flag(self, key: str, *, default: bool | None = None) -> bool:
        if default is not None and key not in self._raw:
            return default
        return self._value(key, bool)

    def texts(self, key: str) -> list[str]:
        values = self._value(key, list)
        if not all(isinstance(value, str) for value in values):
            raise _Unexpected
        return values

    def days(self, key: str) -> dict[str, int]:
        values = self._value(key, dict)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values.values()):
            raise _Unexpected
        return values

    def unused(self) -> list[tuple[str, Any]]:
        """The stored keys no sentence read: shown after it, so nothing stored is hidden."""
        return sorted((key, value) for key, value in self._raw.items() if key not in self._read)


def _say(template: str, **values: str | int) -> SafeString:
    """A translated sentence with its values escaped (links, being SafeStrings, stay links)."""
    escaped = {
        key: conditional_escape(value if isinstance(value, str) else str(value))
        for key, value in values.items()
    }
    return mark_safe(conditional_escape(template) % escaped)  # noqa: S308 - every part escaped


def _join(parts: Iterable[SafeString | str], separator: str = " ") -> SafeString:
    return mark_safe(separator.join(conditional_escape(part) for part in parts))  # noqa: S308


def _status(value: str) -> str:
    return str(Tip.Status(value).label) if value in Tip.Status.values else value


def _code(value: str) -> SafeString:
    return format_html("<code>{}</code>", value)


def plain_value(value: Any) -> str:
    """A stored value in words: lists comma-separated, true/false as yes/no."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(plain_value(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {plain_value(item)}" for key, item in sorted(value.items()))
    return str(value)


def _pairs(pairs: list[tuple[str, Any]]) -> SafeString:
    return _join(
        (_say(_("%(key)s: %(value)s"), key=k, value=plain_value(v)) for k, v in pairs), "; "
    )


# --- One sentence per kind of action -----------------------------------------------------

Sentence = Callable[[_Detail, Links], SafeString]


def _fixed(text: Promise) -> Sentence:
    return lambda _detail, _links: conditional_escape(str(text))


def _status_changed(detail: _Detail, links: Links) -> SafeString:
    return _say(
        _("Changed the status from “%(before)s” to “%(after)s”."),
        before=_status(detail.text("from")),
        after=_status(detail.text("to")),
    )


def _assignee_changed(detail: _Detail, links: Links) -> SafeString:
    name = detail.text("to")
    if not name:
        return _say(_("Left the tip assigned to nobody."))
    return _say(_("Assigned the tip to %(editor)s."), editor=links.editor(name))


def _tags_changed(detail: _Detail, links: Links) -> SafeString:
    tags = detail.texts("tags")
    if not tags:
        return _say(_("Removed every tag."))
    return _say(_("Set the tags to: %(tags)s."), tags=", ".join(tags))


def _file_served(detail: _Detail, links: Links) -> SafeString:
    number = detail.number("file")
    if detail.flag("inline", default=False):
        return _say(_("Viewed file %(number)s in the browser."), number=number)
    return _say(_("Downloaded file %(number)s."), number=number)


def _grant_added(detail: _Detail, links: Links) -> SafeString:
    return _say(_("Gave %(editor)s access to the tip."), editor=links.editor(detail.text("to")))


def _grant_revoked(detail: _Detail, links: Links) -> SafeString:
    return _say(
        _("Took away the access of %(editor)s to the tip."),
        editor=links.editor(detail.text("from")),
    )


def _revocation_lifted(detail: _Detail, links: Links) -> SafeString:
    return _say(
        _("Allowed %(editor)s to be given access to the tip again."),
        editor=links.editor(detail.text("for")),
    )


def _editor_created(detail: _Detail, links: Links) -> SafeString:
    editor = links.editor(detail.text("editor"))
    if detail.flag("admin"):
        sentence = _say(_("Created the admin account %(editor)s."), editor=editor)
    else:
        sentence = _say(_("Created the editor account %(editor)s."), editor=editor)
    if detail.flag("sign_in_code", default=False):
        return _join([sentence, _("A one-time sign-in code was issued for the first sign-in.")])
    return sentence


def _editor_deactivated(detail: _Detail, links: Links) -> SafeString:
    removed = detail.number("grants_removed")
    return _say(
        ngettext(
            "Deactivated %(editor)s; their access to %(count)s tip was deleted.",
            "Deactivated %(editor)s; their access to %(count)s tips was deleted.",
            removed,
        ),
        editor=links.editor(detail.text("editor")),
        count=removed,
    )


def _second_factor_reset(detail: _Detail, links: Links) -> SafeString:
    return _say(
        _("Reset the second factor of %(editor)s."), editor=links.editor(detail.text("editor"))
    )


def _second_factor_enrolled(detail: _Detail, links: Links) -> SafeString:
    if detail.flag("password_changed"):
        return _say(_("Set up their authenticator and chose their own password."))
    return _say(_("Set up their authenticator."))


def _password_changed(detail: _Detail, links: Links) -> SafeString:
    moved, dropped = detail.number("grants_moved"), detail.number("grants_dropped")
    detail.text("previous")  # the old key is on record; the sentence names the new one
    parts = [
        _say(_("Changed their password; their new key is %(key)s."), key=_code(detail.text("key"))),
        _say(
            ngettext("%(count)s tip moved to it.", "%(count)s tips moved to it.", moved),
            count=moved,
        ),
    ]
    if dropped:
        parts.append(_dropped_grants(dropped))
    return _join(parts)


def _dropped_grants(count: int) -> SafeString:
    return _say(
        ngettext(
            "%(count)s tip could not be moved (its access was damaged).",
            "%(count)s tips could not be moved (their access was damaged).",
            count,
        ),
        count=count,
    )


def _tips_given(count: int) -> SafeString:
    return _say(
        ngettext("%(count)s tip given to it.", "%(count)s tips given to it.", count), count=count
    )


def _recovery_key(detail: _Detail, links: Links) -> SafeString:
    key, previous = detail.text("fingerprint"), detail.text("previous")
    if previous:
        parts = [
            _say(
                _("Replaced the recovery key %(previous)s with %(key)s."),
                previous=_code(previous),
                key=_code(key),
            )
        ]
    else:
        parts = [_say(_("Created the recovery key %(key)s."), key=_code(key))]
    parts.append(_tips_given(detail.number("tips_granted")))
    not_granted = detail.number("tips_not_granted", default=0)
    if not_granted:
        parts.append(
            _say(
                ngettext(
                    "%(count)s tip the admin could not read was not given to it.",
                    "%(count)s tips the admin could not read were not given to it.",
                    not_granted,
                ),
                count=not_granted,
            )
        )
    return _join(parts)


def _pipeline_key(detail: _Detail, links: Links) -> SafeString:
    key, previous = detail.text("fingerprint"), detail.text("previous")
    if previous:
        first = _say(
            _("Replaced the worker's key %(previous)s with %(key)s."),
            previous=_code(previous),
            key=_code(key),
        )
    else:
        first = _say(_("Registered the worker's key %(key)s."), key=_code(key))
    parts = [first]
    if detail.has("grants_moved"):
        moved = detail.number("grants_moved")
        parts.append(
            _say(
                ngettext(
                    "%(count)s tip still being processed moved to it.",
                    "%(count)s tips still being processed moved to it.",
                    moved,
                ),
                count=moved,
            )
        )
    unreadable = detail.number("grants_unreadable", default=0)
    if unreadable:
        parts.append(_dropped_grants(unreadable))
    return _join(parts)


def _tip_deleted(detail: _Detail, links: Links) -> SafeString:
    if detail.has("purge"):
        if detail.text("purge") != "finished":
            raise _Unexpected
        return _say(_("Deleted the tip: finished a deletion that had been interrupted."))
    status, _colon, days = detail.text("policy").partition(":")
    if not days.isdigit():
        raise _Unexpected
    return _say(
        ngettext(
            "Deleted the tip: it had been “%(status)s” for longer than the %(days)s day the "
            "retention policy keeps it.",
            "Deleted the tip: it had been “%(status)s” for longer than the %(days)s days the "
            "retention policy keeps it.",
            int(days),
        ),
        status=_status(status),
        days=days,
    )


def _period(days: int | None) -> str:
    if days is None:
        return _("the default period")
    return ngettext("%(count)s day", "%(count)s days", days) % {"count": days}


def _retention_changed(detail: _Detail, links: Links) -> SafeString:
    before, after = detail.days("from"), detail.days("to")
    changes = []
    for key in sorted(set(before) | set(after), key=lambda k: (k != "default", k)):
        if before.get(key) == after.get(key):
            continue
        what = (
            _("every tip")
            if key == "default"
            else _("the status “%(status)s”") % {"status": _status(key)}
        )
        changes.append(
            _("%(what)s: from %(before)s to %(after)s")
            % {"what": what, "before": _period(before.get(key)), "after": _period(after.get(key))}
        )
    return _say(_("Changed the retention policy: %(changes)s."), changes="; ".join(changes))


# Each count of the sweep in words (ngettext spelled out for each, where makemessages finds it).
_SWEPT_COUNTS: dict[str, Callable[[int], str]] = {
    "files_failed": lambda count: ngettext(
        "%(count)s file never processed was marked as failed",
        "%(count)s files never processed were marked as failed",
        count,
    ),
    "orphans": lambda count: ngettext(
        "%(count)s stored file that belonged to no tip was deleted",
        "%(count)s stored files that belonged to no tip were deleted",
        count,
    ),
    "pending_uploads": lambda count: ngettext(
        "%(count)s file sent ahead without a tip was deleted",
        "%(count)s files sent ahead without a tip were deleted",
        count,
    ),
    "interrupted_uploads": lambda count: ngettext(
        "%(count)s interrupted upload to the storage was cancelled",
        "%(count)s interrupted uploads to the storage were cancelled",
        count,
    ),
}


def _uploads_swept(detail: _Detail, links: Links) -> SafeString:
    parts = []
    for key, words in _SWEPT_COUNTS.items():
        count = detail.number(key, default=0)
        if count:
            parts.append(words(count) % {"count": count})
    return _say(_("Cleaned up abandoned uploads: %(counts)s."), counts="; ".join(parts))


def _flood_discarded(detail: _Detail, links: Links) -> SafeString:
    count = detail.number("count")
    return _say(
        ngettext(
            "Discarded %(count)s tip that arrived during a flood.",
            "Discarded %(count)s tips that arrived during a flood.",
            count,
        ),
        count=count,
    )


SENTENCES: dict[str, Sentence] = {
    Action.LOGIN: _fixed(gettext_lazy("Signed in.")),
    Action.LOGIN_FAILED: _fixed(gettext_lazy("A sign-in failed (the name typed is not recorded).")),
    Action.LOGOUT: _fixed(gettext_lazy("Signed out.")),
    Action.PASSWORD_CHANGED: _password_changed,
    Action.TIP_VIEWED: _fixed(gettext_lazy("Opened the tip.")),
    Action.FILE_DOWNLOADED: _file_served,
    Action.STATUS_CHANGED: _status_changed,
    Action.ASSIGNEE_CHANGED: _assignee_changed,
    Action.TAGS_CHANGED: _tags_changed,
    Action.NOTE_ADDED: _fixed(gettext_lazy("Added an internal note.")),
    Action.GRANT_ADDED: _grant_added,
    Action.GRANT_REVOKED: _grant_revoked,
    Action.REVOCATION_LIFTED: _revocation_lifted,
    Action.EDITOR_CREATED: _editor_created,
    Action.EDITOR_DEACTIVATED: _editor_deactivated,
    Action.TIP_DELETED: _tip_deleted,
    Action.RETENTION_CHANGED: _retention_changed,
    Action.LEGAL_HOLD_SET: _fixed(gettext_lazy("Set a legal hold on the tip.")),
    Action.LEGAL_HOLD_LIFTED: _fixed(gettext_lazy("Lifted the legal hold on the tip.")),
    Action.UPLOADS_SWEPT: _uploads_swept,
    Action.SECOND_FACTOR_RESET: _second_factor_reset,
    Action.ENROLMENT_BEGUN: _fixed(
        gettext_lazy("Signed in with a sign-in code to set up a second factor.")
    ),
    Action.SECOND_FACTOR_ENROLLED: _second_factor_enrolled,
    Action.RECOVERY_KEY_ROTATED: _recovery_key,
    Action.RECOVERY_KEY_CREATED: _recovery_key,
    Action.PIPELINE_KEY_REGISTERED: _pipeline_key,
    Action.PIPELINE_KEY_ROTATED: _pipeline_key,
    Action.FLOOD_DISCARDED: _flood_discarded,
    Action.REPLY_SENT: _fixed(gettext_lazy("Sent a reply to the source.")),
    Action.REPLY_DELETED: _fixed(gettext_lazy("Deleted a reply to the source.")),
    Action.CONVERSATION_CLOSED: _fixed(gettext_lazy("Closed the conversation with the source.")),
}


# --- The page's rows ---------------------------------------------------------------------


@dataclass(frozen=True)
class AuditRow:
    entry: AuditEntry
    actor: SafeString
    sentence: SafeString
    tip: SafeString


def _sentence(entry: AuditEntry, links: Links) -> SafeString:
    """The entry in words; the label and the stored values as they are when they do not fit."""
    label = str(ACTION_LABELS.get(entry.action, entry.action))
    write = SENTENCES.get(entry.action)
    try:
        if write is None:
            raise _Unexpected
        detail = _Detail(entry.detail)
        sentence = write(detail, links)
        rest = detail.unused()
    except _Unexpected:
        raw = entry.detail
        pairs = sorted(raw.items()) if isinstance(raw, dict) else [("", raw)] if raw else []
        if not pairs:
            return conditional_escape(label)
        return _say(_("%(label)s (recorded: %(values)s)"), label=label, values=_raw_pairs(pairs))
    if not rest:
        return sentence
    return _join([sentence, _say(_("Also recorded: %(values)s."), values=_pairs(rest))])


def _raw_pairs(pairs: list[tuple[str, Any]]) -> SafeString:
    return _join(
        (_say("%(value)s", value=plain_value(v)) if not k else _pairs([(k, v)]) for k, v in pairs),
        "; ",
    )


def _actor(name: str, links: Links) -> SafeString:
    if name == NOBODY:
        return conditional_escape("—")
    if name in FIXED_ACTORS:
        return conditional_escape(str(FIXED_ACTORS[name]))
    return links.editor(name)


def _links(entries: list[AuditEntry], editor: Editor) -> Links:
    """Which of these entries' tips and accounts the viewer can open: two queries per page."""
    references = {entry.tip_reference for entry in entries if entry.tip_reference}
    readable = readable_tips(editor).filter(reference__in=references)
    names = {entry.actor for entry in entries} | {
        value
        for entry in entries
        if isinstance(entry.detail, dict)
        for key, value in entry.detail.items()
        if key in ("editor", "to", "from", "for") and isinstance(value, str)
    }
    accounts = get_user_model().objects.filter(is_staff=True, username__in=names)
    return Links(
        tips=frozenset(readable.values_list("reference", flat=True)),
        editors=dict(accounts.values_list("username", "pk")),
    )


def audit_rows(entries: Iterable[AuditEntry], *, editor: Editor) -> list[AuditRow]:
    """The page's entries in words, with links to what ``editor`` (an admin) may open."""
    page = list(entries)
    links = _links(page, editor)
    return [
        AuditRow(
            entry=entry,
            actor=_actor(entry.actor, links),
            sentence=_sentence(entry, links),
            tip=links.tip(entry.tip_reference),
        )
        for entry in page
    ]
