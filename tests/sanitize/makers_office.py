"""Office canary files, written part by part with zipfile."""

from __future__ import annotations

import io
import zipfile

from PIL import Image, PngImagePlugin

from ._support import CANARY
from .makers import exif_block, picture

C = CANARY
CT = "application/vnd.openxmlformats-officedocument"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _zip(parts: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data.encode() if isinstance(data, str) else data)
        zf.comment = C.encode()
    return buf.getvalue()


def _rels(*rels: tuple[str, str, str] | tuple[str, str, str, str]) -> str:
    items = "".join(
        f'<Relationship Id="{r[0]}" Type="{r[1]}" Target="{r[2]}"'
        + (' TargetMode="External"' if len(r) > 3 else "")
        + "/>"
        for r in rels
    )
    return f'{XML}<Relationships xmlns="{PKG}">{items}</Relationships>'


def _jpeg() -> bytes:
    buf = io.BytesIO()
    picture((16, 16)).save(buf, format="JPEG", exif=exif_block(), comment=C.encode())
    return buf.getvalue()


def _png() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", C)
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


CORE = (
    f'{XML}<cp:coreProperties xmlns:cp="{PKG.rsplit("/", 1)[0]}/metadata/core-properties" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/">'
    f"<dc:creator>{C}</dc:creator><cp:lastModifiedBy>{C}</cp:lastModifiedBy>"
    f"<dc:title>{C}</dc:title><dcterms:created>2024-01-02T03:04:05Z</dcterms:created>"
    "</cp:coreProperties>"
)
APP = (
    f'{XML}<Properties xmlns="{CT.replace("application/vnd.openxmlformats-", "http://schemas.openxmlformats.org/")}'
    f'/2006/extended-properties"><Company>{C}</Company><Manager>{C}</Manager>'
    f"<Template>{C}.dotm</Template><Application>{C}</Application></Properties>"
)
CUSTOM = (
    f'{XML}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    'custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/'
    f'docPropsVTypes"><property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="2" '
    f'name="{C}"><vt:lpwstr>{C}</vt:lpwstr></property></Properties>'
)
PROPS_RELS = [
    ("rP1", f"{PKG}/metadata/core-properties", "docProps/core.xml"),
    ("rP2", f"{REL}/extended-properties", "docProps/app.xml"),
    ("rP3", f"{REL}/custom-properties", "docProps/custom.xml"),
    ("rP4", f"{PKG}/metadata/thumbnail", "docProps/thumbnail.jpeg"),
]
PROPS_CT = (
    f'<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats'
    '-package.core-properties+xml"/><Override PartName="/docProps/app.xml" '
    f'ContentType="{CT}.extended-properties+xml"/><Override PartName="/docProps/'
    f'custom.xml" ContentType="{CT}.custom-properties+xml"/>'
)


def _types(overrides: str) -> str:
    return (
        f'{XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Default Extension="jpeg" ContentType="image/jpeg"/><Default Extension="png" '
        'ContentType="image/png"/><Default Extension="bin" ContentType="application/'
        f'vnd.openxmlformats-officedocument.spreadsheetml.printerSettings"/>{PROPS_CT}'
        f"{overrides}</Types>"
    )


def _props() -> dict[str, bytes | str]:
    return {
        "docProps/core.xml": CORE,
        "docProps/app.xml": APP,
        "docProps/custom.xml": CUSTOM,
        "docProps/thumbnail.jpeg": _jpeg(),
    }


def docx() -> bytes:
    body = (
        f'<w:document xmlns:w="{W}" xmlns:r="{REL}" xmlns:w14="http://schemas.microsoft.com/'
        'office/word/2010/wordml" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/'
        'main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
        'mc:Ignorable="w14"><w:body>'
        '<w:p w:rsidR="00C0FFEE" w14:paraId="1A2B3C4D"><w:r w:rsidRPr="00C0FFEE"><w:t>Visible '
        "text</w:t></w:r>"
        '<w:commentRangeStart w:id="0"/><w:r><w:t xml:space="preserve"> kept</w:t></w:r>'
        '<w:commentRangeEnd w:id="0"/><w:r><w:commentReference w:id="0"/></w:r>'
        f'<w:ins w:id="1" w:author="{C}" w:date="2024-01-02T03:04:05Z"><w:r><w:t> inserted'
        f'</w:t></w:r></w:ins><w:del w:id="2" w:author="{C}" w:date="2024-01-02T03:04:05Z">'
        f"<w:r><w:delText>{C} deleted</w:delText></w:r></w:del>"
        f'<w:moveFrom w:id="3" w:author="{C}"><w:r><w:t>{C} moved away</w:t></w:r></w:moveFrom>'
        '</w:p><w:tbl><w:tr><w:trPr><w:del w:id="4" w:author="x"/></w:trPr><w:tc><w:p><w:r>'
        f"<w:t>{C} deleted row</w:t></w:r></w:p></w:tc></w:tr><w:tr><w:tc><w:p><w:r><w:t>cell"
        "</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
        '<w:p><w:hyperlink r:id="rIdL"><w:r><w:t>link text</w:t></w:r></w:hyperlink><w:r>'
        '<w:drawing><wp:docPr xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/'
        f'wordprocessingDrawing" id="1" name="{C}.jpg" descr="C:\\Users\\{C}\\IMG.jpg"/>'
        '<a:blip r:embed="rIdImg"/></w:drawing></w:r></w:p>'
        "</w:body></w:document>"
    )
    settings = (
        f'<w:settings xmlns:w="{W}" xmlns:r="{REL}" xmlns:w14="http://schemas.microsoft'
        '.com/office/word/2010/wordml"><w:attachedTemplate r:id="rIdTpl"/>'
        f'<w:docVars><w:docVar w:name="x" w:val="{C}"/></w:docVars>'
        '<w:rsids><w:rsidRoot w:val="00C0FFEE"/></w:rsids><w14:docId w14:val="1234"/>'
        "</w:settings>"
    )
    comments = (
        f'<w:comments xmlns:w="{W}"><w:comment w:id="0" w:author="{C}" w:initials="{C}"'
        f' w:date="2024-01-02T03:04:05Z"><w:p><w:r><w:t>{C} comment</w:t></w:r></w:p>'
        "</w:comment></w:comments>"
    )
    people = (
        f'<w15:people xmlns:w15="http://schemas.microsoft.com/office/word/2012/wordml">'
        f'<w15:person w15:author="{C}"/></w15:people>'
    )
    doc_rels = _rels(
        ("rIdC", f"{REL}/comments", "comments.xml"),
        ("rIdP", "http://schemas.microsoft.com/office/2011/relationships/people", "people.xml"),
        ("rIdS", f"{REL}/settings", "settings.xml"),
        ("rIdImg", f"{REL}/image", "media/image1.jpeg"),
        ("rIdX", f"{REL}/customXml", "../customXml/item1.xml"),
        ("rIdPr", f"{REL}/printerSettings", "printerSettings/printerSettings1.bin"),
        ("rIdL", f"{REL}/hyperlink", f"file:///C:/Users/{C}/secret.docx", "External"),
    )
    overrides = (
        f'<Override PartName="/word/document.xml" ContentType="{CT}.wordprocessingml.'
        'document.main+xml"/><Override PartName="/word/comments.xml" ContentType='
        f'"{CT}.wordprocessingml.comments+xml"/><Override PartName="/word/settings.xml"'
        f' ContentType="{CT}.wordprocessingml.settings+xml"/>'
    )
    return _zip(
        {
            "[Content_Types].xml": _types(overrides),
            "_rels/.rels": _rels(("rD", f"{REL}/officeDocument", "word/document.xml"), *PROPS_RELS),
            "word/document.xml": XML + body,
            "word/_rels/document.xml.rels": doc_rels,
            "word/settings.xml": XML + settings,
            "word/_rels/settings.xml.rels": _rels(
                (
                    "rIdTpl",
                    f"{REL}/attachedTemplate",
                    f"file:///C:/Users/{C}/Normal.dotm",
                    "External",
                )
            ),
            "word/comments.xml": XML + comments,
            "word/people.xml": XML + people,
            "word/media/image1.jpeg": _jpeg(),
            "word/printerSettings/printerSettings1.bin": C.encode("utf-16-le"),
            "customXml/item1.xml": f"<root>{C}</root>",
            "word/orphan.xml": f"<old>{C}</old>",
            **_props(),
        }
    )


def xlsx() -> bytes:
    s = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    workbook = (
        f'<workbook xmlns="{s}" xmlns:r="{REL}" xmlns:mc="http://schemas.openxmlformats.org/'
        'markup-compatibility/2006" xmlns:x15ac="http://schemas.microsoft.com/office/'
        'spreadsheetml/2010/11/ac" mc:Ignorable="x15ac">'
        f'<fileSharing userName="{C}" readOnlyRecommended="1"/>'
        '<mc:AlternateContent><mc:Choice Requires="x15ac">'
        f'<x15ac:absPath url="C:\\Users\\{C}\\Documents\\"/></mc:Choice></mc:AlternateContent>'
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rIdS1"/></sheets></workbook>'
    )
    sheet = (
        f'<worksheet xmlns="{s}" xmlns:r="{REL}"><sheetData><row r="1"><c r="A1" t="s">'
        '<v>0</v></c></row></sheetData><legacyDrawing r:id="rIdV"/></worksheet>'
    )
    comments = (
        f'<comments xmlns="{s}"><authors><author>{C}</author></authors><commentList>'
        f'<comment ref="A1" authorId="0"><text><t>{C}</t></text></comment>'
        "</commentList></comments>"
    )
    overrides = (
        f'<Override PartName="/xl/workbook.xml" ContentType="{CT}.spreadsheetml.sheet.'
        'main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType='
        f'"{CT}.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml"'
        f' ContentType="{CT}.spreadsheetml.sharedStrings+xml"/>'
    )
    return _zip(
        {
            "[Content_Types].xml": _types(overrides),
            "_rels/.rels": _rels(("rD", f"{REL}/officeDocument", "xl/workbook.xml"), *PROPS_RELS),
            "xl/workbook.xml": XML + workbook,
            "xl/_rels/workbook.xml.rels": _rels(
                ("rIdS1", f"{REL}/worksheet", "worksheets/sheet1.xml"),
                ("rIdSS", f"{REL}/sharedStrings", "sharedStrings.xml"),
            ),
            "xl/sharedStrings.xml": f'{XML}<sst xmlns="{s}"><si><t>Visible</t></si></sst>',
            "xl/worksheets/sheet1.xml": XML + sheet,
            "xl/worksheets/_rels/sheet1.xml.rels": _rels(
                ("rIdC", f"{REL}/comments", "../comments1.xml"),
                ("rIdV", f"{REL}/vmlDrawing", "../drawings/vmlDrawing1.vml"),
                ("rIdPr", f"{REL}/printerSettings", "../printerSettings/printerSettings1.bin"),
            ),
            "xl/comments1.xml": XML + comments,
            "xl/drawings/vmlDrawing1.vml": '<xml xmlns:v="urn:schemas-microsoft-com:vml"><v:shape/>'
            "</xml>",
            "xl/printerSettings/printerSettings1.bin": C.encode("utf-16-le"),
            **_props(),
        }
    )


def pptx() -> bytes:
    p = "http://schemas.openxmlformats.org/presentationml/2006/main"
    a = "http://schemas.openxmlformats.org/drawingml/2006/main"
    slide = (
        f'<p:sld xmlns:p="{p}" xmlns:a="{a}" xmlns:r="{REL}"><p:cSld><p:spTree><p:sp>'
        "<p:txBody><a:p><a:r><a:t>Visible slide</a:t></a:r></a:p></p:txBody></p:sp>"
        "</p:spTree></p:cSld></p:sld>"
    )
    overrides = (
        f'<Override PartName="/ppt/presentation.xml" ContentType="{CT}.presentationml.'
        'presentation.main+xml"/><Override PartName="/ppt/slides/slide1.xml" '
        f'ContentType="{CT}.presentationml.slide+xml"/>'
    )
    return _zip(
        {
            "[Content_Types].xml": _types(overrides),
            "_rels/.rels": _rels(
                ("rD", f"{REL}/officeDocument", "ppt/presentation.xml"), *PROPS_RELS
            ),
            "ppt/presentation.xml": f'{XML}<p:presentation xmlns:p="{p}" xmlns:r="{REL}">'
            '<p:sldIdLst><p:sldId id="256" r:id="rIdS"/></p:sldIdLst>'
            "</p:presentation>",
            "ppt/_rels/presentation.xml.rels": _rels(
                ("rIdS", f"{REL}/slide", "slides/slide1.xml"),
                ("rIdA", f"{REL}/commentAuthors", "commentAuthors.xml"),
            ),
            "ppt/slides/slide1.xml": XML + slide,
            "ppt/slides/_rels/slide1.xml.rels": _rels(
                ("rIdC", f"{REL}/comments", "../comments/comment1.xml"),
                ("rIdI", f"{REL}/image", "../media/image1.png"),
            ),
            "ppt/media/image1.png": _png(),
            "ppt/commentAuthors.xml": f'{XML}<p:cmAuthorLst xmlns:p="{p}"><p:cmAuthor id="0" '
            f'name="{C}" initials="{C}"/></p:cmAuthorLst>',
            "ppt/comments/comment1.xml": f'{XML}<p:cmLst xmlns:p="{p}"><p:cm authorId="0"><p:text>'
            f"{C}</p:text></p:cm></p:cmLst>",
            **_props(),
        }
    )


def odt() -> bytes:
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
        'xmlns:xlink="http://www.w3.org/1999/xlink" '
        'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
        'xmlns:officeooo="http://openoffice.org/2009/office" '
        'xmlns:config="urn:oasis:names:tc:opendocument:xmlns:config:1.0" '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"'
    )
    content = (
        f"{XML}<office:document-content {ns}><office:body><office:text>"
        f'<text:tracked-changes><text:changed-region text:id="ct1"><text:deletion>'
        f"<office:change-info><dc:creator>{C}</dc:creator><dc:date>2024-01-02T03:04:05"
        f"</dc:date></office:change-info><text:p>{C} deleted</text:p></text:deletion>"
        "</text:changed-region></text:tracked-changes>"
        '<text:p officeooo:rsid="00C0FFEE">Visible text<text:change text:change-id="ct1"/>'
        f"<office:annotation><dc:creator>{C}</dc:creator><dc:date>2024-01-02</dc:date>"
        f"<text:p>{C} comment</text:p></office:annotation> kept</text:p>"
        '<text:p><draw:frame><draw:image xlink:href="Pictures/p.jpg"/></draw:frame>'
        f'<draw:frame><draw:image xlink:href="file:///home/{C}/photo.jpg"/></draw:frame>'
        "</text:p></office:text></office:body></office:document-content>"
    )
    meta = (
        f"{XML}<office:document-meta {ns}><office:meta><meta:initial-creator>{C}"
        f"</meta:initial-creator><dc:creator>{C}</dc:creator><meta:generator>{C}"
        "</meta:generator></office:meta></office:document-meta>"
    )
    settings = (
        f"{XML}<office:document-settings {ns}><office:settings><config:config-item "
        f'config:name="PrinterName" config:type="string">{C}</config:config-item>'
        "</office:settings></office:document-settings>"
    )
    manifest = (
        f'{XML}<manifest:manifest {ns} manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type='
        '"application/vnd.oasis.opendocument.text"/>'
        + "".join(
            f'<manifest:file-entry manifest:full-path="{n}" manifest:media-type="x"/>'
            for n in (
                "content.xml",
                "meta.xml",
                "settings.xml",
                "Pictures/p.jpg",
                "Thumbnails/thumbnail.png",
            )
        )
        + "</manifest:manifest>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "mimetype", "application/vnd.oasis.opendocument.text", compress_type=zipfile.ZIP_STORED
        )
        zf.writestr("META-INF/manifest.xml", manifest)
        zf.writestr("content.xml", content)
        zf.writestr("styles.xml", f"{XML}<office:document-styles {ns}/>")
        zf.writestr("meta.xml", meta)
        zf.writestr("settings.xml", settings)
        zf.writestr("Thumbnails/thumbnail.png", _png())
        zf.writestr("Pictures/p.jpg", _jpeg())
        zf.writestr("manifest.rdf", f"<rdf>{C}</rdf>")
    return buf.getvalue()
