"""RTF: remove the document's properties and the marks of its editing sessions; keep the text.

Removed: the ``\\info`` group (author, operator, company, title, dates, revision
and editing-time counts...), user properties (``\\*\\userprops``), the
generator (``\\*\\generator``), the revision-save-ID table and every rsid on
paragraphs, runs, sections and styles (``\\rsidN``, ``\\insrsidN``,
``\\charrsidN``...: numbers that tie a file to the editing sessions it came
from), the table of revision authors (``\\*\\revtbl``), comment authors and
initials (``\\*\\atnauthor``, ``\\*\\atnid``), the XML namespace table and data
stores (``\\*\\xmlnstbl``, ``\\*\\datastore``: Word's custom XML parts and their ids).

The file is read as tokens (control words, control symbols, ``\\binN`` data,
groups), so nothing inside a kept group is touched and a dropped group ends
at its own closing brace, never at an escaped one.
"""

from __future__ import annotations

import re
from typing import BinaryIO

from .common import Context
from .limits import Damaged, LimitExceeded
from .report import Report

DROPPED_GROUPS = {
    b"info": "document_properties",
    b"userprops": "document_properties",
    b"generator": "software",
    b"rsidtbl": "revision_ids",
    b"revtbl": "author",
    b"atnauthor": "author",
    b"atnid": "author",
    b"xmlnstbl": "private_data",
    b"datastore": "private_data",
}
# Control words that carry a revision-save ID (an editing session's number).
RSID_WORD = re.compile(
    rb"(?:rsid|rsidroot|insrsid|delrsid|charrsid|sectrsid|pararsid|tblrsid|styrsid)"
)
CONTROL = re.compile(rb"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?")
GROUP_START = re.compile(rb"\{\s*(?:\\\*\s*)?\\([a-zA-Z]{1,32})")
SPECIAL = re.compile(rb"[\\{}]")
ENDS_WITH_WORD = re.compile(rb"\\[a-zA-Z]{1,32}-?\d{0,10}$")


def sanitize_rtf(src: BinaryIO, dst: BinaryIO, ctx: Context) -> Report:
    report = ctx.new_report()
    data = src.read(ctx.limits.max_xml_bytes + 1)
    if len(data) > ctx.limits.max_xml_bytes:
        raise LimitExceeded("too_large", "RTF over the size limit")
    if not data.startswith(b"{\\rtf"):
        raise Damaged("bad_structure", "not an RTF file")
    dst.write(_clean(data, report, ctx))
    return report


def _clean(data: bytes, report: Report, ctx: Context) -> bytes:
    out = bytearray()
    at = 0
    while (match := SPECIAL.search(data, at)) is not None:
        out += data[at : match.start()]
        at = match.start()
        if data[at] == ord("{"):
            group = GROUP_START.match(data, at)
            word = group.group(1) if group else b""
            if word in DROPPED_GROUPS:
                report.add(DROPPED_GROUPS[word])
                at = _group_end(data, at)
                _keep_delimited(out)
                continue
            out.append(data[at])
            at += 1
        elif data[at] == ord("}"):
            out.append(data[at])
            at += 1
        else:
            at = _control(data, at, out, report)
        if len(out) % 4096 == 0:
            ctx.deadline.check()
    out += data[at:]
    return bytes(out)


def _control(data: bytes, at: int, out: bytearray, report: Report) -> int:
    """Copy (or drop, for an rsid) the control word or symbol at ``at``; where it ends."""
    word = CONTROL.match(data, at)
    if word is None:  # a control symbol: \{ \} \\ \'hh \~ ...
        length = 4 if data[at + 1 : at + 2] == b"'" else 2
        out += data[at : at + length]
        return at + length
    end = word.end()
    if word.group(1) == b"bin" and word.group(2):
        end += max(0, int(word.group(2)))  # raw bytes follow: copied, never parsed
    elif RSID_WORD.fullmatch(word.group(1)):
        report.add("revision_ids")
        _keep_delimited(out)
        return end
    out += data[at:end]
    return end


def _keep_delimited(out: bytearray) -> None:
    """After a removal, end a control word the output now ends with: without the
    brace or word that followed it, ``\\plain`` and the text ``El`` would make
    ``\\plainEl``. The space is the word's delimiter, never text."""
    if ENDS_WITH_WORD.search(bytes(out[-48:])):
        out += b" "


def _group_end(data: bytes, at: int) -> int:
    """Just past the brace that closes the group opened at ``at``."""
    depth = 0
    while (match := SPECIAL.search(data, at)) is not None:
        at = match.start()
        char = data[at]
        if char == ord("\\"):
            word = CONTROL.match(data, at)
            if word is None:
                at += 4 if data[at + 1 : at + 2] == b"'" else 2
                continue
            at = word.end()
            if word.group(1) == b"bin" and word.group(2):
                at += max(0, int(word.group(2)))
            continue
        depth += 1 if char == ord("{") else -1
        at += 1
        if depth == 0:
            return at
    raise Damaged("truncated", "an RTF group is not closed")
