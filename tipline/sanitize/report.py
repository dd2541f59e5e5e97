"""What a sanitizer did to a file, as data.

The report is stored (encrypted) next to the cleaned file and shown to editors
in words by tipline/report_text.py. ``removed`` items use stable codes so the
wording can change and be translated without touching stored reports, and so
this package needs no Django. Reports never contain file content: only codes,
counts and our own fixed wording.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any


class SanitizeStatus(enum.StrEnum):
    CLEANED = "cleaned"  # metadata removed; pixels/text/samples not re-encoded
    CLEANED_REENCODED = "cleaned_reencoded"  # metadata removed by a lossy re-encode
    NOT_SANITIZED = "not_sanitized"  # a type we do not clean: stored unchanged
    DAMAGED = "damaged"  # could not be parsed (or over a limit): stored unchanged, not shown


@dataclasses.dataclass
class Removed:
    what: str
    count: int = 1


@dataclasses.dataclass
class Report:
    status: SanitizeStatus
    mime: str = "application/octet-stream"
    family: str = "other"
    extension: str = ""
    removed: list[Removed] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    reason: str = ""  # stable code for not_sanitized / damaged
    detail: str = ""  # our own technical wording, English, for operators

    def add(self, what: str, count: int = 1) -> None:
        """Record ``count`` removed items of kind ``what`` (merged by kind)."""
        if count <= 0:
            return
        for item in self.removed:
            if item.what == what:
                item.count += count
                return
        self.removed.append(Removed(what, count))

    def note(self, code: str) -> None:
        if code not in self.notes:
            self.notes.append(code)

    def count(self, what: str) -> int:
        return sum(item.count for item in self.removed if item.what == what)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["status"] = str(self.status)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        return cls(
            status=SanitizeStatus(data["status"]),
            mime=data.get("mime", "application/octet-stream"),
            family=data.get("family", "other"),
            extension=data.get("extension", ""),
            removed=[Removed(r["what"], int(r.get("count", 1))) for r in data.get("removed", [])],
            notes=list(data.get("notes", [])),
            reason=data.get("reason", ""),
            detail=data.get("detail", ""),
        )
