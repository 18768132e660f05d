"""Team identities: each source's spellings resolved to one team id per club."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import Connection, select

from sabiscore_ml.warehouse.models import Team, TeamAlias
from sabiscore_ml.warehouse.upsert import upsert

_SPACES = re.compile(r"\s+")


def alias_key(name: str) -> str:
    """Case- and space-folded spelling (``M'gladbach`` and ``M'Gladbach`` agree)."""
    return _SPACES.sub(" ", name.replace("\xa0", " ")).strip().casefold()


def resolve_teams(
    connection: Connection, *, source: str, country: str, names: Iterable[str]
) -> dict[str, int]:
    """Map each spelling to its team id, creating the team and alias when first seen.

    A spelling new to ``source`` becomes a team of its own, named as spelled;
    cross-source reconciliation links other sources' spellings to these ids.
    """
    wanted = {name: alias_key(name) for name in set(names)}
    if not wanted:
        return {}
    keys = set(wanted.values())
    known = dict(
        connection.execute(
            select(TeamAlias.alias_key, TeamAlias.team_id).where(
                TeamAlias.source == source,
                TeamAlias.country == country,
                TeamAlias.alias_key.in_(keys),
            )
        ).all()
    )
    missing = {key: name for name, key in sorted(wanted.items()) if key not in known}
    if missing:
        upsert(
            connection,
            Team.__table__,
            [{"country": country, "name": name} for name in missing.values()],
            ["country", "name"],
            update=[],
        )
        ids = dict(
            connection.execute(
                select(Team.name, Team.id).where(
                    Team.country == country, Team.name.in_(list(missing.values()))
                )
            ).all()
        )
        upsert(
            connection,
            TeamAlias.__table__,
            [
                {
                    "source": source,
                    "country": country,
                    "alias_key": key,
                    "alias": name,
                    "team_id": ids[name],
                }
                for key, name in missing.items()
            ],
            ["source", "country", "alias_key"],
            update=[],
        )
        known.update({key: ids[name] for key, name in missing.items()})
    return {name: known[key] for name, key in wanted.items()}
