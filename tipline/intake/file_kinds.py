"""The kinds of file the tip line cleans, in the names a source knows them by.

The landing page lists them, so that a source knows before sending which files
lose their hidden information and which are kept as they are. The list is
filtered through the sanitizer's own dispatch (``tipline.sanitize.handler_for``):
a kind whose cleaner goes away drops off the page by itself. The other way, a
new cleaner without a name here, is caught by
tests/intake/test_source_pages_16.py, which reads every type the sniffer can
name.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

from tipline.sanitize import handler_for

GROUPS: dict[str, Promise] = {
    "pictures": pgettext_lazy("kinds of file", "Photos and pictures"),
    "videos": pgettext_lazy("kinds of file", "Videos"),
    "audio": pgettext_lazy("kinds of file", "Audio"),
    "documents": pgettext_lazy("kinds of file", "Documents"),
}

# (group, the type as the sniffer names it from the file's content, its common name).
# Several types may share a name: it is shown once.
KINDS: tuple[tuple[str, str, str], ...] = (
    ("pictures", "image/jpeg", "JPEG"),
    ("pictures", "image/heic", "HEIC"),
    ("pictures", "image/heif", "HEIF"),
    ("pictures", "image/png", "PNG"),
    ("pictures", "image/webp", "WebP"),
    ("pictures", "image/avif", "AVIF"),
    ("pictures", "image/gif", "GIF"),
    ("pictures", "image/tiff", "TIFF"),
    ("pictures", "image/bmp", "BMP"),
    ("pictures", "image/x-portable-anymap", "PNM"),
    ("pictures", "image/svg+xml", "SVG"),
    ("videos", "video/mp4", "MP4"),
    ("videos", "video/quicktime", "MOV"),
    ("videos", "video/3gpp", "3GP"),
    ("videos", "video/3gpp2", "3G2"),
    ("videos", "video/webm", "WebM"),
    ("videos", "video/x-matroska", "MKV"),
    ("videos", "video/x-msvideo", "AVI"),
    ("videos", "video/x-ms-asf", "WMV"),
    ("videos", "video/ogg", "Ogg"),
    ("audio", "audio/mpeg", "MP3"),
    ("audio", "audio/mp4", "M4A"),
    ("audio", "audio/aac", "AAC"),
    ("audio", "audio/ogg", "Ogg"),
    ("audio", "audio/flac", "FLAC"),
    ("audio", "audio/wav", "WAV"),
    ("audio", "audio/aiff", "AIFF"),
    ("documents", "application/pdf", "PDF"),
    (
        "documents",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "Word (.docx)",
    ),
    (
        "documents",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "Excel (.xlsx)",
    ),
    (
        "documents",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "PowerPoint (.pptx)",
    ),
    ("documents", "application/vnd.oasis.opendocument.text", "OpenDocument"),
    ("documents", "application/vnd.oasis.opendocument.spreadsheet", "OpenDocument"),
    ("documents", "application/vnd.oasis.opendocument.presentation", "OpenDocument"),
    ("documents", "application/vnd.oasis.opendocument.graphics", "OpenDocument"),
    ("documents", "application/vnd.oasis.opendocument.formula", "OpenDocument"),
    ("documents", "application/rtf", "RTF"),
)


@dataclass(frozen=True)
class CleanedGroup:
    label: Promise  # translated when the page renders
    names: tuple[str, ...]


@functools.cache
def _cleaned_names() -> tuple[tuple[str, tuple[str, ...]], ...]:
    # Asked once per process: the dispatch imports the cleaners (PyAV, pikepdf).
    by_group: dict[str, list[str]] = {group: [] for group in GROUPS}
    for group, mime, name in KINDS:
        if handler_for(mime) is not None and name not in by_group[group]:
            by_group[group].append(name)
    return tuple((group, tuple(names)) for group, names in by_group.items() if names)


def cleaned_kinds() -> list[CleanedGroup]:
    """The kinds of file whose hidden information is removed, by group, for a page."""
    return [CleanedGroup(GROUPS[group], names) for group, names in _cleaned_names()]
