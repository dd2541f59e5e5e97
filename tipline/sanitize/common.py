"""Plumbing shared by the sanitizers: the per-file context and stream helpers."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from typing import BinaryIO

from .limits import Damaged, Deadline, Limits
from .report import Report, SanitizeStatus
from .sniff import FileKind

CHUNK = 1024 * 1024
ScratchFactory = Callable[[], BinaryIO]


@dataclasses.dataclass
class Context:
    kind: FileKind
    limits: Limits
    scratch_factory: ScratchFactory = io.BytesIO
    # A nested document shares its parent's deadline; the outermost one starts it.
    shared_deadline: dataclasses.InitVar[Deadline | None] = None
    depth: int = 0  # documents nested inside documents
    deadline: Deadline = dataclasses.field(init=False)

    def __post_init__(self, shared_deadline: Deadline | None) -> None:
        if shared_deadline is None:
            shared_deadline = Deadline(self.limits.max_seconds)
        self.deadline = shared_deadline

    def new_report(self, status: SanitizeStatus = SanitizeStatus.CLEANED) -> Report:
        return Report(
            status=status,
            mime=self.kind.mime,
            family=self.kind.family,
            extension=self.kind.extension,
        )

    def nested(self, kind: FileKind) -> Context:
        return Context(kind, self.limits, self.scratch_factory, self.deadline, self.depth + 1)


def copy_stream(src: BinaryIO, dst: BinaryIO, chunk: int = CHUNK) -> int:
    total = 0
    while data := src.read(chunk):
        dst.write(data)
        total += len(data)
    return total


def stream_size(src: BinaryIO) -> int:
    position = src.tell()
    size = src.seek(0, io.SEEK_END)
    src.seek(position)
    return size


class Reader:
    """A buffered reader over a file object that raises ``Damaged`` on short reads."""

    def __init__(self, src: BinaryIO, chunk: int = CHUNK) -> None:
        self.src = src
        self.chunk = chunk
        self.buf = b""
        self.pos = 0
        self.eof = False
        self.consumed = 0  # bytes dropped from the front of buf so far

    def fill(self, need: int) -> bool:
        """Make ``need`` bytes available from ``pos``; False at end of file."""
        have = len(self.buf) - self.pos
        if have >= need:
            return True
        parts = [self.buf[self.pos :]]
        while have < need and not self.eof:
            data = self.src.read(max(self.chunk, need - have))
            if not data:
                self.eof = True
                break
            parts.append(data)
            have += len(data)
        self.consumed += self.pos
        self.buf = b"".join(parts)
        self.pos = 0
        return have >= need

    def read(self, n: int) -> bytes:
        if not self.fill(n):
            raise Damaged("truncated", "unexpected end of file")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def peek(self, n: int) -> bytes:
        self.fill(n)
        return self.buf[self.pos : self.pos + n]

    def at_eof(self) -> bool:
        return not self.fill(1)

    def tell(self) -> int:
        return self.consumed + self.pos

    def copy(self, n: int, dst: BinaryIO) -> None:
        """Copy ``n`` bytes to ``dst`` without holding them all in memory."""
        while n > 0:
            if not self.fill(1):
                raise Damaged("truncated", "unexpected end of file")
            take = min(n, len(self.buf) - self.pos)
            dst.write(self.buf[self.pos : self.pos + take])
            self.pos += take
            n -= take

    def skip(self, n: int) -> None:
        available = len(self.buf) - self.pos
        if n <= available:
            self.pos += n
            return
        self.consumed += len(self.buf) + (n - available)
        self.buf, self.pos = b"", 0
        if self.consumed > stream_size(self.src):
            raise Damaged("truncated", "unexpected end of file")
        self.src.seek(self.consumed)
        self.eof = False

    def remaining(self) -> int:
        """Bytes left from the current position to the end of the file."""
        return stream_size(self.src) - self.tell()
