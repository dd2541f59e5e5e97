"""The one ASGI application uvicorn serves (``config.asgi:application``): a router before Django.

Every request gets the body-rate guard (tipline/server/limits.py), then goes to
the first route whose method and path match (``Router.routes``, the one list
of them), or else to Django with a small body read into memory first:

- a ``Content-Length`` over ``TIPLINE_MAX_REQUEST_BODY_KB`` is refused (413)
  before a byte of the body is read, and a body without one that grows past it
  is refused when it does; both answers close the connection;
- the body read, the request waits for a thread of its side (sources or
  staff), then runs through every middleware and view (tipline/server/bridge.py).

The lifespan starts, in each worker process, the thread pools and the embedded
daily maintenance (tipline/retention/scheduler.py), as gunicorn's
``post_worker_init`` did.
"""

from __future__ import annotations

import importlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from tipline.intake.later_files import later_files_handler_for
from tipline.intake.streaming import ASGIApp, StreamingIntake, content_length
from tipline.server.bridge import DjangoBridge, refusal
from tipline.server.limits import Capacity, RateGuard, Receive, Scope, Send
from tipline.server.protocol import CLOSE_EXTENSION

logger = logging.getLogger(__name__)

# The Django bridge, in the scope of every request routed to an application
# of its own (the resumable uploads), for the Django work such an application
# needs: ``await scope[DJANGO_SCOPE_KEY].run(scope, function, *args)`` runs
# ``function`` in a thread of the request's side, ``await
# scope[DJANGO_SCOPE_KEY](scope, receive, send, body=..., prepare=...)`` answers
# through Django's middleware and views.
DJANGO_SCOPE_KEY = "tipline.django"
RESUMABLE_APP = "tipline.intake.tus:application"


@dataclass(frozen=True)
class Route:
    methods: frozenset[str] | None  # None: every method
    path: re.Pattern[str]  # matched against the whole path
    app: ASGIApp | LazyApp

    def matches(self, scope: Scope) -> bool:
        method_ok = self.methods is None or scope["method"] in self.methods
        return method_ok and self.path.fullmatch(scope["path"]) is not None


class LazyApp:
    """An ASGI application imported on its first request, if its module exists.

    Until the module exists (it is written apart), its paths fall through to
    Django, which answers 404 as for any unknown path.
    """

    _MISSING: Any = object()

    def __init__(self, target: str) -> None:
        self.target = target
        self._app: ASGIApp | None = self._MISSING

    def load(self) -> ASGIApp | None:
        if self._app is self._MISSING:
            module_name, _sep, attribute = self.target.partition(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name != module_name:
                    raise  # the module exists and an import inside it failed: say so
                self._app = None
            else:
                self._app = getattr(module, attribute)
        return self._app


class Router:
    def __init__(self) -> None:
        self._started = False
        self._capacity: Capacity
        self._django: DjangoBridge
        self._routes: list[Route] = []

    def routes(self) -> list[Route]:
        """Every path that does not go straight to Django. The first match wins."""
        languages = "|".join(re.escape(code) for code, _name in settings.LANGUAGES)
        intake = StreamingIntake(
            django=self._django, blob_io=self._capacity.blob_io, plain=self.django
        )
        # A source's message with files: the same intake, under the visit's key,
        # resolved from the cookie before the body is read (tipline/intake/later_files.py).
        later_files = StreamingIntake(
            django=self._django,
            blob_io=self._capacity.blob_io,
            plain=self.django,
            handler_for=later_files_handler_for,
        )
        return [
            # The source form: read as it arrives, each file encrypted into its
            # blob chunk by chunk; Django renders the answer (tipline/intake/streaming.py).
            Route(frozenset({"POST"}), re.compile(rf"/(?:{languages})/send/"), intake),
            Route(frozenset({"POST"}), re.compile(rf"/(?:{languages})/conversation/"), later_files),
            # Resumable uploads (tus), an ASGI application of their own in
            # tipline/intake/tus.py, loaded on first use. Its requests get the
            # rate guard like any other, and the Django bridge in their scope
            # (DJANGO_SCOPE_KEY) for the work that needs a thread.
            Route(None, re.compile(rf"/(?:{languages})/uploads/.*"), LazyApp(RESUMABLE_APP)),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets (config/server.py turns them off)
        self._start()
        guard = RateGuard.from_settings(receive)
        started = False

        async def watched_send(message: dict[str, Any]) -> None:
            nonlocal started
            started = True
            await send(message)

        await self._app_for(scope)(scope, guard, watched_send)
        if guard.tripped:
            self._too_slow(scope)
            if not started and CLOSE_EXTENSION not in scope.get("extensions", {}):
                await self._django(scope, guard, send, body_complete=False, prepare=refusal(408))

    def _app_for(self, scope: Scope) -> ASGIApp:
        for route in self._routes:
            if route.matches(scope):
                app = route.app.load() if isinstance(route.app, LazyApp) else route.app
                if app is not None:
                    scope[DJANGO_SCOPE_KEY] = self._django
                    return app
        return self.django

    def _too_slow(self, scope: Scope) -> None:
        close = scope.get("extensions", {}).get(CLOSE_EXTENSION)
        if close is not None:
            close()

    async def django(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Django, for a request whose body fits in ``TIPLINE_MAX_REQUEST_BODY_KB``."""
        cap = settings.TIPLINE_MAX_REQUEST_BODY_KB * 1024
        declared = content_length(scope)
        if declared is not None and declared > cap:
            await self._django(scope, receive, send, body_complete=False, prepare=refusal(413))
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > cap:
                await self._django(scope, receive, send, body_complete=False, prepare=refusal(413))
                return
            if not message.get("more_body", False):
                break
        await self._django(scope, receive, send, body=bytes(body))

    # --- Start and stop -------------------------------------------------------------------

    def _start(self) -> None:
        """Once per worker process: the thread pools, Django's middleware, the daily run."""
        if self._started:
            return
        from tipline.retention.scheduler import daily_runner_start

        self._capacity = Capacity.from_settings()
        self._django = DjangoBridge(self._capacity)
        self._routes = self.routes()
        self._started = True
        daily_runner_start()

    def _stop(self) -> None:
        if self._started:
            self._capacity.shutdown()
            self._started = False

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self._start()
                except Exception as exc:  # noqa: BLE001 - reported to uvicorn, which stops
                    logger.error("the server could not start (%s)", type(exc).__name__)
                    await send({"type": "lifespan.startup.failed", "message": type(exc).__name__})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self._stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
