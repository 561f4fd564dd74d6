"""A small election part-way through its count, for the open-data tests.

Deçan (01): assembly counted at two stations (one from the official form, with preference votes),
the third annulled and voted again (the repeat counts); mayor counted at one station, held at
another, pending at the third. North Mitrovica (38): mayor counted at one station, the other
annulled with no repeat, and certified; assembly held (one list: every form is 100 % one choice).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from tallyroom.elections.models import Contest, Election, PollingStation, Round
from tallyroom.results.decisions import annulment_decide, contest_certify
from tallyroom.results.models import Annulment, FormKind, FormState
from tallyroom.results.services import result_form_submit
from tests.results.conftest import clean_content

REGISTERED = {"0101C/01R": 812, "0101C/02D": 640, "0102B/01R": 905, "3801A/01R": 701, "3801A/02R": 688}


@dataclass
class Counted:
    election: Election
    repeat_annulment: Annulment
    plain_annulment: Annulment


def submit(
    contest: Contest,
    code: str,
    votes: dict[str, int],
    prefs: dict[str, dict[int, int]] | None = None,
    kind: FormKind = FormKind.PRELIMINARY,
) -> Any:
    return result_form_submit(
        station=PollingStation.objects.get(code=code),
        contest=contest,
        content=clean_content(votes, prefs=prefs, registered=REGISTERED[code]),
        kind=kind,
        actor="chair",
        role="chair",
    ).form


def contest(muni: str, kind: str) -> Contest:
    return Contest.objects.get(municipality__code=muni, kind=kind, round__code="R1")


@pytest.fixture(name="counted")
def counted_fixture(small_election: Election) -> Counted:
    assembly, mayor = contest("01", "assembly"), contest("01", "mayor")
    submit(assembly, "0101C/01R", {"BLUE": 300, "GREEN": 200})
    submit(
        assembly,
        "0101C/01R",
        {"BLUE": 301, "GREEN": 200},
        {"BLUE": {1: 120, 2: 80}, "GREEN": {1: 90}},
        FormKind.OFFICIAL,
    )
    submit(assembly, "0101C/02D", {"BLUE": 250, "GREEN": 200}, {"BLUE": {3: 15}})
    submit(assembly, "0102B/01R", {"BLUE": 380, "GREEN": 300})
    repeat_round = Round.objects.create(
        election=small_election, code="R1-repeat", kind="repeat", date=dt.date(2025, 10, 26)
    )
    repeat_annulment = annulment_decide(
        contest=assembly,
        stations=[PollingStation.objects.get(code="0102B/01R")],
        legal_basis="LGE Art. 119",
        reason="ballot boxes destroyed",
        actor="cec",
        role="admin",
        repeat_round=repeat_round,
    )
    assert repeat_annulment.repeat_contest is not None
    submit(repeat_annulment.repeat_contest, "0102B/01R", {"BLUE": 150, "GREEN": 140}, {"GREEN": {2: 30}})
    submit(mayor, "0101C/01R", {"BLUE": 200, "IND-ARBEN": 210})
    held = submit(mayor, "0101C/02D", {"BLUE": 400, "IND-ARBEN": 1})
    assert held.state == FormState.QUARANTINED
    mayor38, assembly38 = contest("38", "mayor"), contest("38", "assembly")
    submit(mayor38, "3801A/01R", {"CIV": 300, "BLUE": 290})
    plain_annulment = annulment_decide(
        contest=mayor38,
        stations=[PollingStation.objects.get(code="3801A/02R")],
        legal_basis="LGE Art. 120",
        reason="the count was abandoned",
        actor="cec",
        role="admin",
    )
    contest_certify(mayor38, actor="cec", role="admin")
    assert submit(assembly38, "3801A/01R", {"CIV": 500}).state == FormState.QUARANTINED
    return Counted(small_election, repeat_annulment, plain_annulment)
