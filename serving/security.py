"""Who is calling: API keys (kept hashed in the warehouse) and optional JWT bearer tokens.

Keys are made, revoked and stored by :mod:`sabiscore_ml.warehouse.api_keys`
(``sabiscore keys``); this module verifies the ones requests send.

A bearer token is a JWT signed with ``SABISCORE_API_JWT_SECRET`` (HS256)
carrying ``sub``, ``exp`` and optionally ``tier``; it needs no store, so it
keeps working while the warehouse is down.

Each tier (``free``, ``premium``, ``pro``) gets the same rate limit; the free
tier also has a daily quota of insights.  A verified key is trusted for
``SABISCORE_API_KEY_CACHE_SECONDS`` in each worker (a revocation takes that
long to take effect), and while the warehouse cannot be read a key verified
earlier stays trusted.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import jwt
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from sabiscore_ml.settings import ServingSettings
from sabiscore_ml.warehouse.api_keys import (
    FREE,
    TIERS,
    ApiKeyRefused,
    check_tier,
    find_api_key,
    key_digest,
    key_id_of,
)
from sabiscore_ml.warehouse.engine import get_engine
from serving.cache import MISSING, LruCache, SingleFlight
from serving.metrics import ServingMetrics
from serving.repository import WAREHOUSE, StoreUnavailable

JWT_ALGORITHM = "HS256"


class AuthError(Exception):
    """The credentials given are missing, malformed, unknown, revoked or expired (a 401).

    ``token``: the refusal is about a bearer token the API checked (RFC 6750's
    ``invalid_token``).
    """

    def __init__(self, message: str, *, token: bool = False) -> None:
        super().__init__(message)
        self.token = token


REALM = "sabiscore"


def accepted_credentials(settings: ServingSettings) -> str:
    """What a caller must send, in words: an API key, or a bearer token too with a JWT secret."""
    if settings.jwt_secret is None:
        return "an X-API-Key header"
    return "an X-API-Key header or an Authorization: Bearer token"


def challenges(settings: ServingSettings, *, invalid_token: bool = False) -> str:
    """The ``WWW-Authenticate`` of a 401: the schemes the API accepts, and nothing else.

    ``ApiKey`` names the header a key goes in; ``Bearer`` is offered only when
    ``SABISCORE_API_JWT_SECRET`` is set, with ``error="invalid_token"`` when the token
    sent was refused.
    """
    offered = [f'ApiKey realm="{REALM}", header="X-API-Key"']
    if settings.jwt_secret is not None:
        bearer = f'Bearer realm="{REALM}"'
        offered.append(f'{bearer}, error="invalid_token"' if invalid_token else bearer)
    return ", ".join(offered)


@dataclass(frozen=True)
class Principal:
    """The caller: ``subject`` names it for limits (``key:<id>``, ``jwt:<sub>``, ``ip:<addr>``)."""

    subject: str
    tier: str
    owner: str | None = None


def lookup_api_key(engine: Engine, key: str) -> Principal | None:
    """The caller a key names, or None (malformed, unknown, wrong secret or revoked)."""
    record = find_api_key(engine, key)
    if record is None:
        return None
    return Principal(f"key:{record.key_id}", record.tier, record.owner)


def issue_token(
    settings: ServingSettings, *, subject: str, tier: str = FREE, ttl_seconds: int = 3600
) -> str:
    """A bearer token for ``subject`` (what a trusted backend would mint for its users)."""
    if settings.jwt_secret is None:
        raise ApiKeyRefused("SABISCORE_API_JWT_SECRET is not set")
    check_tier(tier)
    now = dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        "tier": tier,
        "iat": now,
        "exp": now + dt.timedelta(seconds=ttl_seconds),
    }
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=JWT_ALGORITHM)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, None for anything else."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class Authenticator:
    """Turns an ``X-API-Key`` or a bearer token into a :class:`Principal`, or refuses it.

    Keys verified in the warehouse and tokens verified by their signature are
    remembered for ``key_cache_seconds`` (tokens never past their ``exp``).
    """

    def __init__(self, settings: ServingSettings, metrics: ServingMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self._keys: LruCache[Principal | None] = LruCache(10_000, ttl=settings.key_cache_seconds)
        self._tokens: LruCache[tuple[Principal, float]] = LruCache(
            10_000, ttl=settings.key_cache_seconds
        )
        self._lookups: SingleFlight[Principal | None] = SingleFlight()

    async def identify(self, api_key: str | None, token: str | None) -> Principal | None:
        """The caller of a key (first) or a token; None without either.

        AuthError when the one given is not valid; StoreUnavailable when a key
        cannot be checked (the warehouse is down and the key was never seen).
        """
        if api_key:
            return await self.from_key(api_key)
        if token:
            return self.from_token(token)
        return None

    def identify_cached(self, api_key: str | None, token: str | None) -> Principal | None:
        """The caller, when this worker has already verified its key or token; else None."""
        if api_key:
            if key_id_of(api_key) is None:
                return None
            digest = key_digest(api_key)
            caller = self._keys.get(digest)
            if caller is None and self._keys.ttl:
                # due to be checked again: one request does it, the others go on meanwhile
                caller = self._keys.get_stale(digest)
                if caller is not None:
                    self._lookups.start(digest, lambda: self._lookup(digest, api_key))
            self.metrics.cache_lookup("keys", caller is not None)
            return caller
        if token:
            cached = self._tokens.get(token)
            if cached is not None and cached[1] > time.time():
                return cached[0]
        return None

    async def from_key(self, key: str) -> Principal:
        """The key's caller; AuthError when it is not a valid key, StoreUnavailable if unknown."""
        if key_id_of(key) is None:
            raise AuthError("malformed API key")
        digest = key_digest(key)
        cached = self._keys.get(digest, MISSING)
        if cached is MISSING:
            self.metrics.cache_lookup("keys", False)
            cached = await self._lookups.run(digest, lambda: self._lookup(digest, key))
        else:
            self.metrics.cache_lookup("keys", True)
        if cached is None:
            raise AuthError("unknown or revoked API key")
        return cached

    async def _lookup(self, digest: str, key: str) -> Principal | None:
        """The key's caller read from the warehouse (the last one known while it is down)."""
        try:
            caller = await run_in_threadpool(lookup_api_key, get_engine(), key)
        except (SQLAlchemyError, OSError) as error:
            self.metrics.store_errors.labels(WAREHOUSE, "api_key").inc()
            stale = self._keys.get_stale(digest, MISSING)
            if stale is MISSING:
                raise StoreUnavailable("api_key") from error
            return stale
        self._keys.put(digest, caller)
        return caller

    def from_token(self, token: str) -> Principal:
        """The token's caller; AuthError when bearer tokens are off or the token is not valid."""
        secret = self.settings.jwt_secret
        if secret is None:
            raise AuthError("this API accepts no bearer token; send an X-API-Key header")
        cached = self._tokens.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        try:
            claims = jwt.decode(
                token,
                secret.get_secret_value(),
                algorithms=[JWT_ALGORITHM],
                audience=self.settings.jwt_audience,
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("expired bearer token", token=True) from None
        except jwt.InvalidTokenError:
            raise AuthError("invalid bearer token", token=True) from None
        tier = claims.get("tier", FREE)
        if tier not in TIERS or not isinstance(claims["sub"], str):
            raise AuthError("invalid bearer token", token=True)
        caller = Principal(f"jwt:{claims['sub']}", tier, claims["sub"])
        self._tokens.put(token, (caller, float(claims["exp"])))
        return caller
