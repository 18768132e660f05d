"""API keys in the warehouse: created, revoked, listed and found, kept as their SHA-256.

A key reads ``sbk_<key_id>_<secret>``: ``key_id`` (12 hex digits) finds the
``api_keys`` row, whose ``key_sha256`` must equal the SHA-256 of the whole
key.  The key itself is shown once, when it is created (``sabiscore keys
create``), and is never stored.  A SHA-256 suffices: the secret is 256 random
bits, not a password a dictionary could guess.  The serving tier verifies the
keys a request sends (:mod:`serving.security`) with :func:`find_api_key`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select, update

from sabiscore_ml.errors import SabiscoreError
from sabiscore_ml.warehouse.models import ApiKey

FREE, PREMIUM, PRO = "free", "premium", "pro"
TIERS: tuple[str, ...] = (FREE, PREMIUM, PRO)
KEY_PREFIX = "sbk"
_KEY = re.compile(r"sbk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


class ApiKeyRefused(SabiscoreError):
    """A key operation refused (unknown tier, unknown key); the message says which."""


@dataclass(frozen=True)
class ApiKeyRecord:
    """An API key as stored, without its secret."""

    key_id: str
    owner: str
    tier: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None


@dataclass(frozen=True)
class NewApiKey:
    """A key just created: ``key`` is shown once and never stored."""

    key: str
    record: ApiKeyRecord


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def key_digest(key: str) -> str:
    """The SHA-256 (hex) of a key, as stored."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_of(key: str) -> str | None:
    """The ``key_id`` of a well-formed key, None for anything else."""
    match = _KEY.fullmatch(key)
    return match.group(1) if match else None


def check_tier(tier: str) -> None:
    """Refuse a tier that is not one of :data:`TIERS`."""
    if tier not in TIERS:
        raise ApiKeyRefused(f"tier {tier!r} is not one of {', '.join(TIERS)}")


def _record(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(row.key_id, row.owner, row.tier, row.created_at, row.revoked_at)


def create_api_key(engine: Engine, *, owner: str, tier: str) -> NewApiKey:
    """Create a key for ``owner`` in ``tier``; the returned ``key`` is the only copy."""
    check_tier(tier)
    owner = owner.strip()
    if not 0 < len(owner) <= 80:
        raise ApiKeyRefused("an owner of 1 to 80 characters is needed")
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    created_at = _now()
    with engine.begin() as connection:
        connection.execute(
            insert(ApiKey).values(
                key_id=key_id,
                key_sha256=key_digest(key),
                owner=owner,
                tier=tier,
                created_at=created_at,
                revoked_at=None,
            )
        )
    return NewApiKey(key, ApiKeyRecord(key_id, owner, tier, created_at, None))


def revoke_api_key(engine: Engine, key_id: str) -> ApiKeyRecord:
    """Revoke a key (by its ``key_id``, or the whole key); revoking it again changes nothing."""
    key_id = key_id_of(key_id) or key_id
    with engine.begin() as connection:
        connection.execute(
            update(ApiKey)
            .where(ApiKey.key_id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=_now())
        )
        row = connection.execute(select(ApiKey).where(ApiKey.key_id == key_id)).one_or_none()
    if row is None:
        raise ApiKeyRefused(f"no API key {key_id!r}")
    return _record(row)


def list_api_keys(engine: Engine, *, owner: str | None = None) -> list[ApiKeyRecord]:
    """Every key (of ``owner``), oldest first, revoked ones included."""
    query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if owner is not None:
        query = query.where(ApiKey.owner == owner)
    with engine.connect() as connection:
        return [_record(row) for row in connection.execute(query)]


def find_api_key(engine: Engine, key: str) -> ApiKeyRecord | None:
    """The active key ``key`` is, or None (malformed, unknown, wrong secret or revoked)."""
    key_id = key_id_of(key)
    if key_id is None:
        return None
    with engine.connect() as connection:
        row = connection.execute(select(ApiKey).where(ApiKey.key_id == key_id)).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_sha256, key_digest(key)):
        return None
    return _record(row)
