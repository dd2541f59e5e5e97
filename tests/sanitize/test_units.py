"""Building blocks: the ICC policy, the EXIF reader/writer, the HEIF fallback."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from PIL import Image, ImageCms

import tipline.sanitize.images
from tipline.sanitize.exif import minimal_exif, read_exif
from tipline.sanitize.heif import NotLossless
from tipline.sanitize.icc import sanitize_icc

from . import makers
from ._support import CANARY, CORPUS, canary_hits, clean


def test_standard_profile_is_rebuilt_without_device_fields() -> None:
    profile = makers.icc_profile("sRGB IEC61966-2.1", manufacturer=CANARY[:4].encode())
    kept = sanitize_icc(profile, 1 << 20)
    assert kept is not None
    rebuilt, name = kept
    assert name == "sRGB IEC61966-2.1"
    assert canary_hits(rebuilt) == [] and CANARY[:4].encode() not in rebuilt
    assert rebuilt[48:56] == bytes(8) and rebuilt[24:36] == bytes(12)
    tags = {
        rebuilt[132 + 12 * i : 136 + 12 * i]
        for i in range(struct.unpack(">I", rebuilt[128:132])[0])
    }
    assert tags == {b"desc", b"wtpt"}


@pytest.mark.parametrize("description", [CANARY, "Color LCD", "Nikon sRGB 4.0.0.3001"])
def test_non_standard_profiles_are_dropped(description: str) -> None:
    assert sanitize_icc(makers.icc_profile(description), 1 << 20) is None


@pytest.mark.parametrize("junk", [b"", b"\x00" * 200, b"acsp" * 40, bytes(range(256)) * 3])
def test_junk_profiles_are_dropped(junk: bytes) -> None:
    assert sanitize_icc(junk, 1 << 20) is None


def test_rebuilt_profile_converts_colours_identically() -> None:
    """Colour fidelity: LittleCMS gives the same transform with the rebuilt profile."""
    original = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    with Image.open(CORPUS / "exif-samples/heic/IMG_5195.HEIC") as heic:
        display_p3 = heic.info["icc_profile"]
    lab = ImageCms.createProfile("LAB")
    picture = makers.picture((32, 32))
    for profile in (original, display_p3):
        kept = sanitize_icc(profile, 1 << 20)
        assert kept is not None
        results = [
            ImageCms.profileToProfile(
                picture, ImageCms.ImageCmsProfile(io.BytesIO(p)), lab, outputMode="LAB"
            ).tobytes()
            for p in (profile, kept[0])
        ]
        assert results[0] == results[1]


def test_minimal_exif_holds_only_orientation() -> None:
    block = minimal_exif(6)
    info = read_exif(block)
    assert info.orientation == 6 and info.found == set() and not info.thumbnail
    exif = Image.Exif()
    exif.load(b"Exif\x00\x00" + block)
    assert dict(exif) == {0x0112: 6}


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"Exif\x00\x00MM\x00*\xff\xff\xff\xff",
        b"II*\x00" * 9,
        b"MM\x00*\x00\x00\x00\x08\xff\xff" + bytes(40),
    ],
)
def test_exif_reader_never_raises(junk: bytes) -> None:
    assert "exif" in read_exif(junk).found or read_exif(junk).orientation is None


def test_heif_falls_back_to_a_reencode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise NotLossless("forced")

    monkeypatch.setattr(tipline.sanitize.images, "rebuild", refuse)
    original = makers.heic(tmp_path)
    report, output = clean(original)
    assert report.status == "cleaned_reencoded" and "reencoded" in report.notes
    assert canary_hits(output) == []
    old, new = Image.open(io.BytesIO(original)), Image.open(io.BytesIO(output))
    assert new.size == old.size
    assert not new.info.get("exif") and not new.info.get("xmp")


def test_heif_lossless_keeps_coded_image_bytes() -> None:
    data = (CORPUS / "exif-samples/heic/mobile/iphone_13_pro_max.HEIC").read_bytes()
    report, output = clean(data)
    assert report.status == "cleaned" and "lossless" in report.notes
    assert {"gps", "camera", "thumbnail", "secondary_images"} & {r.what for r in report.removed}
    assert len(output) < len(data)
