"""The hourly limit on new tips: global, checked before the body is read, and it names no one."""

from __future__ import annotations

import io
import pickle
import re
import time
import zlib
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.test import Client, RequestFactory

from tests.conftest import all_files_under
from tests.intake.helpers import submit_tip
from tipline.intake import ratelimit
from tipline.intake.views import submit
from tipline.models import Attachment, Tip

pytestmark = pytest.mark.django_db

ADDRESS = "198.51.100.23"
FORWARDED = "203.0.113.99"
AGENT = "NoTraceUA/9.9 canary"
BUSY_ES = "El buzón está recibiendo mucha información en este momento"
BUSY_EN = "The tip line is receiving many tips right now"


class Clock:
    """The rate limiter's clock, starting in the middle of the current hour."""

    def __init__(self) -> None:
        self.now = (time.time() // 3600) * 3600 + 1800

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(ratelimit, "_now", clock)
    return clock


@pytest.fixture
def memory_cache(settings, clock):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "tipline-ratelimit-tests",
        }
    }
    settings.TIPLINE_MAX_TIPS_PER_HOUR = 2
    cache.clear()
    yield cache
    cache.clear()


def source() -> Client:
    return Client(REMOTE_ADDR=ADDRESS, HTTP_X_FORWARDED_FOR=FORWARDED, HTTP_USER_AGENT=AGENT)


class ExplodingInput(io.RawIOBase):
    """A request body that must never be read."""

    def readinto(self, buffer) -> int:
        raise AssertionError("the body was read")


def unread_post():
    request = RequestFactory().post(
        "/es/send/", data=b"", content_type="multipart/form-data; boundary=xyz"
    )
    request.META["CONTENT_LENGTH"] = "1000"
    request.META["wsgi.input"] = ExplodingInput()
    request._stream = ExplodingInput()
    return request


def test_the_tip_after_the_limit_is_refused_before_its_body_is_read(
    memory_cache, open_tipline, blob_storage: Path
) -> None:
    for n in range(2):
        assert submit_tip(source(), note=f"tip {n}").status_code == 200
    response = submit(unread_post())
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    # The same through the whole stack, with a file: nothing of it is kept.
    response = submit_tip(source(), note="one more", files=[("a.txt", b"hola")])
    assert response.status_code == 429
    assert Tip.objects.count() == 2
    assert Attachment.objects.count() == 0
    assert all_files_under(blob_storage) == []


def test_refused_and_invalid_submissions_are_not_counted(memory_cache, open_tipline) -> None:
    for _ in range(3):
        assert submit_tip(source()).status_code == 400  # empty
    assert submit_tip(source(), note="counted").status_code == 200
    assert submit_tip(source(), note="counted too").status_code == 200
    assert submit_tip(source(), note="over").status_code == 429


def test_the_count_starts_again_in_the_next_hour(memory_cache, clock, open_tipline) -> None:
    ratelimit.tip_accepted_count()
    ratelimit.tip_accepted_count()
    assert submit_tip(source(), note="over").status_code == 429
    clock.now += 3600
    assert submit_tip(source(), note="new hour").status_code == 200
    assert submit_tip(source(), note="second").status_code == 200
    assert submit_tip(source(), note="over again").status_code == 429
    # Counting in the new hour removed the old hour's entry.
    assert memory_cache.get(ratelimit._key(ratelimit._hour(clock.now - 3600))) is None


def test_the_entry_expires_at_a_time_that_depends_on_the_hour_only(clock) -> None:
    hour = ratelimit._hour(clock.now)
    start = hour * 3600
    expiries = {now + ratelimit._timeout(now, hour) for now in (start, start + 1, start + 3599)}
    assert max(expiries) - min(expiries) <= 1, "the expiry would tell when the first tip came"
    assert all(0 < ratelimit._timeout(now, hour) <= 2 * 3600 for now in (start, start + 3599))


@pytest.mark.parametrize(("lang", "text"), [("es", BUSY_ES), ("en", BUSY_EN)])
def test_the_refusal_is_a_translated_page(memory_cache, open_tipline, lang, text) -> None:
    ratelimit.tip_accepted_count()
    ratelimit.tip_accepted_count()
    response = submit_tip(source(), note="hola", url=f"/{lang}/send/")
    assert response.status_code == 429
    body = response.content.decode()
    assert text in body and f'<html lang="{lang}">' in body


def test_no_limit_when_set_to_zero(memory_cache, settings, open_tipline) -> None:
    settings.TIPLINE_MAX_TIPS_PER_HOUR = 0
    for n in range(3):
        assert submit_tip(source(), note=f"tip {n}").status_code == 200
    assert list(memory_cache._cache) == []


def test_a_broken_cache_lets_tips_through(memory_cache, open_tipline, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    for name in ("get", "add", "incr"):
        monkeypatch.setattr(LocMemCache, name, broken)
    assert submit_tip(source(), note="still welcome").status_code == 200
    assert Tip.objects.count() == 1


def test_the_memory_cache_holds_one_number_and_nothing_about_the_client(
    memory_cache, clock, open_tipline
) -> None:
    for lang in ("es", "en"):
        submit_tip(source(), note="hola", url=f"/{lang}/send/")
    submit_tip(source(), note="refused")
    clock.now += 3600
    submit_tip(source(), note="next hour", files=[("a.txt", b"hola")])
    keys = list(memory_cache._cache)
    assert keys and all(re.fullmatch(r":1:tipline:tips-accepted:slot-[01]", key) for key in keys)
    assert len(keys) == 1, "last hour's count is gone"
    values = [pickle.loads(raw) for raw in memory_cache._cache.values()]
    assert values == [1]
    raw = b"".join(key.encode() for key in keys) + b"".join(memory_cache._cache.values())
    for needle in (ADDRESS, FORWARDED, AGENT, "NoTraceUA"):
        assert needle.encode() not in raw


def test_the_file_cache_holds_one_number_and_nothing_about_the_client(
    settings, clock, tmp_path: Path, open_tipline
) -> None:
    folder = tmp_path / "cache"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(folder),
        }
    }
    settings.TIPLINE_MAX_TIPS_PER_HOUR = 5
    for n in range(3):
        assert submit_tip(source(), note=f"tip {n}").status_code == 200
    files = all_files_under(folder)
    assert len(files) == 1
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert oct(files[0].stat().st_mode & 0o777) == "0o600"
    with files[0].open("rb") as handle:
        pickle.load(handle)
        stored = zlib.decompress(handle.read())
    assert pickle.loads(stored) == 3
    raw = files[0].read_bytes() + stored
    for needle in (ADDRESS, FORWARDED, AGENT, "NoTraceUA"):
        assert needle.encode() not in raw
