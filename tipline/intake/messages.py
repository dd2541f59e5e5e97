"""What the source reads when a submission is refused. Calm, specific, translated."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _

MIB = 1024 * 1024


def megabytes(size: int) -> int:
    """A byte limit in the whole megabytes a source reads."""
    return size // MIB


def refusal_message(code: str) -> str:
    messages = {
        "too_many_files": _(
            "You can send at most %(count)d files at once. Nothing was stored: "
            "please choose fewer files and send again, or send the rest in a second tip."
        )
        % {"count": settings.TIPLINE_MAX_FILES},
        "file_too_large": _(
            "One file is larger than %(size)d MB. Nothing was stored: please leave it out "
            "or split it, and send again."
        )
        % {"size": megabytes(settings.TIPLINE_MAX_FILE_BYTES)},
        "tip_too_large": _(
            "All files together are larger than %(size)d MB. Nothing was stored: please "
            "send fewer files now and the rest in a second tip."
        )
        % {"size": megabytes(settings.TIPLINE_MAX_TIP_BYTES)},
        "broken_upload": _(
            "The upload did not arrive complete, so nothing was stored. Please try again."
        ),
        "empty": _("Write a note, add a link or attach a file before sending."),
        "storage_full": _(
            "The tip line cannot take files right now: its storage is almost full. Nothing "
            "was stored. Please try again later, or send your note and links without files."
        ),
        "form_expired": _(
            "This form has expired, so nothing was stored. Your text is still below: "
            "please check it and send again."
        ),
    }
    return messages[code]
