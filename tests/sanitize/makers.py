"""Generators for canary files: every metadata field the tools can write holds
the canary. Images come from Pillow and exiftool, audio/video from ffmpeg,
PDFs from pikepdf, office files from zipfile (small hand-written parts)."""

from __future__ import annotations

import io
import struct
import subprocess
from pathlib import Path

import pikepdf
import pillow_heif
from PIL import Image, PngImagePlugin

from ._support import CANARY, ffmpeg, need

C = CANARY
EXIF_ARGS = [
    f"-Artist={C}",
    f"-Copyright={C}",
    f"-ImageDescription={C}",
    f"-UserComment={C}",
    f"-Make={C}",
    f"-Model={C}",
    f"-SerialNumber={C}",
    f"-LensSerialNumber={C}",
    f"-OwnerName={C}",
    f"-Software={C}",
    f"-ImageUniqueID={C}",
    f"-XPAuthor={C}",
    f"-XPComment={C}",
    "-GPSLatitude=12.3456",
    "-GPSLatitudeRef=N",
    "-GPSLongitude=45.6789",
    "-GPSLongitudeRef=W",
    f"-GPSAreaInformation={C}",
    "-DateTimeOriginal=2024:01:02 03:04:05",
    f"-XMP-dc:Creator={C}",
    f"-XMP-dc:Description={C}",
    f"-XMP-photoshop:City={C}",
]
IPTC_ARGS = [f"-IPTC:By-line={C}", f"-IPTC:Caption-Abstract={C}", f"-IPTC:City={C}"]


def exiftool_write(path: Path, *args: str) -> None:
    subprocess.run(
        [need("exiftool"), "-overwrite_original", "-m", "-q", "-q", *args, str(path)],
        check=True,
        timeout=60,
    )


def picture(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    im = Image.new("RGB", size)
    im.putdata(
        [
            ((x * 7) % 256, (y * 5) % 256, (x * y) % 256)
            for y in range(size[1])
            for x in range(size[0])
        ]
    )
    return im.convert(mode)


def icc_profile(description: str, manufacturer: bytes = b"\x00\x00\x00\x00") -> bytes:
    """A small v2 display profile with a description, a white point and a
    device-model text tag."""

    def text_desc(text: str) -> bytes:
        raw = text.encode() + b"\x00"
        return b"desc\x00\x00\x00\x00" + struct.pack(">I", len(raw)) + raw + bytes(78)

    wtpt = b"XYZ \x00\x00\x00\x00" + struct.pack(">iii", 63190, 65536, 54061)
    dmdd = text_desc(f"{C} model")
    tags = [(b"desc", text_desc(description)), (b"wtpt", wtpt), (b"dmdd", dmdd)]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, blob in tags:
        table += struct.pack(">4sII", sig, offset + len(body), len(blob))
        body += blob + bytes(-len(blob) % 4)
    header = bytearray(128)
    header[8:12] = b"\x02\x10\x00\x00"
    header[12:16], header[16:20], header[20:24] = b"mntr", b"RGB ", b"XYZ "
    header[36:40], header[48:52] = b"acsp", manufacturer
    profile = bytes(header) + struct.pack(">I", len(tags)) + table + body
    return struct.pack(">I", len(profile)) + profile[4:]


def exif_block(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x013B] = C  # Artist
    exif[0x010F] = C  # Make
    exif[0x0112] = orientation
    return exif.tobytes()


def jpeg(tmp: Path, orientation: int = 6) -> bytes:
    path = tmp / "c.jpg"
    picture().save(path, quality=90, comment=C.encode(), icc_profile=icc_profile(C))
    exiftool_write(
        path,
        *EXIF_ARGS,
        *IPTC_ARGS,
        f"-Orientation#={orientation}",
        "-ThumbnailImage<=" + str(_thumb(tmp)),
    )
    data = path.read_bytes()
    app15 = b"\xff\xef" + struct.pack(">H", len(C) + 2) + C.encode()
    return data[:2] + app15 + data[2:] + b"trailing " + C.encode()


def _thumb(tmp: Path) -> Path:
    path = tmp / "thumb.jpg"
    picture((16, 12)).save(path, comment=C.encode())
    return path


def png(tmp: Path) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", C)
    info.add_text("Comment", C, zip=True)
    info.add_itxt("Description", C, lang="en", tkey=C)
    path = tmp / "c.png"
    picture().save(path, pnginfo=info, exif=exif_block(8), icc_profile=icc_profile(C))
    exiftool_write(path, f"-XMP-dc:Creator={C}", "-GPSLatitude=12.3456", "-GPSLatitudeRef=N")
    data = path.read_bytes()
    chunk = b"cnRy" + C.encode()
    private = struct.pack(">I", len(C)) + chunk + struct.pack(">I", __import__("zlib").crc32(chunk))
    end = data.rindex(b"IEND") - 4
    return data[:end] + private + data[end:] + C.encode()


def gif(tmp: Path) -> bytes:
    frames = [picture().rotate(angle).convert("P") for angle in (0, 90, 180)]
    path = tmp / "c.gif"
    frames[0].save(
        path,
        save_all=True,
        append_images=frames[1:],
        duration=[100, 200, 300],
        loop=2,
        comment=C.encode(),
    )
    exiftool_write(path, f"-XMP-dc:Creator={C}")
    return path.read_bytes() + C.encode()


def webp(tmp: Path, lossless: bool = False, animated: bool = False) -> bytes:
    buf = io.BytesIO()
    options = {
        "exif": exif_block(6),
        "xmp": f"<x>{C}</x>".encode(),
        "icc_profile": icc_profile(C),
        "lossless": lossless,
    }
    if animated:
        frames = [picture(), picture().rotate(90), picture().rotate(180)]
        frames[0].save(
            buf,
            format="WEBP",
            save_all=True,
            append_images=frames[1:],
            duration=[100, 200, 300],
            **options,
        )
    else:
        picture().save(buf, format="WEBP", **options)
    return buf.getvalue() + C.encode()


def tiff(tmp: Path) -> bytes:
    path = tmp / "c.tif"
    info = {270: C, 315: C, 33432: C, 271: C, 272: C, 305: C, 274: 6}
    picture().save(path, tiffinfo=info, compression="tiff_lzw", icc_profile=icc_profile(C))
    exiftool_write(path, *EXIF_ARGS, *IPTC_ARGS)
    return path.read_bytes()


def heic(tmp: Path) -> bytes:
    pillow_heif.register_heif_opener()
    path = tmp / "c.heic"
    picture((64, 64)).save(
        path,
        format="HEIF",
        quality=80,
        exif=exif_block(1),
        xmp=f"<x>{C}</x>".encode(),
        icc_profile=icc_profile(C),
    )
    exiftool_write(path, *EXIF_ARGS)
    return path.read_bytes()


def avif(tmp: Path) -> bytes:
    buf = io.BytesIO()
    picture((64, 64)).save(
        buf, format="AVIF", quality=80, exif=exif_block(3), xmp=f"<x>{C}</x>".encode()
    )
    return buf.getvalue()


def bmp(tmp: Path) -> bytes:
    buf = io.BytesIO()
    picture().save(buf, format="BMP")
    return buf.getvalue() + C.encode()


def _media_inputs(tmp: Path) -> tuple[Path, Path, Path]:
    srt = tmp / "c.srt"
    srt.write_text(f"1\n00:00:00,000 --> 00:00:00,500\n{C}\n")
    chapters = tmp / "chapters.txt"
    chapters.write_text(
        f";FFMETADATA1\ntitle={C}\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=500\ntitle={C}\n"
    )
    cover = tmp / "cover.jpg"
    picture((32, 32)).save(cover, comment=C.encode(), exif=exif_block())
    return srt, chapters, cover


TAGS = [
    "title",
    "artist",
    "album_artist",
    "album",
    "comment",
    "description",
    "copyright",
    "composer",
    "genre",
    "date",
    "creation_time",
    "encoded_by",
    "make",
    "model",
    "location",
    "synopsis",
    "show",
    "network",
    "lyrics",
]


def _metadata() -> list[str]:
    args = []
    for key in TAGS:
        value = "2024-01-02T03:04:05Z" if key == "creation_time" else f"{C} {key}"
        if key == "location":
            value = "+12.3456-045.6789/"
        args += ["-metadata", f"{key}={value}"]
    return args


def video(tmp: Path, container: str) -> bytes:
    srt, chapters, _ = _media_inputs(tmp)
    out = tmp / f"c.{container}"
    src = [
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=64x48:rate=10",
        "-f",
        "lavfi",
        "-i",
        "sine=d=1",
        "-i",
        str(srt),
        "-i",
        str(chapters),
        "-t",
        "1",
    ]
    maps = ["-map", "0:v", "-map", "1:a", "-map", "2:s", "-map_metadata", "3", "-map_chapters", "3"]
    meta = [*_metadata(), "-metadata:s:v", f"handler_name={C}", "-metadata:s:a", f"title={C}"]
    if container in ("mp4", "mov"):
        extra = ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-c:s", "mov_text"]
        if container == "mov":
            extra += [
                "-movflags",
                "use_metadata_tags",
                "-timecode",
                "01:00:00:00",
                "-metadata",
                "com.apple.quicktime.location.ISO6709=+12.3456-045.6789/",
                "-metadata",
                f"com.apple.quicktime.make={C}",
                "-metadata",
                f"com.apple.quicktime.model={C}",
                "-metadata",
                f"com.apple.quicktime.software={C}",
            ]
        ffmpeg(*src, *maps, *meta, *extra, str(out))
        exiftool_write(
            out,
            f"-Keys:Make={C}",
            f"-Keys:Model={C}",
            "-Keys:GPSCoordinates=12.34, 56.78, 100",
            f"-UserData:Make={C}",
            "-UserData:GPSCoordinates=12.34, 56.78",
            f"-XMP-dc:Creator={C}",
            f"-ItemList:Artist={C}",
        )
    elif container == "mkv":
        attachment = tmp / "note.txt"
        attachment.write_text(C)
        ffmpeg(
            *src,
            *maps,
            *meta,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "libvorbis",
            "-c:s",
            "srt",
            "-attach",
            str(attachment),
            "-metadata:s:t",
            "mimetype=text/plain",
            str(out),
        )
    elif container == "webm":
        ffmpeg(
            *src,
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-map_metadata",
            "3",
            "-map_chapters",
            "3",
            *meta,
            "-c:v",
            "libvpx",
            "-deadline",
            "realtime",
            "-c:a",
            "libopus",
            str(out),
        )
    elif container == "avi":
        ffmpeg(
            *src,
            "-map",
            "0:v",
            "-map",
            "1:a",
            *meta,
            "-c:v",
            "mpeg4",
            "-c:a",
            "libmp3lame",
            str(out),
        )
    elif container == "3gp":
        ffmpeg(
            *src,
            "-map",
            "0:v",
            "-map",
            "1:a",
            *meta,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-ac",
            "1",
            "-ar",
            "16000",
            str(out),
        )
    return out.read_bytes()


def mjpeg(tmp: Path, container: str) -> bytes:
    """Motion-JPEG as old cameras and dashcams write it: EXIF in every frame."""
    for index in range(5):
        picture().rotate(index * 30).save(
            tmp / f"f{index:03d}.jpg", exif=exif_block(), comment=C.encode()
        )
    out = tmp / f"m.{container}"
    ffmpeg(
        "-framerate",
        "5",
        "-f",
        "image2",
        "-i",
        str(tmp / "f%03d.jpg"),
        "-c:v",
        "copy",
        *_metadata(),
        str(out),
    )
    return out.read_bytes()


AUDIO = {
    "mp3": (["-c:a", "libmp3lame", "-id3v2_version", "3", "-write_id3v1", "1"], True),
    "ogg": (["-c:a", "libvorbis"], False),
    "opus": (["-c:a", "libopus"], False),
    "flac": (["-c:a", "flac"], True),
    "wav": (["-c:a", "pcm_s16le", "-write_bext", "1"], False),
    "m4a": (["-c:a", "aac"], True),
    "aac": (["-c:a", "aac", "-f", "adts", "-write_id3v2", "1"], False),
    "aiff": (["-c:a", "pcm_s16be", "-write_id3v2", "1"], False),
}


def audio(tmp: Path, kind: str) -> bytes:
    _, chapters, cover = _media_inputs(tmp)
    codec, with_cover = AUDIO[kind]
    out = tmp / f"c.{kind}"
    args = ["-f", "lavfi", "-i", "sine=d=1", "-i", str(chapters)]
    maps = ["-map", "0:a", "-map_metadata", "1"]
    if with_cover:
        args += ["-i", str(cover)]
        maps += [
            "-map",
            "2:v",
            "-c:v",
            "copy" if kind != "m4a" else "mjpeg",
            "-disposition:v",
            "attached_pic",
        ]
    ffmpeg(*args, *maps, *_metadata(), *codec, str(out))
    return out.read_bytes()


def pdf(tmp: Path) -> bytes:
    """A PDF with metadata everywhere and an earlier revision holding the canary."""
    doc = pikepdf.new()
    doc.add_blank_page(page_size=(300, 300))
    page = doc.pages[0]
    font = doc.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    jpg = io.BytesIO()
    picture((16, 16)).save(jpg, format="JPEG", exif=exif_block(), comment=C.encode())
    image = pikepdf.Stream(doc, jpg.getvalue())
    image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    image.Width = image.Height = 16
    image.ColorSpace, image.BitsPerComponent = pikepdf.Name.DeviceRGB, 8
    image.Filter = pikepdf.Name.DCTDecode
    image.Metadata = doc.make_stream(f"<x:xmpmeta>{C}</x:xmpmeta>".encode())
    page.Resources = pikepdf.Dictionary(
        Font=pikepdf.Dictionary(F1=font), XObject=pikepdf.Dictionary(Im1=image)
    )
    page.Contents = doc.make_stream(
        f"BT /F1 12 Tf 20 200 Td (Old {C}) Tj ET q 16 0 0 16 20 20 cm /Im1 Do Q".encode()
    )
    page.PieceInfo = pikepdf.Dictionary(App=pikepdf.Dictionary(Private=pikepdf.String(C)))
    page.LastModified = pikepdf.String("D:20240102030405Z")
    page.Annots = doc.make_indirect(
        pikepdf.Array(
            [
                doc.make_indirect(
                    pikepdf.Dictionary(
                        Type=pikepdf.Name.Annot,
                        Subtype=pikepdf.Name.Text,
                        Rect=[10, 10, 50, 50],
                        Contents=pikepdf.String("a note"),
                        T=pikepdf.String(C),
                        M=pikepdf.String("D:2024"),
                        CreationDate=pikepdf.String("D:2024"),
                        NM=pikepdf.String(C),
                    )
                )
            ]
        )
    )
    doc.attachments["secret.txt"] = pikepdf.AttachedFileSpec(
        doc, C.encode(), mime_type="text/plain"
    )
    doc.Root.OpenAction = pikepdf.Dictionary(
        S=pikepdf.Name.JavaScript, JS=pikepdf.String(f"app.alert('{C}')")
    )
    with doc.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = [C]
        meta["xmp:CreatorTool"] = C
    doc.docinfo["/Author"] = C
    doc.docinfo["/Title"] = C
    doc.docinfo["/Producer"] = C
    buf = io.BytesIO()
    doc.save(buf, object_stream_mode=pikepdf.ObjectStreamMode.disable, compress_streams=False)
    return _incremental_update(buf.getvalue())


def _incremental_update(data: bytes) -> bytes:
    """Append a revision that replaces the page text: the old text stays in the file."""
    prev = int(data[data.rindex(b"startxref") + 9 :].split()[0])
    with pikepdf.open(io.BytesIO(data)) as doc:
        size, root = int(doc.trailer.Size), doc.Root.objgen[0]
        content_obj = doc.pages[0].Contents.objgen[0]
    body = b"BT /F1 12 Tf 20 200 Td (Hello) Tj ET"
    offset = len(data) + 1
    update = (
        f"\n{content_obj} 0 obj\n<< /Length {len(body)} >>\nstream\n".encode()
        + body
        + b"\nendstream\nendobj\n"
    )
    xref_at = offset - 1 + len(update)
    xref = (
        f"xref\n0 1\n0000000000 65535 f\r\n{content_obj} 1\n{offset:010d} 00000 n\r\n"
        f"trailer\n<< /Size {size} /Root {root} 0 R /Prev {prev} >>\nstartxref\n"
        f"{xref_at}\n%%EOF\n"
    )
    return data + update + xref.encode()
