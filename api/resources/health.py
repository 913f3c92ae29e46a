"""Liveness and readiness."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask_smorest import abort

from api.auth import Blueprint
from api.deps import pool, redis_client

blp = Blueprint("health", __name__, url_prefix="/health", description="Process and dependency health")


class HealthSchema(ma.Schema):
    status = ma.fields.String(metadata={"example": "ok"})
    checks = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.String(), metadata={"example": {"postgres": "ok", "redis": "ok"}}
    )


@blp.route("/live", methods=["GET"])
@blp.public
@blp.response(200, HealthSchema)
def live():
    """The API process is up (it answers; dependencies are not checked)."""
    return {"status": "ok", "checks": {}}


def _check_postgres(timeout: float) -> str:
    try:
        with pool().connection(timeout=timeout) as conn:
            conn.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # noqa: BLE001 -- any failure means "down"; the reason is reported
        return f"down: {type(exc).__name__}"


def _check_redis(timeout: float) -> str:
    try:
        redis_client(socket_timeout=timeout).ping()
        return "ok"
    except Exception as exc:  # noqa: BLE001 -- any failure means down
        return f"down: {type(exc).__name__}"


@blp.route("/ready", methods=["GET"])
@blp.public
@blp.response(200, HealthSchema)
@blp.alt_response(503, response="SERVICE_UNAVAILABLE")
def ready():
    """Postgres and Redis are reachable: 200; otherwise 503 naming what is down."""
    timeout = current_app.config["OBSRV_HEALTH_TIMEOUT"]
    checks = {"postgres": _check_postgres(timeout), "redis": _check_redis(timeout)}
    down = [name for name, state in checks.items() if state != "ok"]
    if down:
        abort(503, message=f"Not ready: {', '.join(down)} down", errors={"checks": checks})
    return {"status": "ok", "checks": checks}
