"""Shared fixtures: the whole corpus is cleaned once per session and judged by
one exiftool run, so the parametrised tests stay fast."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tipline.sanitize import Report

from ._support import clean, corpus_files, exiftool


@dataclasses.dataclass
class Cleaned:
    original: bytes
    report: Report
    output: bytes
    path: Path | None  # the output written for the judge (cleaned files only)
    tags: dict


@pytest.fixture(scope="session")
def cleaned_corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Cleaned]:
    out_dir = tmp_path_factory.mktemp("cleaned")
    results: dict[str, Cleaned] = {}
    for index, path in enumerate(corpus_files()):
        original = path.read_bytes()
        report, output = clean(original)
        written = None
        if report.status in ("cleaned", "cleaned_reencoded"):
            written = out_dir / f"{index}{report.extension or '.bin'}"
            written.write_bytes(output)
        results[str(path)] = Cleaned(original, report, output, written, {})
    judged = exiftool([c.path for c in results.values() if c.path is not None])
    for item in results.values():
        if item.path is not None:
            item.tags = judged[str(item.path)]
    return results
