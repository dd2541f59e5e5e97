"""File names a source chose, made safe to show and to write on any file system.

Shared by the staff downloads (Content-Disposition) and the offline export.
"""

from __future__ import annotations

import unicodedata

MAX_NAME_BYTES = 150
WINDOWS_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}
UNSAFE_CHARS = set('<>:"/\\|?*')


def safe_filename(name: str, *, fallback: str) -> str:
    """A name that is safe on any file system and cannot hide its real extension.

    Drops path separators, control and bidirectional-override characters (a
    right-to-left override can make ``gpj.exe`` read as ``exe.jpg``), leading
    dots, and Windows device names; keeps the extension when shortening.
    """
    name = unicodedata.normalize("NFC", name)
    kept = "".join(
        "_" if char in UNSAFE_CHARS else char
        for char in name
        if unicodedata.category(char)[0] != "C"  # Cc control, Cf format (bidi), Co, Cn
    )
    kept = kept.strip().lstrip(".").strip()
    stem, dot, extension = kept.rpartition(".")
    if not dot:
        stem, extension = kept, ""
    if not stem or stem.upper().split(".")[0] in WINDOWS_RESERVED:
        stem = f"_{stem}" if stem else fallback
    extension = extension[:16]
    suffix = f".{extension}" if extension else ""
    while len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return stem + suffix
