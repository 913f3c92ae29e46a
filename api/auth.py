"""API keys: minting, authentication, scopes.

A key is ``obsrv_live_`` + ``secrets.token_urlsafe(32)`` (43 url-safe chars,
256 random bits). It is shown once; the database keeps its first 19
characters (``prefix``, to find it and to show it) and its SHA-256 digest,
compared in constant time. A slow hash would add hundreds of milliseconds per
request and buys nothing for a random 256-bit key.

Each API process keeps the keys it has authenticated in memory (:class:`KeyCache`), trusted only
while the Redis key epoch they were read under is unchanged; the request's rate-limit round trip
reads the epoch anyway (:mod:`api.ratelimit`), so a cached key costs no round trip of its own.
Invalidating a key through the API changes the epoch after the commit, before the 204: from then on
no process accepts the key.

Every view declares either :meth:`Blueprint.public` or
:meth:`Blueprint.requires` (``read`` for GET, ``write`` for changes, ``admin``
for key management); ``create_app`` refuses to start if one does neither.
Authentication runs in a ``before_request`` hook registered before the rate
limiter's, so the limiter counts per authenticated key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass

import flask_smorest
from flask import current_app, g, request
from flask_smorest import abort
from redis import RedisError
from webargs.flaskparser import FlaskParser

from api import ratelimit
from api.pagination import PAGINATION
from db.queries import clients as q
from db.queries import webhooks as webhooks_q
from webhooks.signing import new_secret

log = logging.getLogger("obsrv.auth")

KEY_PREFIX = "obsrv_live_"
PREFIX_LENGTH = len(KEY_PREFIX) + 8
KEY_RE = re.compile(r"obsrv_live_[A-Za-z0-9_-]{43}")
SCOPES = ("read", "write", "admin")
SCOPE_ATTR = "_obsrv_scope"
PUBLIC_ATTR = "_obsrv_public"
SECURITY = [{"bearerAuth": []}]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the authenticated key."""

    key_id: int
    client_id: int
    prefix: str
    scopes: tuple[str, ...]


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def mint_key() -> tuple[str, str, bytes]:
    """A new key: (the key itself, its prefix, its digest)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:PREFIX_LENGTH], digest(key)


def create_key(
    conn, *, client_id: int, name: str, scopes, actor_key_id: int | None = None, request_id: str | None = None
) -> tuple[dict, str]:
    """Store a new key for the client and audit it; returns (its row, the key, shown once)."""
    key, prefix, key_digest = mint_key()
    ordered = [s for s in SCOPES if s in set(scopes)]
    with conn.transaction():
        row = q.insert_key(conn, client_id=client_id, name=name, prefix=prefix, digest=key_digest, scopes=ordered)
        q.audit(
            conn,
            client_id=client_id,
            api_key_id=actor_key_id,
            action="api_key.created",
            target_type="api_key",
            target_id=row["id"],
            details={"name": name, "prefix": prefix, "scopes": ordered},
            request_id=request_id,
        )
    return row, key


def create_client(conn, name: str) -> tuple[int, dict, str, str]:
    """A new client, its first key (all scopes) and its webhook signing secret:
    (client id, key row, key, secret)."""
    secret = new_secret()
    with conn.transaction():
        client_id = q.create_client(conn, name)
        q.audit(
            conn,
            client_id=client_id,
            api_key_id=None,
            action="client.created",
            target_type="client",
            target_id=client_id,
            details={"name": name},
        )
        row, key = create_key(conn, client_id=client_id, name="bootstrap admin key", scopes=SCOPES)
        webhooks_q.add_secret(conn, client_id, secret)
    return client_id, row, key, secret


class Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with 400 for invalid input and declared access."""

    ARGUMENTS_PARSER = Parser()
    PAGINATION_ARGUMENTS_PARSER = Parser()
    DEFAULT_PAGINATION_PARAMETERS = PAGINATION

    def arguments(self, schema, *args, **kwargs):
        # webargs instantiates a Schema class on every request (copying every field); an instance is
        # built once here and reused, as marshmallow schemas may be (loading keeps no state on them).
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)

    def requires(self, scope: str):
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}")

        def decorator(fn):
            fn = self.alt_response(401, response="UNAUTHORIZED")(fn)
            fn = self.alt_response(403, response="FORBIDDEN")(fn)
            fn = self.alt_response(429, response="TOO_MANY_REQUESTS")(fn)
            fn = self.doc(security=SECURITY, description=f"Requires an API key with the `{scope}` scope.")(fn)
            setattr(fn, SCOPE_ATTR, scope)
            return fn

        return decorator

    def public(self, fn):
        fn = self.doc(security=[])(fn)
        setattr(fn, PUBLIC_ATTR, True)
        return fn


def _unauthorized(message: str):
    abort(401, message=message, headers={"WWW-Authenticate": 'Bearer realm="obsrv"'})


class KeyCache:
    """Valid keys this process has authenticated: digest -> (principal, epoch, expiry).

    An entry records the Redis key epoch read *before* the key's row was, and is trusted only while a
    later read of the epoch (the request's rate-limit trip) returns the same value, for at most
    ``max_age`` seconds. Invalidating a key sets a new epoch (:func:`announce_invalidation`) after its
    commit, so every process re-reads its keys from Postgres. Without a readable epoch (Redis down or
    flushed, limiter off) nothing is trusted from memory. A key invalidated by SQL, around the API, is
    still accepted for up to ``max_age`` seconds.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, max_age: float):
        self.max_age = max_age
        self._entries: dict[bytes, tuple[Principal, bytes, float]] = {}

    def get(self, key_digest: bytes) -> tuple[Principal, bytes] | None:
        entry = self._entries.get(key_digest)
        if entry is None:
            return None
        if entry[2] <= time.monotonic():
            self._entries.pop(key_digest, None)
            return None
        return entry[0], entry[1]

    def put(self, key_digest: bytes, principal: Principal, epoch: bytes) -> None:
        if self.max_age <= 0:
            return
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[key_digest] = (principal, epoch, time.monotonic() + self.max_age)

    def discard(self, key_digest: bytes) -> None:
        self._entries.pop(key_digest, None)

    def clear(self) -> None:
        self._entries.clear()


def read_epoch(redis_client) -> bytes | None:
    """The current key epoch, made if Redis has none (a new server, or FLUSHALL). None if unreachable."""
    try:
        pipe = redis_client.pipeline(transaction=True)
        pipe.set(ratelimit.KEYS_EPOCH, secrets.token_hex(16), nx=True)
        pipe.get(ratelimit.KEYS_EPOCH)
        return pipe.execute()[1]
    except (RedisError, OSError) as exc:  # keys are then read from Postgres each time; health says why
        log.debug("could not read the API key epoch", extra={"error": str(exc)})
        return None


def announce_invalidation(app, redis_client) -> None:
    """After a key's invalidation is committed: no process may answer it from memory any more."""
    authenticator = app.extensions.get("obsrv_auth")
    if authenticator is not None:
        authenticator.cache.clear()
    try:
        redis_client.set(ratelimit.KEYS_EPOCH, secrets.token_hex(16))
    except (RedisError, OSError) as exc:
        log.error(
            "API key invalidated, but the key epoch could not be changed in Redis: other API "
            "processes may accept the key from memory for up to OBSRV_KEY_CACHE_SECONDS",
            extra={"error": str(exc)},
        )


class Authenticator:
    """The ``before_request`` hook that turns ``Authorization: Bearer`` into ``g.principal``.

    :meth:`authenticate` runs before the rate limiter's hook; :meth:`confirm` after it, to check a key
    answered from :class:`KeyCache` against the epoch the limiter's trip read (call
    :meth:`init_confirm` once the limiter is set up).
    """

    def __init__(self, app, pool_getter, redis_getter):
        self._pool = pool_getter
        self._redis = redis_getter
        self._touch_interval = app.config["OBSRV_KEY_TOUCH_SECONDS"]
        self._touched: dict[int, float] = {}
        self.cache = KeyCache(app.config["OBSRV_KEY_CACHE_SECONDS"])
        app.extensions["obsrv_auth"] = self
        app.before_request(self.authenticate)

    def init_confirm(self, app) -> None:
        app.before_request(self.confirm)

    @staticmethod
    def check_views(app) -> None:
        """Every view must be public or require a scope (secure by default)."""
        for endpoint, view in app.view_functions.items():
            if endpoint == "static" or endpoint.startswith("api-docs."):
                continue
            if not (getattr(view, PUBLIC_ATTR, False) or getattr(view, SCOPE_ATTR, None)):
                raise RuntimeError(f"view {endpoint!r} declares neither public nor a required scope")

    def authenticate(self):
        ratelimit.forget_epoch()
        view = current_app.view_functions.get(request.endpoint or "")
        scope = getattr(view, SCOPE_ATTR, None)
        if view is None or scope is None:
            return None  # public, docs, or a 404/405 that the router will answer
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if not header:
            _unauthorized("Missing API key: send 'Authorization: Bearer obsrv_live_...'")
        if scheme.lower() != "bearer" or not KEY_RE.fullmatch(token):
            _unauthorized("Malformed Authorization header: expected 'Bearer obsrv_live_<43 characters>'")
        wanted = digest(token)
        cached = self.cache.get(wanted)
        if cached is not None:
            principal, g.key_epoch = cached
            g.key_digest, g.key_token = wanted, token
        else:
            principal = self._lookup(token, wanted)
        self._admit(principal, scope)
        return None

    def confirm(self):
        """After the rate limiter: a key answered from memory stands only if the epoch is unchanged."""
        epoch = g.pop("key_epoch", None)
        if epoch is None:
            return None
        if ratelimit.epoch_seen() == epoch:
            return None
        self.cache.discard(g.key_digest)
        principal = self._lookup(g.key_token, g.key_digest)
        self._admit(principal, getattr(current_app.view_functions.get(request.endpoint), SCOPE_ATTR))
        return None

    def _lookup(self, token: str, wanted: bytes) -> Principal:
        """The key's row from Postgres (401 unless valid); remembered under the epoch read first."""
        epoch = read_epoch(self._redis()) if self.cache.max_age > 0 else None
        with self._pool().connection() as conn:
            candidates = q.keys_by_prefix(conn, token[:PREFIX_LENGTH])
        match = None
        for row in candidates:  # compare every candidate, no early exit
            if hmac.compare_digest(bytes(row["digest"]), wanted):
                match = row
        if match is None:
            _unauthorized("Invalid API key")
        if match["invalidated_at"] is not None:
            _unauthorized("This API key has been invalidated")
        principal = Principal(match["id"], match["client_id"], match["prefix"], tuple(match["scopes"]))
        if epoch is not None:
            self.cache.put(wanted, principal, epoch)
        return principal

    def _admit(self, principal: Principal, scope: str) -> None:
        g.principal = principal
        if scope not in principal.scopes:
            abort(403, message=f"This API key lacks the '{scope}' scope")
        self._touch(principal.key_id)

    def _touch(self, key_id: int) -> None:
        """Record last use: at most one database write per key per interval, across processes."""
        now = time.monotonic()
        interval = self._touch_interval
        if interval > 0 and self._touched.get(key_id, float("-inf")) > now - interval:
            return
        self._touched[key_id] = now
        try:
            if interval > 0 and not self._redis().set(f"obsrv:key-touched:{key_id}", 1, nx=True, ex=interval):
                return
            with self._pool().connection() as conn:
                q.touch_key(conn, key_id)
        except (RedisError, OSError) as exc:  # last_used_at is best effort; the request is not
            log.warning("could not record key use", extra={"key_id": key_id, "error": str(exc)})
