"""The web server's own layer: one ASGI application in front of Django.

uvicorn (with httptools) runs it (``config/server.py``). It routes the source
form's POST to the streaming intake (tipline/intake/streaming.py), the
resumable uploads to their own ASGI application, and everything else to
Django with a small, capped body; it bounds the Django work in flight per side
(sources, staff) and cuts off clients too slow to be real. See
docs/decisions.md, "The web server".
"""
