"""Private files: the writeback pacing that lets the disk work while an upload still arrives."""

from __future__ import annotations

import os

import pytest

from tipline.private_files import WritebackPacer, private_file_create
from tipline.storage import BlobFileSystemStorage

MIB = 1024 * 1024


@pytest.fixture
def fadvise_calls(monkeypatch):
    calls: list[tuple[int, int, int]] = []
    real = os.posix_fadvise

    def recording(descriptor, offset, length, advice):
        calls.append((offset, length, advice))
        real(descriptor, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", recording)
    return calls


def test_writeback_is_started_every_few_mib_for_what_was_written_since(tmp_path, fadvise_calls):
    descriptor = private_file_create(tmp_path / "blob")
    try:
        pacer = WritebackPacer(descriptor, start=100)
        block = b"\0" * MIB
        for _ in range(9):
            os.write(descriptor, block)
            pacer.wrote(len(block))
    finally:
        os.close(descriptor)
    every = WritebackPacer.EVERY_BYTES
    assert fadvise_calls == [
        (100, every, os.POSIX_FADV_DONTNEED),
        (100 + every, every, os.POSIX_FADV_DONTNEED),
    ]


def test_a_small_file_is_left_to_its_fsync(tmp_path, fadvise_calls):
    storage = BlobFileSystemStorage(location=tmp_path)
    with storage.open("raw/ab/" + "a" * 32, "wb") as blob:
        blob.write(b"x" * (WritebackPacer.EVERY_BYTES - 1))
    assert fadvise_calls == []


def test_a_long_blob_starts_its_writeback_while_it_is_written(tmp_path, fadvise_calls):
    storage = BlobFileSystemStorage(location=tmp_path)
    data = os.urandom(MIB)
    with storage.open("raw/ab/" + "b" * 32, "wb") as blob:
        for _ in range(10):
            blob.write(data)
    assert len(fadvise_calls) == 2
    # What the cache was told it may drop is what is on the disk, whole.
    assert (tmp_path / "raw/ab" / ("b" * 32)).read_bytes() == data * 10


def test_missing_parent_folders_are_made_0700_whatever_the_umask(tmp_path):
    from tipline.private_files import private_dir_ensure

    previous = os.umask(0o022)
    try:
        private_dir_ensure(tmp_path / "a" / "b" / "c")
    finally:
        os.umask(previous)
    for folder in ("a", "a/b", "a/b/c"):
        assert (tmp_path / folder).stat().st_mode & 0o777 == 0o700, folder
