"""API key management: create (shown once), list (metadata only), invalidate."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app, g
from flask_smorest import abort

from api.auth import SCOPES, Blueprint, announce_invalidation, create_key
from api.deps import pool, redis_client
from db.queries import clients as q
from db.queries import webhooks as webhooks_q
from webhooks.signing import new_secret

blp = Blueprint("auth", __name__, url_prefix="/v1/auth", description="API keys")


class KeySchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(dump_only=True)
    prefix = ma.fields.String(dump_only=True, metadata={"description": "First characters of the key, to recognise it"})
    scopes = ma.fields.List(ma.fields.String(), dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)
    last_used_at = ma.fields.DateTime(
        dump_only=True, allow_none=True, metadata={"description": "Updated at most once a minute"}
    )


class NewKeySchema(KeySchema):
    key = ma.fields.String(dump_only=True, metadata={"description": "The key itself. Shown this once, never again."})


class KeyCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    scopes = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(SCOPES)),
        required=True,
        validate=ma.validate.Length(min=1, max=len(SCOPES)),
        metadata={"example": ["read"]},
    )


@blp.route("/keys", methods=["POST"])
@blp.requires("admin")
@blp.arguments(KeyCreateSchema)
@blp.response(201, NewKeySchema)
def create(body):
    """Create an API key. The response carries the key once; store it then."""
    with pool().connection() as conn:
        row, key = create_key(
            conn,
            client_id=g.principal.client_id,
            name=body["name"],
            scopes=body["scopes"],
            actor_key_id=g.principal.key_id,
            request_id=g.get("request_id"),
        )
    return {**row, "key": key}


@blp.route("/keys", methods=["GET"])
@blp.requires("admin")
@blp.response(200, KeySchema(many=True))
def list_keys():
    """The client's live keys (metadata only: the keys themselves are never shown again)."""
    with pool().connection() as conn:
        return q.list_keys(conn, g.principal.client_id)


@blp.route("/keys/<int:key_id>", methods=["DELETE"])
@blp.requires("admin")
@blp.response(204)
def invalidate(key_id):
    """Invalidate a key: it stops working at once."""
    with pool().connection() as conn, conn.transaction():
        row = q.invalidate_key(conn, client_id=g.principal.client_id, key_id=key_id)
        if row is None:
            abort(404, message=f"No live API key {key_id}")
        q.audit(
            conn,
            client_id=g.principal.client_id,
            api_key_id=g.principal.key_id,
            action="api_key.invalidated",
            target_type="api_key",
            target_id=key_id,
            details={"name": row["name"], "prefix": row["prefix"]},
            request_id=g.get("request_id"),
        )
    announce_invalidation(current_app, redis_client())  # committed: now no API process may accept it
    return None


class SecretSchema(ma.Schema):
    secret = ma.fields.String(
        metadata={"description": "whsec_...: shown this once. Both secrets sign during the grace period."}
    )
    previous_valid_until = ma.fields.DateTime(allow_none=True)


@blp.route("/webhook-secret", methods=["POST"])
@blp.requires("admin")
@blp.response(201, SecretSchema)
def rotate_webhook_secret():
    """Rotate the webhook signing secret. The previous one keeps signing for an hour (both v1 values)."""
    secret = new_secret()
    with pool().connection() as conn, conn.transaction():
        rotated = webhooks_q.rotate_secret(
            conn, g.principal.client_id, secret, current_app.config["OBSRV_SECRET_GRACE_SECONDS"]
        )
        q.audit(
            conn,
            client_id=g.principal.client_id,
            api_key_id=g.principal.key_id,
            action="webhook_secret.rotated",
            target_type="client",
            target_id=g.principal.client_id,
            details={"previous_valid_until": str(rotated["previous_valid_until"])},
            request_id=g.get("request_id"),
        )
    return {"secret": secret, **rotated}
