"""Audio and video: remux with PyAV (FFmpeg) without re-encoding.

Every audio and video packet is copied as it is into a fresh container of the
same kind; nothing else is carried over. Removed: container and stream
metadata (title, artist, comment, encoder, creation_time, QuickTime/Apple keys
such as ©xyz and com.apple.quicktime.location.ISO6709, make, model, software,
udta/meta boxes, ID3v1/ID3v2, APE, Vorbis comments, RIFF INFO), chapters,
cover art (attached pictures), subtitle, data (GPS/timecode/camera metadata
tracks), and attachment streams. The muxer runs with the bitexact flag, so it
adds no encoder name, random ids or dates of its own; QuickTime creation times
are written as zero.

Motion-JPEG video (old cameras, dashcams) carries EXIF in every frame: each
frame goes through the JPEG marker walker, so frames keep their pixels and
lose their metadata.

Kept: the audio and video streams and their codec parameters, including the
display matrix (rotation), so the video plays the same way up and for the same
duration.

The muxer needs a seekable output, so it writes to ``dst`` (a scratch object);
the caller copies it to the sink afterwards.
"""

from __future__ import annotations

import io
from typing import BinaryIO

import av

from .common import Context
from .jpeg import clean_jpeg
from .limits import Damaged, LimitExceeded, SanitizeError
from .report import Report

# sniffed mime -> (demuxer, muxer, muxer options)
MUXERS: dict[str, tuple[str, str, dict[str, str]]] = {
    "video/mp4": ("mov", "mp4", {}),
    "video/quicktime": ("mov", "mov", {}),
    "audio/mp4": ("mov", "ipod", {}),
    "video/3gpp": ("mov", "3gp", {}),
    "video/3gpp2": ("mov", "3g2", {}),
    "video/x-matroska": ("matroska", "matroska", {}),
    "video/webm": ("matroska", "webm", {}),
    "audio/mpeg": ("mp3", "mp3", {"id3v2_version": "0", "write_id3v1": "0"}),
    "audio/ogg": ("ogg", "ogg", {}),
    "video/ogg": ("ogg", "ogg", {}),
    "audio/flac": ("flac", "flac", {}),
    "audio/wav": ("wav", "wav", {"write_bext": "0"}),
    "audio/aac": ("aac", "adts", {"write_id3v2": "0", "write_apetag": "0"}),
    "video/x-msvideo": ("avi", "avi", {}),
    "video/x-ms-asf": ("asf", "asf", {}),
    "audio/aiff": ("aiff", "aiff", {"write_id3v2": "0"}),
}
KEY_CODES = {
    "location": "gps",
    "location-eng": "gps",
    "com.apple.quicktime.location.iso6709": "gps",
    "©xyz": "gps",
    "xyz": "gps",
    "gps": "gps",
    "make": "camera",
    "model": "camera",
    "com.apple.quicktime.make": "camera",
    "com.apple.quicktime.model": "camera",
    "android/manufacturer": "camera",
    "android/model": "camera",
    "software": "software",
    "com.apple.quicktime.software": "software",
    "encoder": "encoder",
    "encoded_by": "encoder",
    "encoder-eng": "encoder",
    "creation_time": "creation_time",
    "date": "creation_time",
    "com.apple.quicktime.creationdate": "creation_time",
    "date_recorded": "creation_time",
    "artist": "author",
    "album_artist": "author",
    "author": "author",
    "composer": "author",
    "copyright": "author",
    "performer": "author",
    "comment": "comments",
    "description": "description",
    "title": "tags",
}
BUFFER = 1 << 20
BITEXACT = 0x0400  # AVFMT_FLAG_BITEXACT


def sanitize_media(src: BinaryIO, dst: BinaryIO, ctx: Context) -> Report:
    report = ctx.new_report()
    demuxer, muxer, options = MUXERS[ctx.kind.mime]
    try:
        _remux(src, dst, ctx, report, demuxer, muxer, options)
    except av.FFmpegError as exc:
        raise Damaged("unreadable", "audio/video demuxing or muxing failed") from exc
    report.note("remuxed")
    return report


def _clean_frame(packet: av.Packet, ctx: Context, report: Report, first: bool) -> av.Packet | None:
    """Motion-JPEG frames are whole JPEGs, and cameras put EXIF (GPS, serial
    numbers) in every one: run the JPEG marker walker on each frame."""
    out = io.BytesIO()
    sub = Report(status=report.status)
    try:
        clean_jpeg(io.BytesIO(bytes(packet)), out, ctx, sub, check_size=False, keep_avi1=True)
    except SanitizeError:
        report.add("other")  # an unreadable frame is dropped rather than kept with its EXIF
        return None
    if first:  # report what the first frames held, not once per frame
        for item in sub.removed:
            if not report.count(item.what):
                report.add(item.what)
    cleaned = av.Packet(out.getvalue())
    cleaned.pts, cleaned.dts, cleaned.duration = packet.pts, packet.dts, packet.duration
    cleaned.time_base = packet.time_base
    cleaned.is_keyframe = packet.is_keyframe
    return cleaned


def _report_metadata(metadata: dict[str, str], report: Report, stream: bool = False) -> None:
    for key in metadata:
        code = KEY_CODES.get(key.lower())
        if code is None and stream:
            continue  # language, handler name, vendor id: format plumbing
        report.add(code or "tags")


def _remux(
    src: BinaryIO,
    dst: BinaryIO,
    ctx: Context,
    report: Report,
    demuxer: str,
    muxer: str,
    options: dict[str, str],
) -> None:
    with av.open(src, "r", format=demuxer, buffer_size=BUFFER, metadata_errors="replace") as inp:
        streams = list(inp.streams)
        if len(streams) > ctx.limits.max_streams:
            raise LimitExceeded("too_many_streams", "more streams than the limit")
        _report_metadata(dict(inp.metadata), report)
        chapters = len(inp.chapters()) if hasattr(inp, "chapters") else 0
        report.add("chapters", min(chapters, 1))
        keep = []
        for stream in streams:
            _report_metadata(dict(stream.metadata), report, stream=True)
            attached = bool(stream.disposition & av.stream.Disposition.attached_pic)
            if stream.type in ("video", "audio") and not attached:
                keep.append(stream)
            elif attached:
                report.add("cover_art")
            elif stream.type == "subtitle":
                report.add("subtitles")
            elif stream.type == "attachment":
                report.add("embedded_files")
            else:
                report.add("data_tracks")
        if not keep:
            raise Damaged("no_streams", "no audio or video stream")
        with av.open(dst, "w", format=muxer, options=options, buffer_size=BUFFER) as out:
            out.flags = int(out.flags) | BITEXACT
            mapping = {}
            mjpeg = set()
            for stream in keep:
                copy = out.add_stream_from_template(stream)
                copy.metadata.clear()
                mapping[stream.index] = copy
                if stream.type == "video" and stream.codec_context.name == "mjpeg":
                    mjpeg.add(stream.index)
            packets = 0
            ctx.deadline.check()
            for packet in inp.demux(keep):
                if packet.dts is None:  # the demuxer's end-of-stream marker
                    continue
                target = mapping[packet.stream.index]
                if packet.stream.index in mjpeg:
                    cleaned = _clean_frame(packet, ctx, report, first=packets < len(keep) * 4)
                    if cleaned is None:
                        continue
                    packet = cleaned
                packet.stream = target
                out.mux(packet)
                packets += 1
                if packets % 256 == 0:
                    if packets > ctx.limits.max_packets:
                        raise LimitExceeded("too_large", "more packets than the limit")
                    ctx.deadline.check()
            if packets == 0:
                raise Damaged("no_packets", "no audio or video data")
