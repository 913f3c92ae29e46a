"""The one error shape of every 4xx/5xx response.

``{"code": 404, "status": "Not Found", "message": "...", "errors": {...}?, "request_id": "..."}``

Views raise through ``abort(status, message=...)`` (flask-smorest's, which is
webargs'); validation errors come out as 400 with one message per field under
``errors``; anything unexpected is logged and becomes a 500 of the same shape.
"""

from __future__ import annotations

import logging

import marshmallow as ma
from flask import g
from flask_smorest import Api
from flask_smorest.error_handler import ErrorSchema as _SmorestErrorSchema
from werkzeug.exceptions import HTTPException, InternalServerError

from api import openapi

log = logging.getLogger("obsrv.api")


class ErrorSchema(_SmorestErrorSchema):
    request_id = ma.fields.String(metadata={"description": "Echo of X-Request-ID, for support"})


class ObsrvApi(Api):
    ERROR_SCHEMA = ErrorSchema

    def _init_spec(self, **kwargs):
        super()._init_spec(**kwargs)
        openapi.init_spec(self)

    def _register_pagination_header(self):
        self.spec.components.header("PAGINATION", openapi.PAGINATION_HEADER, lazy=True)

    def _register_error_handlers(self):
        super()._register_error_handlers()
        self._app.register_error_handler(Exception, self.handle_unexpected)

    def handle_http_exception(self, error):
        payload, code, headers = super().handle_http_exception(error)
        if "message" not in payload:
            payload["message"] = error.description or error.name
        if "errors" in payload and set(payload["errors"]) <= {"json", "query", "view_args", "headers"}:
            payload["message"] = payload.get("message") or "Invalid request"
            if payload["message"] == error.description:
                payload["message"] = "Invalid request: see errors for each field"
        payload["request_id"] = g.get("request_id")
        # Werkzeug's own headers of the error survive: Allow of a 405 (RFC 9110 requires it), Retry-After,
        # WWW-Authenticate; its Content-Type (text/html) does not, the body is JSON.
        own = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
        if own:
            headers = {**own, **headers}
        # Headers a handler put on the exception (e.g. Retry-After) survive.
        response = getattr(error, "response", None)
        if response is not None:
            for name in ("Retry-After", "WWW-Authenticate"):
                if name in response.headers:
                    headers = {**headers, name: response.headers[name]}
        return payload, code, headers

    def handle_unexpected(self, error):
        if isinstance(error, HTTPException):
            return self.handle_http_exception(error)
        log.exception("unhandled error", exc_info=error)
        return self.handle_http_exception(InternalServerError())
