"""The immutable raw-file archive: every body is stored once under its SHA-256.

Layout: ``<root>/<source>/<league>/<season>/<sha256>.<ext>`` with a JSON
manifest beside it (``<sha256>.json``: where and when the bytes came from, and
for a download the server's ``etag``/``last_modified``).  A JSON body is stored
as ``<sha256>.json.raw`` so that it never takes the manifest's name.
Rejected files are quarantined under ``<root>/<source>/_quarantine/`` with the
failed check in their manifest, so they can be inspected and replayed.  Nothing
is ever overwritten, so the warehouse can be rebuilt from the archive offline.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sabiscore_ml.settings import get_core_settings


@dataclass(frozen=True, slots=True)
class ArchivedFile:
    """Where a raw body lies in the archive."""

    sha256: str
    path: Path
    size_bytes: int
    created: bool  # False when the same bytes were already archived


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def archive_raw(
    raw: bytes,
    sha256: str,
    *,
    source: str,
    uri: str,
    league: str | None = None,
    season: str | None = None,
    ext: str = "csv",
    fetched_at: dt.datetime | None = None,
    root: Path | None = None,
    extra: dict[str, object] | None = None,
    quarantine: dict[str, str] | None = None,
) -> ArchivedFile:
    """Store ``raw`` under its hash unless it is already there; return its location."""
    root = root or get_core_settings().raw_archive_dir
    folder = root / source
    if quarantine is not None:
        folder = folder / "_quarantine"
    elif league and season:
        folder = folder / league / season
    else:
        folder = folder / "_unsorted"
    if ext.lower() == "json":
        ext = "json.raw"
    path = folder / f"{sha256}.{ext}"
    if path.exists():
        return ArchivedFile(sha256, path, len(raw), created=False)
    _atomic_write(path, raw)
    manifest = {
        "sha256": sha256,
        "source": source,
        "uri": uri,
        "size_bytes": len(raw),
        "fetched_at": (fetched_at or dt.datetime.now(dt.UTC)).isoformat(),
        "league": league,
        "season": season,
        **(extra or {}),
    }
    if quarantine is not None:
        manifest["quarantined"] = quarantine
    _atomic_write(folder / f"{sha256}.json", json.dumps(manifest, indent=1).encode())
    return ArchivedFile(sha256, path, len(raw), created=True)


@dataclass(frozen=True, slots=True)
class ArchivedCopy:
    """The archived body last downloaded from one URI, as its manifest describes it."""

    sha256: str
    path: Path
    fetched_at: str
    league: str | None
    season: str | None
    etag: str | None
    last_modified: str | None
    quarantined: bool

    def read(self) -> bytes:
        """The archived bytes."""
        return self.path.read_bytes()


def latest_copy(source: str, uri: str, *, root: Path | None = None) -> ArchivedCopy | None:
    """The most recently fetched archived body of ``uri``, if any.

    Quarantined bodies count (an alias added since may let them load), block
    pages (manifest flag ``block_page``) do not.
    """
    root = root or get_core_settings().raw_archive_dir
    best: tuple[str, Path, dict[str, object]] | None = None
    for manifest_path in (root / source).rglob("*.json"):
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(manifest, dict) or manifest.get("uri") != uri:
            continue
        if manifest.get("block_page"):  # kept for inspection, never a copy of the data
            continue
        fetched_at = str(manifest.get("fetched_at") or "")
        if best is None or fetched_at > best[0]:
            best = (fetched_at, manifest_path, manifest)
    if best is None:
        return None
    fetched_at, manifest_path, manifest = best
    sha = str(manifest["sha256"])
    body = next((p for p in manifest_path.parent.glob(f"{sha}.*") if p.name != f"{sha}.json"), None)
    if body is None:
        return None
    return ArchivedCopy(
        sha256=sha,
        path=body,
        fetched_at=fetched_at,
        league=_text(manifest.get("league")),
        season=_text(manifest.get("season")),
        etag=_text(manifest.get("etag")),
        last_modified=_text(manifest.get("last_modified")),
        quarantined="quarantined" in manifest,
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def first_archived_at(
    sha256: str,
    *,
    source: str,
    league: str | None = None,
    season: str | None = None,
    root: Path | None = None,
) -> dt.datetime | None:
    """When these bytes first reached the archive (their manifest's ``fetched_at``), if ever.

    The content cannot be newer than that, so it is the latest date the file
    may describe (a replay judges a file as of then, not as of today).
    """
    root = root or get_core_settings().raw_archive_dir
    folders = [root / source / "_quarantine"]
    if league and season:
        folders.insert(0, root / source / league / season)
    times = []
    for folder in folders:
        manifest = folder / f"{sha256}.json"
        if manifest.exists():
            value = json.loads(manifest.read_text()).get("fetched_at")
            if value:
                stamp = dt.datetime.fromisoformat(value)
                times.append(stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC))
    return min(times) if times else None
