"""A sanitization report in words, in the active language: what editors and sources read.

The report itself is data with stable codes (tipline/sanitize/report.py, which
knows nothing of Django); this module turns it into translated sentences for
the tip page, the source's confirmation and the offline export.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from tipline.sanitize import Report, SanitizeStatus

# Removed items: a phrase for one kind, or a plural phrase counting items.
WHAT = {
    "gps": _("GPS location"),
    "camera": _("camera make and model"),
    "device": _("device serial numbers and identifiers"),
    "author": _("author name"),
    "software": _("software name and version"),
    "creation_time": _("dates and times"),
    "description": _("title, description and keywords"),
    "exif": _("camera settings (EXIF)"),
    "makernote": _("camera maker's private data"),
    "xmp": _("XMP metadata"),
    "iptc": _("IPTC and Photoshop metadata"),
    "icc": _("colour profile"),
    "trailing_data": _("hidden data after the end of the file"),
    "document_properties": _("document properties"),
    "document_id": _("document identifier"),
    "revision_ids": _("editing session identifiers"),
    "printer": _("printer settings"),
    "template": _("template location"),
    "javascript": _("scripts and automatic actions"),
    "macros": _("macros"),
    "private_data": _("application private data"),
    "earlier_versions": _("earlier versions of the document"),
    "tags": _("tags (title, artist, album ...)"),
    "encoder": _("encoder name"),
    "chapters": _("chapters"),
    "other": _("other metadata"),
}
COUNTED = {
    "comments": ngettext_lazy("%(count)d comment", "%(count)d comments", "count"),
    "thumbnail": ngettext_lazy(
        "%(count)d embedded preview image", "%(count)d embedded preview images", "count"
    ),
    "secondary_images": ngettext_lazy(
        "%(count)d extra image hidden in the file",
        "%(count)d extra images hidden in the file",
        "count",
    ),
    "revisions": ngettext_lazy("%(count)d tracked change", "%(count)d tracked changes", "count"),
    "embedded_files": ngettext_lazy("%(count)d embedded file", "%(count)d embedded files", "count"),
    "text": ngettext_lazy("%(count)d text field", "%(count)d text fields", "count"),
    "cover_art": ngettext_lazy("%(count)d cover image", "%(count)d cover images", "count"),
    "subtitles": ngettext_lazy("%(count)d subtitle track", "%(count)d subtitle tracks", "count"),
    "data_tracks": ngettext_lazy("%(count)d data track", "%(count)d data tracks", "count"),
    "annotations": ngettext_lazy(
        "%(count)d annotation author or date", "%(count)d annotation authors or dates", "count"
    ),
}
NOTES = {
    "orientation_kept": _("The picture's orientation was kept, so it shows the right way up."),
    "orientation_applied": _("The picture was turned the right way up."),
    "icc_kept": _("A standard colour profile was kept so colours look the same."),
    "icc_removed": _(
        "A non-standard colour profile was removed; colours may look slightly different."
    ),
    "reencoded": _("The picture was re-encoded at high quality."),
    "lossless": _("The picture itself was not changed."),
    "changes_accepted": _("Tracked changes were accepted: deleted text is gone."),
    "remuxed": _("Sound and pictures were copied without re-encoding."),
    "embedded_dropped": _("Embedded objects that could not be cleaned were removed."),
    "tracking_dots_masked": _(
        "Yellow printer tracking dots were found on this printed page and covered over. "
        "Other printer marks may remain: check before publishing."
    ),
    "tracking_dots_possible": _(
        "This looks like a printed page. Printers can hide tiny yellow tracking dots "
        "that identify the printer; none could be found and removed here. "
        "Check before publishing."
    ),
}
FAMILY_DAMAGED = {
    "image": _("Damaged image, stored unchanged and not shown"),
    "pdf": _("Damaged PDF, stored unchanged and not shown"),
    "office": _("Damaged document, stored unchanged and not shown"),
    "video": _("Damaged video, stored unchanged and not shown"),
    "audio": _("Damaged audio file, stored unchanged and not shown"),
    "other": _("Damaged file, stored unchanged and not shown"),
}
REASONS = {
    "unsupported_type": _(
        "This type of file is not supported: it was stored unchanged, with "
        "any metadata it contains."
    ),
    "unsupported_variant": _(
        "This variant of the format is not supported: it was stored "
        "unchanged, with any metadata it contains."
    ),
    "encrypted": _("The file is password-protected, so it could not be cleaned."),
    "too_many_pixels": _("The image is larger than the size limit."),
    "too_many_frames": _("The file has more frames or pages than the limit."),
    "too_large": _("The file is larger than the size limit."),
    "zip_bomb": _("The file expands to more than the size limit."),
    "too_many_streams": _("The file has more tracks than the limit."),
    "too_slow": _("Cleaning took longer than the time limit."),
    "xml_attack": _("The file contains a forbidden XML construct."),
    "nested_too_deep": _("The file nests documents too deeply."),
    "truncated": _("The file is incomplete."),
    "bad_structure": _("The file's structure is broken."),
    "bad_xml": _("The document's XML is broken."),
    "bad_zip": _("The archive is broken."),
    "bad_checksum": _("The file's checksums do not match its content."),
    "unreadable": _("The file could not be read."),
}
STATUS = {
    SanitizeStatus.CLEANED: _("Metadata removed. The content was not re-encoded."),
    SanitizeStatus.CLEANED_REENCODED: _(
        "Metadata removed. The content was re-encoded at high quality."
    ),
    SanitizeStatus.NOT_SANITIZED: _("Not cleaned: stored unchanged."),
}

# Notes that only repeat what the status line says ("not re-encoded"): said once, by the status.
RESTATES_STATUS = {
    SanitizeStatus.CLEANED: {"lossless", "remuxed"},
    SanitizeStatus.CLEANED_REENCODED: {"reencoded"},
}


def describe(report: Report) -> list[str]:
    """Sentences for a person, in the active language.

    The first item says what happened to the file; for damaged or unsupported
    files a second item may say why. Then one phrase per removed kind ("GPS
    location", "3 comments") and one sentence per note.
    """
    lines: list[str] = []
    if report.status == SanitizeStatus.DAMAGED:
        lines.append(str(FAMILY_DAMAGED.get(report.family, FAMILY_DAMAGED["other"])))
    else:
        lines.append(str(STATUS[report.status]))
    if report.reason in REASONS:
        lines.append(str(REASONS[report.reason]))
    for item in report.removed:
        if item.what in COUNTED:
            lines.append(str(COUNTED[item.what] % {"count": item.count}))
        else:
            lines.append(str(WHAT.get(item.what, WHAT["other"])))
    repeated = RESTATES_STATUS.get(report.status, set())
    for code in report.notes:
        if code in NOTES and code not in repeated:
            lines.append(str(NOTES[code]))
    return lines


def report_lines(report: Report | None) -> list[str]:
    """The report in sentences, or [] for a file not processed yet."""
    return [str(line) for line in describe(report)] if report else []
