"""Team reconciliation across sources: reviewed aliases, exact normalised names, no guesses.

Every source spells clubs its own way (``Man United``, ``Manchester United``,
``Manchester Utd``, ``Manchester United FC``).  The canonical spelling of a team
is the one football-data.co.uk uses (the first source in the warehouse).  A
source's roster for one league-season is matched against the canonical roster of
the same league-season:

1. a reviewed alias from ``sabiscore_ml/data/team_aliases.csv`` wins (compared in
   normalised form, so ``Brighton & Hove Albion`` and ``... and ...`` agree);
2. otherwise the normalised names must be equal (accents, case, punctuation,
   ``FC/AFC/CF``-like tokens and common abbreviations folded);
3. anything else stops the load with a :class:`ReconciliationError` whose report
   lists the unmatched names, the best candidates with their similarity scores,
   and the alias lines to add once a person has checked them.

Two source names that land on the same canonical team are refused too
(ambiguous), so a wrong match cannot slip through silently.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path

from sabiscore_ml.errors import SabiscoreError

ALIASES_FILE = Path(__file__).with_name("data") / "team_aliases.csv"

# Tokens that carry no identity ("FC Barcelona" == "Barcelona").
_NOISE_TOKENS = frozenset(
    {
        "fc",
        "afc",
        "cf",
        "sc",
        "cfc",
        "ac",
        "as",
        "ssc",
        "sv",
        "vfb",
        "vfl",
        "tsg",
        "the",
        "club",
        "de",
        "calcio",
        "sad",
        "fk",
        "bk",
        "1",
        "cd",
        "ud",
        "rc",
        "rcd",
        "ogc",
        "osc",
        "borussia",
        "sco",
        "aj",
    }
)
# Abbreviations expanded before comparison.
_EXPANSIONS = {
    "man": "manchester",
    "utd": "united",
    "nottm": "nottingham",
    "nott": "nottingham",
    "wolves": "wolverhampton wanderers",
    "spurs": "tottenham hotspur",
    "qpr": "queens park rangers",
    "wba": "west bromwich albion",
    "west brom": "west bromwich albion",
    "sheffield weds": "sheffield wednesday",
    "ath": "athletic",
    "atl": "atletico",
    "st": "saint",
    "inter": "internazionale",
    "psg": "paris saint germain",
    "paris sg": "paris saint germain",
    "paris s g": "paris saint germain",
    "m gladbach": "monchengladbach",
    "gladbach": "monchengladbach",
    "ein": "eintracht",
    "mgladbach": "monchengladbach",
}
_PUNCTUATION = re.compile(r"[^\w\s]")
_SPACES = re.compile(r"\s+")


def normalize_team_name(name: str) -> str:
    """Fold a club name for comparison: accents, case, punctuation, noise tokens, abbreviations."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("ß", "ss").casefold().replace("&", " and ")
    text = _PUNCTUATION.sub(" ", text.replace("'", ""))
    text = _SPACES.sub(" ", text).strip()
    for short in sorted((k for k in _EXPANSIONS if " " in k), key=len, reverse=True):
        text = re.sub(rf"\b{re.escape(short)}\b", _EXPANSIONS[short], text)
    tokens = [_EXPANSIONS.get(token, token) for token in text.split()]
    kept = [token for token in " ".join(tokens).split() if token not in _NOISE_TOKENS]
    return " ".join(kept or tokens)


def similarity(a: str, b: str) -> float:
    """Similarity of two normalised names in [0, 1] (for the report, never for matching)."""
    na, nb = normalize_team_name(a), normalize_team_name(b)
    ratio = SequenceMatcher(None, na, nb).ratio()
    ta, tb = set(na.split()), set(nb.split())
    overlap = len(ta & tb) / max(1, min(len(ta), len(tb)))
    return round(max(ratio, 0.5 * ratio + 0.5 * overlap), 3)


@dataclass(frozen=True, slots=True)
class Alias:
    """A reviewed alias line: in ``country``, ``source`` spells ``canonical`` as ``alias``."""

    country: str
    canonical: str
    source: str
    alias: str


@lru_cache(maxsize=4)
def load_aliases(path: Path = ALIASES_FILE) -> tuple[Alias, ...]:
    """The reviewed alias table (``country,canonical,source,alias``)."""
    if not path.exists():
        return ()
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("alias")]
    return tuple(
        Alias(
            row["country"].strip(),
            row["canonical"].strip(),
            row["source"].strip(),
            row["alias"].strip(),
        )
        for row in rows
    )


@dataclass(frozen=True, slots=True)
class Candidate:
    """A canonical team proposed for an unmatched name, with its similarity score."""

    canonical: str
    score: float


@dataclass(slots=True)
class Reconciliation:
    """The outcome of matching one source roster against one canonical roster."""

    source: str
    country: str
    league: str | None
    season: str | None
    matched: dict[str, str] = field(default_factory=dict)  # source name -> canonical
    how: dict[str, str] = field(default_factory=dict)  # source name -> alias / normalised
    unmatched: dict[str, list[Candidate]] = field(default_factory=dict)
    ambiguous: dict[str, list[str]] = field(default_factory=dict)  # canonical -> source names

    @property
    def ok(self) -> bool:
        """True when every name matched one canonical team and no two names share one."""
        return not self.unmatched and not self.ambiguous

    def report(self) -> str:
        """A human-readable report, with the alias lines to add for unmatched names."""
        where = " ".join(filter(None, [self.league, self.season]))
        lines = [
            f"{self.source} {where} ({self.country}): {len(self.matched)} matched, "
            f"{len(self.unmatched)} unmatched, {len(self.ambiguous)} ambiguous"
        ]
        for name, candidates in sorted(self.unmatched.items()):
            shown = ", ".join(f"{c.canonical} ({c.score:.2f})" for c in candidates) or "none"
            lines.append(f"  unmatched {name!r}: best candidates {shown}")
        for canonical, names in sorted(self.ambiguous.items()):
            lines.append(
                f"  ambiguous: {', '.join(map(repr, sorted(names)))} all match {canonical!r}"
            )
        if self.unmatched:
            lines.append(f"  alias lines to add to {ALIASES_FILE.name} once checked:")
            for name, candidates in sorted(self.unmatched.items()):
                best = candidates[0].canonical if candidates else "<canonical name>"
                lines.append(f"    {self.country},{best},{self.source},{name}")
        return "\n".join(lines)


class ReconciliationError(SabiscoreError):
    """A roster could not be reconciled without guessing; carries the report."""

    def __init__(self, reconciliation: Reconciliation) -> None:
        self.reconciliation = reconciliation
        super().__init__("team names could not be reconciled:\n" + reconciliation.report())


def reconcile_roster(
    names: Iterable[str],
    canonical: Iterable[str],
    *,
    source: str,
    country: str,
    league: str | None = None,
    season: str | None = None,
    aliases: Iterable[Alias] | None = None,
    strict: bool = True,
) -> Reconciliation:
    """Match a source's team names to the canonical names of the same league-season.

    With ``strict`` (the default) an unmatched or ambiguous name raises
    :class:`ReconciliationError`; otherwise the result says what failed.
    """
    canonical_names = sorted(set(canonical))
    by_norm: dict[str, list[str]] = {}
    for team in canonical_names:
        by_norm.setdefault(normalize_team_name(team), []).append(team)
    alias_map: Mapping[str, str] = {
        normalize_team_name(alias.alias): alias.canonical
        for alias in (load_aliases() if aliases is None else aliases)
        if alias.source == source and alias.country == country
    }
    # football-data's spelling of a team can vary in case between seasons (M'gladbach,
    # M'Gladbach): the warehouse keeps the first one loaded, so aliases ignore case.
    by_folded = {team.casefold(): team for team in canonical_names}
    result = Reconciliation(source, country, league, season)
    for name in sorted(set(names)):
        target = alias_map.get(normalize_team_name(name))
        if target is not None and target.casefold() in by_folded:
            result.matched[name], result.how[name] = by_folded[target.casefold()], "alias"
            continue
        if name in canonical_names:
            result.matched[name], result.how[name] = name, "same"
            continue
        found = by_norm.get(normalize_team_name(name), [])
        if len(found) == 1:
            result.matched[name], result.how[name] = found[0], "normalised"
            continue
        scored = sorted(
            (Candidate(team, similarity(name, team)) for team in canonical_names),
            key=lambda c: (-c.score, c.canonical),
        )
        result.unmatched[name] = scored[:3]
    taken: dict[str, list[str]] = {}
    for name, team in result.matched.items():
        taken.setdefault(team, []).append(name)
    result.ambiguous = {team: names for team, names in taken.items() if len(names) > 1}
    if strict and not result.ok:
        raise ReconciliationError(result)
    return result
