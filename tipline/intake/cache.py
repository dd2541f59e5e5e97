"""The embedded default's cache: files on a memory file system, shared by this host's web processes.

It holds the flood counters and the marks of used forms (``flood.py``,
``form_token.py``), nothing else. In the data dir, as before, its files were
rewritten at every tip, so a seized disk dated the last tip to the second.
On a memory file system (``/dev/shm``) nothing of it reaches the disk or
survives a shutdown, and the web server's processes still share it: a form
sent twice, to two processes, still makes one tip. Redis (``CACHE_URL``) is
the choice for several hosts.

The folder is ``/dev/shm/tipline-<hash of the secret key and the data dir>``
(config/settings.py): another account on the host cannot guess the name to
make it first. Django's file cache unpickles what it reads, so a folder that
is not a real folder of this account, closed to everyone else, is refused
before anything is read from it; the cache then fails, and a failing cache
never refuses a tip (it only loses the flood mark and the replay check, with
a warning).

The entries' file times are set to their hour (``flood.py``); their birth and
change times, in memory, are not: they stay until the entry expires, and the
hourly batch deletes expired entries (``clear_expired``), which Django's file
cache would otherwise keep until read. docs/arrivals.md says what a live
attacker could read here.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from django.core.cache.backends.filebased import FileBasedCache


class UnsafeCacheFolder(PermissionError):
    """The folder is not a real folder of this account, closed to everyone else."""


class MemoryFileCache(FileBasedCache):
    """Django's file cache in a folder it checks before the first read or write."""

    # Django's own (FileBasedCache's folder), missing from the type stubs, like
    # the helpers overridden below.
    _dir: str

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        self._folder_checked = False
        self._ready = False  # no folder made by merely configuring (`manage.py check`)
        super().__init__(location, params)
        self._ready = True

    def _folder_check(self) -> None:
        if self._folder_checked:
            return
        try:
            os.mkdir(self._dir, 0o700)
        except FileExistsError:
            pass
        info = os.lstat(self._dir)
        if (
            not stat.S_ISDIR(info.st_mode)
            or info.st_uid != os.geteuid()
            or stat.S_IMODE(info.st_mode) & 0o077
        ):
            raise UnsafeCacheFolder("the memory cache's folder is not this account's own")
        self._folder_checked = True

    def _createdir(self) -> None:
        # Before every write. A folder removed meanwhile (a clean-up of /dev/shm)
        # is made, and checked, again.
        if self._ready:
            if not os.path.isdir(self._dir):
                self._folder_checked = False
            self._folder_check()

    def _key_to_file(self, key: str, version: int | None = None) -> str:
        # Every read, write and deletion of an entry finds its file here.
        self._folder_check()
        return super()._key_to_file(key, version)  # type: ignore[misc]

    def _list_cache_files(self) -> list[str]:
        self._folder_check()
        return super()._list_cache_files()  # type: ignore[misc]

    def clear_expired(self) -> int:
        """Delete every expired entry; how many went."""
        removed = 0
        for path in self._list_cache_files():
            try:
                with open(path, "rb") as handle:
                    # Django's check deletes the file when it has expired.
                    removed += bool(self._is_expired(handle))  # type: ignore[attr-defined]
            except FileNotFoundError:
                continue
        return removed
