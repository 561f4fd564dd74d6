"""Fixtures for the count: the small election's contests, clerks, and forms that add up."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from tallyroom.elections.models import Contest, Election, PollingStation
from tallyroom.results.content import FormContent


@pytest.fixture
def assembly(small_election: Election) -> Contest:
    return Contest.objects.get(municipality__code="01", kind="assembly", round__code="R1")


@pytest.fixture
def mayor(small_election: Election) -> Contest:
    return Contest.objects.get(municipality__code="01", kind="mayor", round__code="R1")


@pytest.fixture
def station(small_election: Election) -> PollingStation:
    return PollingStation.objects.get(code="0101C/01R")


@pytest.fixture
def clerks(db: None) -> tuple[User, User, User]:
    return tuple(User.objects.create_user(n, password="x" * 16) for n in ("clerk-a", "clerk-b", "supervisor"))  # type: ignore[return-value]


def clean_content(
    votes: dict[str, int], invalid: int = 3, prefs: dict[str, dict[int, int]] | None = None, registered: int = 812
) -> FormContent:
    """A form whose arithmetic reconciles: received = used + unused + spoiled, used = valid + invalid."""
    valid = sum(votes.values())
    used = valid + invalid
    return FormContent(
        votes=votes,
        invalid=invalid,
        signatures=used,
        ballots_received=registered + 20,
        ballots_used=used,
        ballots_unused=registered + 20 - used - 2,
        ballots_spoiled=2,
        preferences=prefs or {},
    )


@pytest.fixture
def content_factory() -> Any:
    return clean_content
