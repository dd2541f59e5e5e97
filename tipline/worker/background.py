"""With no broker (the embedded default), a long task runs in one background thread.

Celery's eager mode runs a task where it is sent: for a safe copy that is the
source's own request, which would wait for a sandboxed conversion (OCR
included: minutes) and hold one of the source side's few threads meanwhile,
so a handful of long documents would close the form to everyone. Here such a
task runs in one thread of the web process, one at a time, after the request
has answered. A process that stops first leaves the safe copy pending, and
the daily sweep marks it "could not be made" (tipline/retention/sweep.py).
With a broker none of this runs: the task goes to the workers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def run_in_background(function: Callable[..., object], *args: object) -> Future[None]:
    """Run ``function(*args)`` in the background thread, after what is already queued."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tipline-background")
        return _executor.submit(_run, function, *args)


def _run(function: Callable[..., object], *args: object) -> None:
    close_old_connections()
    try:
        function(*args)
    except Exception as exc:  # noqa: BLE001 - the task marks its own failures; keep the thread
        logger.warning("a background task failed (%s)", type(exc).__name__)
    finally:
        connection.close()  # this thread's own connection, never shared with a request
