"""A request's body is read whole, in bounded time, before anything else of the app runs.

Under gunicorn's gevent worker (the API's server, api/gunicorn.conf.py) the body is read under a
``gevent.Timeout`` of ``OBSRV_API_BODY_TIMEOUT`` seconds for the whole body, however the client paces
it: a client that announces a body and sends it slowly gets a 408 in the one error shape and its
connection is closed (gunicorn closes a connection whose body read raised: where the next request
would start is unknown). Meanwhile it holds only its own greenlet — no thread, and no Postgres
connection: this runs before authentication.

Bodies over ``OBSRV_API_MAX_BODY_BYTES`` are a 413 (Flask's ``MAX_CONTENT_LENGTH``). The refused body
is still read and thrown away (up to ``_DRAIN_FACTOR`` times the limit, within the same body timeout)
before the answer: a server that closes a connection with unread request data makes the kernel reset
it, and the reset destroys the 413 on its way — the client, or HAProxy in front, saw "connection
closed without response" instead of the error. Bigger bodies are cut without that courtesy.

Under other servers (gthread, the test client) nothing here waits: the body is read when a view
reads it, as the server delivers it.
"""

from __future__ import annotations

import sys

from flask import Flask, current_app, request
from flask_smorest import abort
from werkzeug.exceptions import RequestEntityTooLarge

_DRAIN_FACTOR = 8


class _BodyTooSlow(Exception):
    """Raised inside the body read when its time is up. An ``Exception`` (gevent's own Timeout is a
    ``BaseException``), so that gunicorn's body reader marks the body failed and closes the connection
    after the answer; not an ``OSError``, which werkzeug would take for a disconnect."""


def _cooperative() -> bool:
    """Whether this process runs under gevent's monkey-patching (gunicorn's gevent worker)."""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("socket"))


def _has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def _read_body_in_time():
    if not _has_body() or not _cooperative():
        return
    import gevent

    seconds = current_app.config["OBSRV_API_BODY_TIMEOUT"]
    try:
        with gevent.Timeout(seconds, _BodyTooSlow):
            try:
                request.get_data(cache=True)  # views, the input guard and webargs read this copy
            except RequestEntityTooLarge:
                _drain(current_app.config["OBSRV_API_MAX_BODY_BYTES"] * _DRAIN_FACTOR)
                raise
    except _BodyTooSlow:
        abort(408, message=f"The request body did not arrive within {seconds:g} s")


def _drain(most: int) -> None:
    """Read and discard what is left of a refused body, up to ``most`` bytes (see the module's doc)."""
    if request.content_length is not None and request.content_length > most:
        return
    stream = request.environ["wsgi.input"]
    left = most
    while left > 0:
        chunk = stream.read(min(left, 65536))
        if not chunk:
            return
        left -= len(chunk)


def init_app(app: Flask) -> None:
    app.config["MAX_CONTENT_LENGTH"] = app.config["OBSRV_API_MAX_BODY_BYTES"]
    app.before_request(_read_body_in_time)
