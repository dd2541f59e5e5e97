"""The file-object types the stream classes take and are (not public API)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, BinaryIO, Protocol

__all__ = ["BinaryStream", "ByteSink", "SeekableSource"]


class SeekableSource(Protocol):
    """What ``DecryptingReader`` uses of its source: a file, a BytesIO, a storage's file.

    Some storage wrappers' ``seek()`` returns None instead of the new position.
    """

    def read(self, size: int = ..., /) -> bytes: ...

    def seek(self, offset: int, whence: int = ..., /) -> int | None: ...

    def tell(self) -> int: ...


class ByteSink(Protocol):
    """What ``EncryptingWriter`` uses of its sink: ``write`` and nothing else.

    Many duck-typed sinks (hash objects, upload parts) return None for "all of it".
    """

    def write(self, data: bytes | memoryview, /) -> int | None: ...


if TYPE_CHECKING:
    # The stream classes are binary file objects (io.RawIOBase) and are handed to
    # anything that takes one (Pillow, PyAV, zipfile, the sanitizers). typeshed
    # declares BinaryIO only on the concrete io classes (FileIO, BytesIO ...), not on
    # RawIOBase, so say it here as typeshed does for those; at run time the base is
    # io.RawIOBase alone.
    class BinaryStream(io.RawIOBase, BinaryIO):
        pass

else:
    BinaryStream = io.RawIOBase
