"""Shared by the count's page tests: one user per role, signed-in clients, forms that add up."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tallyroom.accounts.models import Role
from tallyroom.accounts.services import user_create_or_reset, user_grant_role
from tallyroom.elections.models import Contest, Election, Municipality, PollingStation
from tallyroom.results.content import FormContent
from tallyroom.results.models import FormKind, ResultForm
from tallyroom.results.services import result_form_submit
from tests.signin import signed_in

ELECTION = "test-2025"
STATION = "0101C/01R"


@pytest.fixture
def users(small_election: Election) -> dict[str, User]:
    out: dict[str, User] = {}
    station = PollingStation.objects.get(code=STATION)
    for role in Role:
        user = user_create_or_reset(f"p-{role}", "x" * 16)
        scope: dict[str, Any] = {}
        if role == Role.CHAIR:
            scope["station"] = station
        if role == Role.OFFICIAL:
            scope["municipality"] = Municipality.objects.get(code="01")
        user_grant_role(user, small_election, role, **scope)
        out[str(role)] = user  # type: ignore[assignment]
    second = user_create_or_reset("p-clerk-2", "x" * 16)
    user_grant_role(second, small_election, Role.CLERK)
    out["clerk2"] = second  # type: ignore[assignment]
    return out


def client_for(user: User | None) -> Client:
    return signed_in(user) if user is not None else Client()


def content(votes: dict[str, int], invalid: int = 3, registered: int = 812) -> FormContent:
    used = sum(votes.values()) + invalid
    return FormContent(
        votes=votes,
        invalid=invalid,
        signatures=used,
        ballots_received=registered + 20,
        ballots_used=used,
        ballots_unused=registered + 20 - used - 2,
        ballots_spoiled=2,
    )


def held_form(station: str = STATION, kind: FormKind = FormKind.PRELIMINARY) -> ResultForm:
    """An assembly form one entity dominates: the share check holds it."""
    contest = Contest.objects.get(municipality__code="01", kind="assembly", round__code="R1")
    outcome = result_form_submit(
        station=PollingStation.objects.get(code=station),
        contest=contest,
        content=content({"BLUE": 600, "GREEN": 1}),
        kind=kind,
        actor="chair",
        role="chair",
    )
    assert outcome.status == "quarantined"
    return outcome.form


def ballot_post(station: str, contest: Contest, c: FormContent, prefix: str = "") -> dict[str, Any]:
    """What a browser posts for a typed paper form."""
    p = f"{prefix}-" if prefix else ""
    data: dict[str, Any] = {} if prefix else {"station": station, "contest_id": contest.pk}
    for name in ("signatures", "ballots_received", "ballots_used", "ballots_unused", "ballots_spoiled"):
        data[p + name] = "" if getattr(c, name) is None else str(getattr(c, name))
    data[p + "invalid"] = str(c.invalid)
    data[p + "blank"] = str(c.blank)
    data[p + "conditional"] = str(c.conditional)
    for code, v in c.votes.items():
        data[f"{p}votes__{code}"] = str(v)
    for entity, by_position in c.preferences.items():
        for position, v in by_position.items():
            data[f"{p}pref__{entity}__{position}"] = str(v)
    return data
