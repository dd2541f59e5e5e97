"""Helpers for the sanitizer tests: production-like streams, the exiftool judge,
and canary scanning."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest

from tipline.sanitize import Report, sanitize


def _find_corpus() -> Path:
    """The shared corpus beside the checkout (CI clones with shared/ next to it)."""
    root = Path(__file__).resolve().parents[2]
    candidates = [
        os.environ.get("TIPLINE_CORPUS"),
        root.parent / "shared" / "corpus",
        "/work/shared/corpus",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "mat2").is_dir():
            return Path(candidate)
    raise RuntimeError("the test corpus (shared/corpus) was not found: set TIPLINE_CORPUS")


CORPUS = _find_corpus()
CANARY = "CNRY7q4xZ"


class Source(io.RawIOBase):
    """Like the decrypting reader: readable and seekable, but no name and no fileno."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._buf = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self._buf.read(len(b))
        b[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        return self._buf.read(-1 if size is None else size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._buf.seek(offset, whence)

    def tell(self) -> int:
        return self._buf.tell()

    def fileno(self) -> int:
        raise io.UnsupportedOperation("a decrypting reader has no file descriptor")


class Sink:
    """Like the encrypting writer: write() only. Anything else fails the test."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


def clean(data: bytes, **kwargs) -> tuple[Report, bytes]:
    sink = Sink()
    report = sanitize(Source(data), sink, **kwargs)
    assert json.loads(json.dumps(report.to_dict())) == report.to_dict()
    return report, sink.getvalue()


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.is_file())


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (apt-get install the Debian package)")
    return path


def exiftool(paths: list[Path]) -> dict[str, dict]:
    """exiftool -a -G1 -s -ee -j on many files at once: {path: {Group:Tag: value}}."""
    if not paths:
        return {}
    out = subprocess.run(
        [need("exiftool"), "-a", "-G1", "-s", "-ee", "-j", "-m", *map(str, paths)],
        capture_output=True,
        check=False,
        timeout=300,
    )
    return {entry["SourceFile"]: entry for entry in json.loads(out.stdout or b"[]")}


def ffmpeg(*args: str) -> None:
    subprocess.run(
        [need("ffmpeg"), "-nostdin", "-v", "error", "-y", *args], check=True, timeout=120
    )


# ---------------------------------------------------------------- exiftool judge

ZERO_DATE = {"0000:00:00 00:00:00", "0000:00:00 00:00:00Z", "1904:01:01 00:00:00"}
STANDARD_ICC = {
    "sRGB IEC61966-2.1",
    "Display P3",
    "Generic RGB Profile",
    "GIMP built-in sRGB",
    "Adobe RGB (1998)",
    "sRGB",
}
HARMLESS = {
    "ExifTool": {"ExifToolVersion"},
    # The SVG root's own attributes and the drawing's <title>: content, not metadata.
    "SVG": {
        "Xmlns",
        "ImageWidth",
        "ImageHeight",
        "ID",
        "SVGVersion",
        "Style",
        "ViewBox",
        "TitleId",
        "Title",
    },
    "File": {
        "FileType",
        "FileTypeExtension",
        "MIMEType",
        "ImageWidth",
        "ImageHeight",
        "EncodingProcess",
        "BitsPerSample",
        "ColorComponents",
        "YCbCrSubSampling",
        "ExifByteOrder",
        "BMPVersion",
        "Planes",
        "BitDepth",
        "Compression",
        "ImageLength",
        "PixelsPerMeterX",
        "PixelsPerMeterY",
        "NumColors",
        "NumImportantColors",
        "RedMask",
        "GreenMask",
        "BlueMask",
        "AlphaMask",
        "ColorSpace",
        "MaxVal",
    },
    "Composite": {"ImageSize", "Megapixels", "Duration", "AvgBitrate", "Rotation"},
    "JFIF": {"JFIFVersion", "ResolutionUnit", "XResolution", "YResolution"},
    "Adobe": {"DCTEncodeVersion", "APP14Flags0", "APP14Flags1", "ColorTransform"},
    "IFD0": {
        "Orientation",
        "ImageWidth",
        "ImageHeight",
        "BitsPerSample",
        "Compression",
        "PhotometricInterpretation",
        "StripOffsets",
        "SamplesPerPixel",
        "RowsPerStrip",
        "StripByteCounts",
        "PlanarConfiguration",
        "ExtraSamples",
        "XResolution",
        "YResolution",
        "ResolutionUnit",
        "ColorMap",
        "Predictor",
        "SampleFormat",
        "TileWidth",
        "TileLength",
        "TileOffsets",
        "TileByteCounts",
        "FillOrder",
        "SubfileType",
    },
    "ICC-header": {
        "ProfileVersion",
        "ProfileClass",
        "ColorSpaceData",
        "ProfileConnectionSpace",
        "ProfileFileSignature",
        "CMMFlags",
        "DeviceAttributes",
        "RenderingIntent",
        "ConnectionSpaceIlluminant",
    },
    "ICC_Profile": {
        "RedMatrixColumn",
        "GreenMatrixColumn",
        "BlueMatrixColumn",
        "RedTRC",
        "GreenTRC",
        "BlueTRC",
        "GrayTRC",
        "MediaWhitePoint",
        "MediaBlackPoint",
        "ChromaticAdaptation",
        "Luminance",
    },
    "ICC-chrm": {
        "ChromaticityChannels",
        "ChromaticityColorant",
        "ChromaticityChannel1",
        "ChromaticityChannel2",
        "ChromaticityChannel3",
    },
    "PNG": {
        "ImageWidth",
        "ImageHeight",
        "BitDepth",
        "ColorType",
        "Compression",
        "Filter",
        "Interlace",
        "BackgroundColor",
        "Gamma",
        "SRGBRendering",
        "WhitePointX",
        "WhitePointY",
        "RedX",
        "RedY",
        "GreenX",
        "GreenY",
        "BlueX",
        "BlueY",
        "Transparency",
        "Palette",
        "AnimationFrames",
        "AnimationPlays",
        "SignificantBits",
    },
    "PNG-pHYs": {"PixelsPerUnitX", "PixelsPerUnitY", "PixelUnits"},
    "GIF": {
        "GIFVersion",
        "ImageWidth",
        "ImageHeight",
        "HasColorMap",
        "ColorResolutionDepth",
        "BitsPerPixel",
        "BackgroundColor",
        "AnimationIterations",
        "TransparentColor",
        "FrameCount",
        "Duration",
        "PixelAspectRatio",
    },
    "RIFF": {
        "WebP_Flags",
        "ImageWidth",
        "ImageHeight",
        "VP8Version",
        "HorizontalScale",
        "VerticalScale",
        "AlphaPreprocessing",
        "AlphaFiltering",
        "AlphaCompression",
        "BackgroundColor",
        "AnimationLoopCount",
        "Encoding",
        "NumChannels",
        "SampleRate",
        "AvgBytesPerSec",
        "BitsPerSample",
        "FrameRate",
        "MaxDataRate",
        "FrameCount",
        "StreamCount",
        "StreamType",
        "VideoCodec",
        "VideoFrameRate",
        "VideoFrameCount",
        "Quality",
        "SampleSize",
        "AudioCodec",
        "AudioSampleRate",
        "AudioSampleCount",
        "TotalFrameCount",
        "ImageLength",
        "Duration",
    },
    "QuickTime": {
        "MajorBrand",
        "MinorVersion",
        "CompatibleBrands",
        "HandlerType",
        "HandlerVendorID",
        "ImageSpatialExtent",
        "ImagePixelDepth",
        "AV1ConfigurationVersion",
        "ChromaFormat",
        "ChromaSamplePosition",
        "ColorProfiles",
        "ColorPrimaries",
        "TransferCharacteristics",
        "MatrixCoefficients",
        "VideoFullRangeFlag",
        "MediaDataSize",
        "MediaDataOffset",
        "HEVCConfigurationVersion",
        "GeneralProfileSpace",
        "GeneralTierFlag",
        "GeneralProfileIDC",
        "GenProfileCompatibilityFlags",
        "ConstraintIndicatorFlags",
        "GeneralLevelIDC",
        "MinSpatialSegmentationIDC",
        "ParallelismType",
        "BitDepthLuma",
        "BitDepthChroma",
        "AverageFrameRate",
        "ConstantFrameRate",
        "NumTemporalLayers",
        "TemporalIDNested",
        "CleanAperture",
        "Rotation",
        "MovieHeaderVersion",
        "TimeScale",
        "Duration",
        "PreferredRate",
        "PreferredVolume",
        "MatrixStructure",
        "PreviewTime",
        "PreviewDuration",
        "PosterTime",
        "SelectionTime",
        "SelectionDuration",
        "CurrentTime",
        "NextTrackID",
        "AuxiliaryImageType",
        "ImageRotation",
        "ContentLightLevel",
        "MasteringDisplayColorVolume",
    },
    "Meta": {"PrimaryItemReference", "MetaImageSize"},
    "Track": {
        "TrackHeaderVersion",
        "TrackID",
        "TrackDuration",
        "TrackLayer",
        "TrackVolume",
        "MatrixStructure",
        "ImageWidth",
        "ImageHeight",
        "MediaHeaderVersion",
        "MediaTimeScale",
        "MediaDuration",
        "MediaLanguageCode",
        "HandlerType",
        "GraphicsMode",
        "OpColor",
        "CompressorID",
        "SourceImageWidth",
        "SourceImageHeight",
        "XResolution",
        "YResolution",
        "BitDepth",
        "ColorProfiles",
        "ColorPrimaries",
        "TransferCharacteristics",
        "MatrixCoefficients",
        "VideoFullRangeFlag",
        "BufferSize",
        "MaxBitrate",
        "AverageBitrate",
        "VideoFrameRate",
        "Balance",
        "AudioFormat",
        "AudioChannels",
        "AudioBitsPerSample",
        "AudioSampleRate",
        "PixelAspectRatio",
        "CleanAperture",
        "HandlerClass",
        "LayoutFlags",
        "PurchaseFileFormat",
        "AudioVendorID",
        # Matroska tracks
        "TrackNumber",
        "TrackUID",
        "TrackType",
        "TrackDefault",
        "CodecID",
        "VideoScanType",
        "DisplayUnit",
        "DisplayWidth",
        "DisplayHeight",
        "CodecPrivate",
        "DefaultDuration",
        "CodecDelay",
        "SeekPreRoll",
        "TrackLacing",
        "VideoFieldOrder",
    },
    "PDF": {
        "PDFVersion",
        "Linearized",
        "PageCount",
        "EmbeddedImageFilter",
        "EmbeddedImageWidth",
        "EmbeddedImageHeight",
        "EmbeddedImageColorSpace",
        "EmbeddedImageBitsPerComponent",
        "EmbeddedImage",
    },
    "ZIP": {
        "ZipRequiredVersion",
        "ZipBitFlag",
        "ZipCompression",
        "ZipCRC",
        "ZipCompressedSize",
        "ZipUncompressedSize",
        "ZipFileName",
    },
    "MPEG": {
        "MPEGAudioVersion",
        "AudioLayer",
        "AudioBitrate",
        "SampleRate",
        "ChannelMode",
        "MSStereo",
        "IntensityStereo",
        "CopyrightFlag",
        "OriginalMedia",
        "Emphasis",
        "VBRFrames",
        "VBRBytes",
    },
    "FLAC": {
        "BlockSizeMin",
        "BlockSizeMax",
        "FrameSizeMin",
        "FrameSizeMax",
        "SampleRate",
        "Channels",
        "BitsPerSample",
        "TotalSamples",
        "MD5Signature",
    },
    "Vorbis": {
        "VorbisVersion",
        "AudioChannels",
        "SampleRate",
        "NominalBitrate",
        "MinimumBitrate",
        "MaximumBitrate",
    },
    "Opus": {"OpusVersion", "AudioChannels", "SampleRate", "OutputGain"},
    "AIFF": {"NumChannels", "NumSampleFrames", "SampleSize", "SampleRate"},
    "ASF": {
        "FileLength",
        "DataPackets",
        "Duration",
        "SendDuration",
        "Preroll",
        "Flags",
        "MinPacketSize",
        "MaxPacketSize",
        "MaxBitrate",
        "ImageWidth",
        "ImageHeight",
        "StreamType",
        "ErrorCorrectionType",
        "TimeOffset",
        "StreamNumber",
        "AudioCodecID",
        "AudioChannels",
        "AudioSampleRate",
        "VideoCodecName",
        "VideoCodecDescription",
        "AudioCodecName",
        "AudioCodecDescription",
    },
    "Matroska": {
        "EBMLVersion",
        "EBMLReadVersion",
        "DocType",
        "DocTypeVersion",
        "DocTypeReadVersion",
        "TimecodeScale",
        "Duration",
        "TrackNumber",
        "TrackType",
        "TrackDefault",
        "CodecID",
        "ImageWidth",
        "ImageHeight",
        "VideoFrameRate",
        "AudioChannels",
        "AudioSampleRate",
        "TrackLanguage",
        "VideoScanType",
        "DisplayWidth",
        "DisplayHeight",
        "DisplayUnit",
        "AudioBitsPerSample",
        "CodecPrivate",
        "TrackUsed",
        "TagName",
        "MuxingApp",
        "WritingApp",
        "TrackLacing",
        "DefaultDuration",
        "CodecDelay",
        "SeekPreRoll",
        "TrackForced",
        "TrackFlagDefault",
        "ChromaSubsamplingHorz",
        "ChromaSubsamplingVert",
        "ChromaSitingHorz",
        "ChromaSitingVert",
        "VideoFieldOrder",
        "ColourPrimaries",
        "TransferCharacteristics",
        "MatrixCoefficients",
        "Range",
        "CueTrack",
        "CueClusterPosition",
        "CueRelativePosition",
        "CueTime",
        "CueTrackPositions",
        "BlockDuration",
        "TagTrackUID",
    },
}
# Tags allowed only with a harmless value.
VALUED = {
    "ICC-header:DeviceManufacturer": {""},
    "ICC-header:DeviceModel": {""},
    "ICC-header:ProfileCMMType": {""},
    "ICC-header:ProfileCreator": {""},
    "ICC-header:ProfileDateTime": ZERO_DATE,
    "ICC-header:ProfileID": {"0", 0},
    "ICC-header:PrimaryPlatform": {"Unknown ()", ""},
    "ICC_Profile:ProfileDescription": STANDARD_ICC,
    "QuickTime:CreateDate": ZERO_DATE,
    "QuickTime:ModifyDate": ZERO_DATE,
    "Track:TrackCreateDate": ZERO_DATE,
    "Track:TrackModifyDate": ZERO_DATE,
    "Track:MediaCreateDate": ZERO_DATE,
    "Track:MediaModifyDate": ZERO_DATE,
    "Track:HandlerDescription": {"VideoHandler", "SoundHandler", "DataHandler"},
    "Track:VendorID": {"FFmpeg"},
    "Track:TrackLanguage": {"und"},
    "ASF:CreationDate": ZERO_DATE,
    "ASF:FileID": {"00000000-0000-0000-0000-000000000000"},
    "ZIP:ZipModifyDate": {"1980:01:01 00:00:00"},
    "Vorbis:Vendor": {"ffmpeg", "Lavf"},
    "Opus:Vendor": {"ffmpeg", "Lavf"},
    "Matroska:MuxingApp": {"Lavf"},
    "Matroska:WritingApp": {"Lavf"},
}


def leftovers(tags: dict) -> dict[str, object]:
    """The tags exiftool still reports that are not on the harmless allowlist."""
    bad = {}
    for key, value in tags.items():
        if key == "SourceFile" or key.startswith("System:"):
            continue
        group, _, tag = key.partition(":")
        group = re.sub(r"^Track\d+$", "Track", group)
        if tag in HARMLESS.get(group, ()):
            continue
        if f"{group}:{tag}" in VALUED and value in VALUED[f"{group}:{tag}"]:
            continue
        bad[key] = value
    return bad


# ---------------------------------------------------------------- canary scanning

ZLIB_HEADER = re.compile(rb"\x78[\x01\x5e\x9c\xda]")


def canary_hits(data: bytes, canary: str = CANARY, depth: int = 0) -> list[str]:
    """Where the canary is still readable: raw bytes (UTF-8/UTF-16), any zlib
    stream in the file, any zip member (recursively)."""
    needles = [canary.encode(), canary.encode("utf-16-le"), canary.encode("utf-16-be")]
    hits = [f"raw@{data.find(n)}" for n in needles if n in data]
    for match in ZLIB_HEADER.finditer(data):
        try:
            inflated = zlib.decompressobj().decompress(data[match.start() :], 64 << 20)
        except zlib.error:
            continue
        if any(n in inflated for n in needles):
            hits.append(f"zlib@{match.start()}")
    if depth < 3 and b"PK\x03\x04" in data:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                for info in zf.infolist():
                    if info.filename.count(canary):
                        hits.append(f"zipname:{info.filename}")
                    member = zf.read(info)
                    hits += [
                        f"zip:{info.filename}:{h}" for h in canary_hits(member, canary, depth + 1)
                    ]
        except (zipfile.BadZipFile, ValueError, NotImplementedError, OSError):
            pass
    return hits
