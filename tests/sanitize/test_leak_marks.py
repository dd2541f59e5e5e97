"""The marks that tie a leaked copy to its original: PDF /ID, XMP ids, SVG and RTF metadata.

Every file is generated here with known identifiers in it; after cleaning,
none of them may be found anywhere in the bytes, and the content must still be
there.
"""

from __future__ import annotations

import io
import struct
import zlib

import pikepdf
from PIL import Image

from tests.sanitize._support import clean
from tipline.sanitize import SanitizeStatus, sniff

DOCUMENT_ID = "xmp.did:5f1a2b3c-leak-0001"
INSTANCE_ID = "xmp.iid:9e8d7c6b-leak-0002"
XMP = (
    '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" '
    f'xmpMM:DocumentID="{DOCUMENT_ID}" xmpMM:InstanceID="{INSTANCE_ID}" '
    f'xmpMM:OriginalDocumentID="{DOCUMENT_ID}"/>'
    "</rdf:RDF></x:xmpmeta>"
    '<?xpacket end="w"?>'
)
ORIGINAL_ID = b"ORIGINAL-ID-0042"  # 16 bytes, as PDF writers make them


def assert_no_ids(data: bytes) -> None:
    for mark in (DOCUMENT_ID, INSTANCE_ID, "5f1a2b3c", "9e8d7c6b"):
        assert mark.encode() not in data, mark


# --- PDF --------------------------------------------------------------------------------------


def jpeg_with_xmp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), "teal").save(out, "JPEG")
    data = out.getvalue()
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + XMP.encode()
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + segment + data[2:]


def pdf_with_ids() -> bytes:
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(200, 200))
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    image = pikepdf.Stream(pdf, jpeg_with_xmp())
    image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    image.Width = image.Height = 32
    image.ColorSpace, image.BitsPerComponent = pikepdf.Name.DeviceRGB, 8
    image.Filter = pikepdf.Name.DCTDecode
    image.Metadata = pikepdf.Stream(pdf, XMP.encode())
    page.Resources = pikepdf.Dictionary(
        Font=pikepdf.Dictionary(F1=font), XObject=pikepdf.Dictionary(Im0=image)
    )
    page.Contents = pdf.make_stream(
        b"q 32 0 0 32 0 0 cm /Im0 Do Q BT /F1 12 Tf 10 100 Td (kept text) Tj ET"
    )
    pdf.Root.Metadata = pikepdf.Stream(pdf, XMP.encode())
    pdf.trailer.ID = pikepdf.Array([pikepdf.String(ORIGINAL_ID), pikepdf.String(ORIGINAL_ID)])
    out = io.BytesIO()
    pdf.save(out, static_id=True, compress_streams=False)
    data = out.getvalue()
    assert ORIGINAL_ID in data or ORIGINAL_ID.hex().encode() in data.lower()
    return data


def trailer_id(data: bytes) -> list[bytes]:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return [bytes(part) for part in pdf.trailer.ID]


def test_the_pdf_trailer_id_is_replaced_by_a_new_random_one() -> None:
    original = pdf_with_ids()
    report, first = clean(original)
    _, second = clean(original)
    assert report.status == SanitizeStatus.CLEANED and report.count("document_id") == 1
    for cleaned in (first, second):
        assert ORIGINAL_ID not in trailer_id(cleaned)
        assert ORIGINAL_ID not in cleaned and ORIGINAL_ID.hex().encode() not in cleaned.lower()
    # Random: the same file cleaned twice gets two first halves that differ.
    assert trailer_id(first)[0] != trailer_id(second)[0]


def test_xmp_document_and_instance_ids_leave_the_pdf_and_its_images() -> None:
    _, cleaned = clean(pdf_with_ids())
    assert_no_ids(cleaned)
    with pikepdf.open(io.BytesIO(cleaned)) as pdf:
        assert b"kept text" in pdf.pages[0].Contents.read_bytes()
        assert len(pdf.pages[0].get_images()) == 1


def test_xmp_ids_leave_a_jpeg_and_a_png() -> None:
    _, cleaned_jpeg = clean(jpeg_with_xmp())
    assert_no_ids(cleaned_jpeg)
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "navy").save(out, "PNG")
    png = out.getvalue()
    text = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + XMP.encode()
    chunk = struct.pack(">I", len(text)) + b"iTXt" + text
    chunk += struct.pack(">I", zlib.crc32(b"iTXt" + text) & 0xFFFFFFFF)
    png = png[:33] + chunk + png[33:]
    _, cleaned_png = clean(png)
    assert_no_ids(cleaned_png)


# --- SVG --------------------------------------------------------------------------------------

SVG = f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Created with Inkscape (http://www.inkscape.org/) by Ana at the ministry -->
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"
     xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"
     xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
     xmlns:dc="http://purl.org/dc/elements/1.1/"
     width="100" height="50" viewBox="0 0 100 50"
     sodipodi:docname="organigrama-ministerio-v3.svg"
     inkscape:export-filename="/home/ana.perez/secreto/organigrama.png"
     inkscape:export-xdpi="96" inkscape:version="1.3 (0e150ed6c4, 2023-07-21)">
  <metadata id="metadata1">
    <rdf:RDF><rdf:Description xmpMM:DocumentID="{DOCUMENT_ID}" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/">
      <dc:creator>Ana Perez</dc:creator></rdf:Description></rdf:RDF>
  </metadata>
  <sodipodi:namedview id="base" inkscape:window-width="1920" inkscape:current-layer="layer1"/>
  <g id="layer1" inkscape:label="Capa 1" inkscape:groupmode="layer">
    <rect x="5" y="5" width="40" height="20" fill="#c00"/>
    <text x="10" y="40" onclick="alert(1)">Ministro</text>
    <a xlink:href="javascript:alert(2)"><circle cx="80" cy="25" r="10"/></a>
  </g>
  <script>fetch("http://127.0.0.1:9/")</script>
</svg>
"""


def test_svg_metadata_and_editor_marks_go_and_the_drawing_stays() -> None:
    data = SVG.encode()
    assert sniff(io.BytesIO(data)).mime == "image/svg+xml"
    report, cleaned = clean(data)
    assert report.status == SanitizeStatus.CLEANED
    for mark in (
        b"organigrama",
        b"ana.perez",
        b"Ana Perez",
        b"ministry",
        b"inkscape:version",
        b"namedview",
        b"window-width",
        b"<metadata",
        b"rdf:RDF",
        b"xmp.did",
        b"alert(",
        b"<script",
        b"onclick",
    ):
        assert mark not in cleaned, mark
    for kept in (b'<rect x="5" y="5" width="40" height="20" fill="#c00"', b"Ministro", b"<circle"):
        assert kept in cleaned, kept
    assert b'viewBox="0 0 100 50"' in cleaned
    assert report.count("document_properties") >= 1 and report.count("javascript") >= 1


# --- RTF --------------------------------------------------------------------------------------

RTF = (
    rb"{\rtf1\ansi\ansicpg1252\deff0"
    rb"{\fonttbl{\f0 Times New Roman;}}"
    rb"{\*\generator Microsoft Word 16.0.17328;}"
    rb"{\info{\title Informe reservado}{\author Ana Perez}{\operator ana.perez}"
    rb"{\company Ministerio del Interior}{\creatim\yr2024\mo3\dy5\hr9\min12}{\*\userprops "
    rb"{\propname Clasificacion}\proptype30{\staticval SECRETO-77}}}"
    rb"{\*\rsidtbl \rsid1077923\rsid2431897}"
    rb"{\*\revtbl {Unknown;}{Ana Perez;}}"
    rb"{\*\xmlnstbl {\xmlns1 http://schemas.microsoft.com/office/word/2003/wordml}}"
    rb"\pard\plain\insrsid1077923\charrsid2431897 El cargamento llega el martes \{ok\}."
    rb"{\*\atnid AP}{\*\atnauthor Ana Perez}"
    rb"\par\pararsid2431897 Segunda linea con \'e1 y \bin4 {}\} fin.\par}"
)


def test_rtf_info_user_properties_and_session_ids_go_and_the_text_stays() -> None:
    assert sniff(io.BytesIO(RTF)).mime == "application/rtf"
    report, cleaned = clean(RTF)
    assert report.status == SanitizeStatus.CLEANED
    for mark in (
        b"Ana Perez",
        b"ana.perez",
        b"Ministerio",
        b"Informe reservado",
        b"SECRETO-77",
        b"Microsoft Word",
        b"1077923",
        b"2431897",
        b"\\info",
        b"userprops",
        b"rsid",
        b"wordml",
    ):
        assert mark not in cleaned, mark
    for kept in (
        b"El cargamento llega el martes \\{ok\\}.",
        b"Segunda linea con \\'e1",
        b"\\bin4 {}\\} fin.",
    ):
        assert kept in cleaned, kept
    # Removals never glue a control word to the text after it.
    assert b"\\plain El cargamento" in cleaned and b"\\par Segunda" in cleaned
    assert report.count("document_properties") >= 1 and report.count("revision_ids") >= 1


def test_an_rtf_with_an_unclosed_info_group_is_damaged_not_half_cleaned() -> None:
    report, stored = clean(rb"{\rtf1{\info{\author Ana Perez}")
    assert report.status == SanitizeStatus.DAMAGED


def test_an_svg_whose_root_is_not_svg_is_damaged_not_emptied() -> None:
    data = b'<svg xmlns="http://www.w3.org/1337/svg"><rect width="1" height="1"/></svg>'
    report, stored = clean(data)
    assert report.status == SanitizeStatus.DAMAGED and stored == data
