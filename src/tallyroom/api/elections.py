"""Read endpoints for the election structure. Public: the structure is public information."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.pagination import paginate

from tallyroom.api.errors import ApiError, ErrorCode
from tallyroom.api.pagination import Pages
from tallyroom.elections import selectors
from tallyroom.elections.models import Election, Municipality, PollingStation

router = Router(tags=["elections"])


class Names(Schema):
    en: str
    sq: str
    sr: str


class RoundOut(Schema):
    code: str
    kind: str
    date: dt.date


class Estimate(Schema):
    field: str
    method: str


# A local time of day in the election's timezone. Not `dt.time`: OpenAPI's "time" format is RFC
# 3339's, which requires a UTC offset, and a time of day has none.
LocalTime = Annotated[str, Field(pattern=r"^\d{2}:\d{2}:\d{2}$", examples=["07:00:00"])]


class ElectionOut(Schema):
    code: str
    name: Names
    timezone: str
    polls_open: LocalTime
    polls_close: LocalTime
    turnout_times: list[str]
    rounds: list[RoundOut]
    municipality_count: int
    estimates: list[Estimate]
    settings: dict[str, float | int | str]


class MunicipalityOut(Schema):
    code: str
    cec_id: int | None
    name: Names
    area: str
    assembly_seats: int
    station_count: int
    registered_voters: int
    registered_estimated: bool


class CentreOut(Schema):
    code: str
    name: str


class StationOut(Schema):
    code: str
    centre: CentreOut
    kind: str
    registered_voters: int
    registered_estimated: bool


def _names(obj: Election | Municipality) -> Names:
    return Names(en=obj.name_en, sq=obj.name_sq or obj.name_en, sr=obj.name_sr or obj.name_en)


def _election_out(e: Election) -> ElectionOut:
    return ElectionOut(
        code=e.code,
        name=_names(e),
        timezone=e.timezone,
        polls_open=e.polls_open.isoformat(),
        polls_close=e.polls_close.isoformat(),
        turnout_times=e.turnout_times,
        rounds=[RoundOut(code=r.code, kind=r.kind, date=r.date) for r in e.rounds.all()],
        municipality_count=getattr(e, "municipality_count", 0),
        estimates=[Estimate(**x) for x in e.estimates],
        settings=e.settings,
    )


def _election_or_404(code: str) -> Election:
    election = selectors.election_get(code)
    if election is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No election with code {code!r}.", "path.code")
    return election


@router.get("/elections", response=list[ElectionOut], summary="List elections")
@paginate(Pages)
def list_elections(request: HttpRequest) -> list[ElectionOut]:
    return [_election_out(e) for e in selectors.election_list()]


@router.get("/elections/{code}", response=ElectionOut, summary="One election")
def get_election(request: HttpRequest, code: str) -> ElectionOut:
    return _election_out(_election_or_404(code))


@router.get(
    "/elections/{code}/municipalities",
    response=list[MunicipalityOut],
    summary="Municipalities of an election",
)
@paginate(Pages)
def list_municipalities(request: HttpRequest, code: str) -> list[MunicipalityOut]:
    election = _election_or_404(code)
    return [
        MunicipalityOut(
            code=m.code,
            cec_id=m.cec_id,
            name=_names(m),
            area=m.area,
            assembly_seats=m.assembly_seats,
            station_count=m.station_count,  # type: ignore[attr-defined]
            registered_voters=m.registered_voters or 0,  # type: ignore[attr-defined]
            registered_estimated=m.registered_estimated,  # type: ignore[attr-defined]
        )
        for m in selectors.municipality_list(election)
    ]


@router.get(
    "/municipalities/{code}/stations",
    response=list[StationOut],
    summary="Polling stations of a municipality",
    description="`election` is required when several elections have a municipality with this code.",
)
@paginate(Pages)
def list_stations(
    request: HttpRequest, code: str, election: str | None = None, search: str | None = None
) -> QuerySet[PollingStation]:
    matches = list(selectors.municipalities_by_code(code, election)[:2])
    if not matches:
        where = f" in election {election!r}" if election else ""
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No municipality with code {code!r}{where}.", "path.code")
    if len(matches) > 1:
        raise ApiError(
            400,
            ErrorCode.AMBIGUOUS,
            f"Several elections have a municipality {code!r}; add ?election=CODE.",
            "query.election",
        )
    return selectors.station_list(matches[0], search)
