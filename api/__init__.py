"""The Obsrv HTTP API: ``create_app(config)`` (Flask + flask-smorest).

``gunicorn 'api:create_app()'`` builds the app from the environment;
tests pass a config dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import swagger_ui_bundle
from flask import Flask, g, send_from_directory
from flask_limiter import Limiter

from api import body, guard, logs, ratelimit
from api.auth import Authenticator
from api.deps import pool, redis_client
from api.errors import ObsrvApi
from core.settings import load_settings

SWAGGER_STATIC = "/docs/static/"


def _openapi_config() -> dict[str, Any]:
    return {
        "API_TITLE": "Obsrv",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/docs",
        # Served from the swagger-ui-bundle wheel, so /docs renders offline too.
        "OPENAPI_SWAGGER_UI_URL": SWAGGER_STATIC,
        "API_SPEC_OPTIONS": {
            "info": {
                "description": "Price and stock monitoring for online shops. "
                "Authenticate with `Authorization: Bearer obsrv_live_...`. "
                "Every error is the Error schema (a 405 says `Allow`). Text may not "
                "contain NUL characters or unpaired surrogates (400). Lists carry their "
                "totals in `X-Pagination`, a JSON object."
            },
        },
    }


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the API. ``config`` overrides the settings read from the environment."""
    settings = load_settings()
    if config:
        settings.update(config)
    for name in ("DATABASE_URL", "REDIS_URL"):
        if not settings.get(name):
            raise RuntimeError(f"{name} is not set (and no embedded server is running: use `make run`)")

    app = Flask("obsrv")
    app.config.update(_openapi_config())
    app.config.update(settings)
    app.json.sort_keys = False
    logs.configure_logging(app.config["OBSRV_LOG_LEVEL"])

    @app.route(SWAGGER_STATIC + "<path:filename>")
    def swagger_static(filename):
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)

    swagger_static._obsrv_public = True

    logs.init_app(app)  # request id first: every later hook logs with it
    body.init_app(app)  # the whole body, in bounded time, before anyone reads it
    guard.init_app(app)  # input no view can store: a 400 before anything runs
    authenticator = Authenticator(app, pool, redis_client)  # before the limiter: it counts per key
    Limiter(
        key_func=lambda: f"key:{g.principal.key_id}",
        app=app,
        application_limits=[app.config["OBSRV_RATE_LIMIT"]],
        application_limits_exempt_when=lambda: g.get("principal") is None,
        headers_enabled=True,
        storage_uri=ratelimit.storage_uri(app.config["REDIS_URL"]),  # one Redis round trip a request
        strategy="fixed-window",
        key_prefix="obsrv",
        in_memory_fallback_enabled=True,  # Redis down: per-process limits, not an outage
        enabled=app.config["OBSRV_RATE_LIMIT_ENABLED"],
    )
    authenticator.init_confirm(app)  # after the limiter: its Redis trip read the key epoch

    api = ObsrvApi(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "obsrv_live_... API key"}
    )
    from api.resources import BLUEPRINTS

    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    Authenticator.check_views(app)
    return app
