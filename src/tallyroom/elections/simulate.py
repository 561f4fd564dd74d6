"""A synthetic election of any size, deterministic for a seed: for benchmarks and scale tests.

Turnout and entity strength vary by municipality (Beta draws) and by station (binomial counts
around them); preference votes concentrate on a few candidates of each list.
`simulate_day.py` adds the election day from the same per-station draws; `tallyroom simulate`
writes or loads both (docs/simulate.md).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

ENTITIES = 10
LIST_LENGTH = 12


def simulate_definition(stations: int, municipalities: int, seed: int = 1, code: str = "sim") -> dict[str, Any]:
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data
    entities = [{"code": f"E{i:02d}", "name": f"Entity {i}", "kind": "party"} for i in range(1, ENTITIES + 1)]
    per = [stations // municipalities + (1 if m < stations % municipalities else 0) for m in range(municipalities)]
    munis = []
    for m, count in enumerate(per, start=1):
        mcode = f"M{m:05d}"
        centres = [{"code": f"{mcode}C{c:04d}", "name": f"School {c}"} for c in range(1, count // 4 + 2)]
        stations_ = [
            {"code": f"{mcode}S{s:05d}", "centre": centres[s // 4]["code"], "registered": rng.randint(400, 1200)}
            for s in range(count)
        ]
        standing = rng.sample(entities, k=rng.randint(4, ENTITIES))
        munis.append(
            {
                "code": mcode,
                "name": {"en": f"Municipality {m}", "sq": f"Komuna {m}", "sr": f"Opština {m}"},
                "assembly_seats": rng.choice((15, 19, 21, 27, 31, 41)),
                "centres": centres,
                "stations": stations_,
                "assembly": [
                    {
                        "entity": e["code"],
                        "candidates": [
                            {"position": p, "name": f"{e['code']} candidate {p}", "gender": "F" if p % 3 == 2 else "M"}
                            for p in range(1, LIST_LENGTH + 1)
                        ],
                    }
                    for e in standing
                ],
                "mayor": [{"name": f"{e['code']} mayor of {mcode}", "entity": e["code"]} for e in standing[:4]],
            }
        )
    return {
        "format": "tallyroom-election/1",
        "code": code,
        "name": {"en": f"Simulated election ({stations:,} stations)"},
        "timezone": "Europe/Belgrade",
        "rounds": [
            {"code": "r1", "kind": "first", "date": "2030-10-06"},
            {"code": "r2", "kind": "runoff", "date": "2030-11-03"},
        ],
        "entities": entities,
        "municipalities": munis,
    }


def simulate_forms(definition: dict[str, Any], seed: int = 1) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(station code, contest kind, form content) for every station and first-round contest."""
    for draw in station_draws(definition, seed):
        yield draw.station, "assembly", draw.assembly
        yield draw.station, "mayor", draw.mayor


@dataclass(frozen=True)
class StationDraw:
    """One station's count: its voters (ballots used) and its two first-round forms."""

    municipality: str
    station: str
    registered: int
    voters: int
    assembly: dict[str, Any]
    mayor: dict[str, Any]


def station_draws(definition: dict[str, Any], seed: int = 1) -> Iterator[StationDraw]:
    """Every station's count, streamed in definition order: the one source of each station's voters,
    so the simulated day (turnout) and the forms (ballots used) agree."""
    rng = random.Random(seed + 1)  # noqa: S311
    for muni in definition["municipalities"]:
        turnout = rng.betavariate(9, 10)
        standing = [lst["entity"] for lst in muni["assembly"]]
        strength = {e: rng.gammavariate(2, 1) for e in standing}
        total = sum(strength.values())
        for station in muni["stations"]:
            registered = station["registered"]
            voters = (
                sum(1 for _ in range(registered) if rng.random() < turnout)
                if registered < 200
                else int(rng.gauss(registered * turnout, (registered * turnout * (1 - turnout)) ** 0.5))
            )
            voters = max(0, min(registered, voters))
            invalid = int(voters * rng.uniform(0.01, 0.06))
            valid = voters - invalid
            votes = _split(rng, valid, {e: s / total for e, s in strength.items()})
            prefs = {
                e: {p: n for p, n in _split(rng, v // 2, {1: 0.5, 2: 0.2, 3: 0.1, 5: 0.1, 8: 0.1}).items() if n}
                for e, v in votes.items()
                if v >= 2
            }
            assembly = _form(registered, votes, invalid, prefs)
            mayor_entities = [c["entity"] for c in muni["mayor"]]
            mvotes = _split(rng, valid, {e: strength[e] for e in mayor_entities})
            mayor = _form(registered, mvotes, invalid, {})
            yield StationDraw(muni["code"], station["code"], registered, voters, assembly, mayor)


def _split(rng: random.Random, n: int, weights: dict[Any, float]) -> dict[Any, int]:
    keys = list(weights)
    total = sum(weights.values()) or 1.0
    raw = [n * weights[k] / total * rng.uniform(0.85, 1.15) for k in keys]
    scale = n / (sum(raw) or 1.0)
    counts = [int(r * scale) for r in raw]
    counts[0] += n - sum(counts)
    return dict(zip(keys, counts, strict=True))


def _form(registered: int, votes: dict[str, int], invalid: int, prefs: dict[str, dict[int, int]]) -> dict[str, Any]:
    used = sum(votes.values()) + invalid
    received = registered + registered // 20 + 10
    form: dict[str, Any] = {
        "votes": votes,
        "invalid": invalid,
        "signatures": used,
        "ballots_received": received,
        "ballots_used": used,
        "ballots_unused": received - used,
        "ballots_spoiled": 0,
        "committee_signed": True,
    }
    if prefs:
        form["preferences"] = {e: {str(p): n for p, n in c.items()} for e, c in prefs.items()}
    return form
