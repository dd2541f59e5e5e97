"""Benchmark: tipline.sanitize against ``exiftool -all=`` on the same files.

    .venv/bin/python bench/sanitize.py [--runs N] [--video-seconds S]

Generates (never commits) into a temporary directory: a 12-megapixel JPEG with
EXIF and GPS, a PNG with text chunks, a PDF with metadata and a ~100 MB video
(ffmpeg testsrc2 with metadata tags). Then, in the same run, times
``sanitize()`` in memory (BytesIO source -> write-only sink) and
``exiftool -all= -o OUT FILE`` on copies of the same files, best of N runs
each, and prints the ratio. Needs exiftool and ffmpeg on PATH.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pikepdf
from PIL import Image, ImageDraw, PngImagePlugin

from tipline.sanitize import sanitize


class NullSink:
    """Write-only, like the encrypting writer; counts bytes."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)


def make_jpeg(path: Path) -> None:
    width, height = 4000, 3000  # 12 MP
    noise = Image.effect_noise((width, height), 40)
    gradient = Image.linear_gradient("L").resize((width, height))
    im = Image.merge("RGB", (gradient, noise, gradient.transpose(Image.Transpose.ROTATE_180)))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0131] = "BenchCam", "Model 12", "Firmware 1.0"
    exif[0x013B], exif[0x0112] = "Somebody", 6
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (12.0, 34.0, 56.0), 3: "W", 4: (45.0, 6.0, 7.0)})
    im.save(path, quality=92, exif=exif, comment=b"bench comment")


def make_png(path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    for key in ("Author", "Comment", "Description", "Software", "Creation Time"):
        info.add_text(key, f"bench {key}")
    info.add_text("Comment", "compressed bench comment", zip=True)
    noise = Image.effect_noise((2000, 1500), 20)
    gradient = Image.linear_gradient("L").resize((2000, 1500))
    im = Image.merge("RGB", (gradient, noise, gradient))
    ImageDraw.Draw(im).text((100, 100), "bench", fill=(255, 0, 0))
    im.save(path, pnginfo=info)


def make_pdf(path: Path) -> None:
    photo = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F], exif[0x013B] = "BenchCam", "Somebody"
    Image.effect_noise((1200, 900), 30).convert("RGB").save(photo, "JPEG", exif=exif)
    pdf = pikepdf.new()
    image = pikepdf.Stream(pdf, photo.getvalue())
    image.Type, image.Subtype, image.Filter = (
        pikepdf.Name.XObject,
        pikepdf.Name.Image,
        pikepdf.Name.DCTDecode,
    )
    image.Width, image.Height, image.BitsPerComponent = 1200, 900, 8
    image.ColorSpace = pikepdf.Name.DeviceRGB
    for index in range(50):
        pdf.add_blank_page(page_size=(595, 842))
        page = pdf.pages[index]
        page.Resources = pikepdf.Dictionary(
            Font=pikepdf.Dictionary(
                F1=pikepdf.Dictionary(
                    Type=pikepdf.Name.Font,
                    Subtype=pikepdf.Name.Type1,
                    BaseFont=pikepdf.Name.Helvetica,
                )
            ),
            XObject=pikepdf.Dictionary(Im1=image),
        )
        text = (
            " ".join(
                f"BT /F1 11 Tf 50 {800 - 14 * line} Td (Page {index} line {line}) Tj ET"
                for line in range(50)
            )
            + " q 300 0 0 225 50 50 cm /Im1 Do Q"
        )
        page.Contents = pdf.make_stream(text.encode())
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = ["Somebody"]
    pdf.docinfo["/Author"] = "Somebody"
    pdf.docinfo["/Title"] = "Bench"
    pdf.save(path)


def make_video(path: Path, seconds: int) -> None:
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1920x1080:rate=30",
            "-f",
            "lavfi",
            "-i",
            "sine=f=440",
            "-t",
            str(seconds),
            "-vf",
            "noise=alls=4:allf=t",
            "-c:v",
            "mpeg4",
            "-q:v",
            "3",
            "-c:a",
            "aac",
            "-metadata",
            "title=bench",
            "-metadata",
            "artist=Somebody",
            "-metadata",
            "location=+12.3456-045.6789/",
            "-metadata",
            "creation_time=2024-01-02",
            str(path),
        ],
        check=True,
    )


def time_sanitize(path: Path, runs: int) -> tuple[float, str]:
    data = path.read_bytes()
    best, status = float("inf"), ""
    for _ in range(runs):
        source = io.BytesIO(data)
        start = time.perf_counter()
        report = sanitize(source, NullSink())
        best = min(best, time.perf_counter() - start)
        status = str(report.status)
    return best, status


def time_exiftool(path: Path, runs: int, work: Path) -> float:
    best = float("inf")
    for run in range(runs):
        copy = work / f"copy{run}{path.suffix}"
        out = work / f"out{run}{path.suffix}"
        shutil.copyfile(path, copy)
        start = time.perf_counter()
        subprocess.run(["exiftool", "-q", "-q", "-all=", "-o", str(out), str(copy)], check=True)
        best = min(best, time.perf_counter() - start)
        copy.unlink()
        out.unlink()
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--video-seconds", type=int, default=36, help="36 s is about 100 MB")
    args = parser.parse_args()
    for tool in ("exiftool", "ffmpeg"):
        if shutil.which(tool) is None:
            print(f"{tool} is needed (Debian: libimage-exiftool-perl, ffmpeg)", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="tipline-bench-") as tmp:
        work = Path(tmp)
        files = {
            "jpeg 12 MP": work / "photo.jpg",
            "png + text": work / "picture.png",
            "pdf 50 pages": work / "document.pdf",
            "video": work / "video.mp4",
        }
        print("generating ...", flush=True)
        make_jpeg(files["jpeg 12 MP"])
        make_png(files["png + text"])
        make_pdf(files["pdf 50 pages"])
        make_video(files["video"], args.video_seconds)
        print(f"{'file':14} {'size':>10} {'sanitize':>10} {'exiftool':>10} {'speed-up':>9}  status")
        for label, path in files.items():
            ours, status = time_sanitize(path, args.runs)
            theirs = time_exiftool(path, args.runs, work)
            size = path.stat().st_size / 1e6
            print(
                f"{label:14} {size:8.2f}MB {ours * 1000:8.2f}ms {theirs * 1000:8.1f}ms "
                f"{theirs / ours:8.1f}x  {status}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
