"""Reading the audit chain for what a new snapshot must re-render, and the live publisher loop."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from tallyroom.audit.chain import audit_append, chain_head
from tallyroom.elections.models import Contest, Municipality, PollingStation
from tallyroom.publish.changes import changes_between
from tallyroom.publish.publisher import publisher_run
from tallyroom.publish.services import current_snapshot
from tallyroom.publish.snapshot import Written
from tests.publish.snapshots_helpers import count_form, use_tmp_publication

pytestmark = pytest.mark.django_db


def test_a_form_touches_its_own_municipality_only(small_election: Any) -> None:
    start, _ = chain_head()
    count_form("3801A/02R", "assembly", {"CIV": 250}, registered=688)
    changes = changes_between(start, chain_head()[0])
    north = Municipality.objects.get(code="38")
    assert set(changes.municipalities) == {north.pk}
    assert changes.public and not changes.everything
    # Its station's pages, not the whole municipality's.
    assert changes.stations == {PollingStation.objects.get(code="3801A/02R").pk} and changes.whole == set()


def test_a_decision_touches_every_station_of_its_municipality(small_election: Any) -> None:
    start, _ = chain_head()
    contest = Contest.objects.get(municipality__code="01", kind="assembly", round__code="R1")
    with transaction.atomic():
        audit_append("update", "contest", contest.pk)
    changes = changes_between(start, chain_head()[0])
    assert changes.whole == {contest.municipality_id} and changes.stations == set()


@pytest.fixture
def serializers() -> Iterator[dict[str, Any]]:
    from tallyroom.audit import chain

    saved = dict(chain._SERIALIZERS)
    yield chain._SERIALIZERS
    chain._SERIALIZERS.clear()
    chain._SERIALIZERS.update(saved)


def test_private_rows_need_no_snapshot_and_unknown_kinds_need_everything(
    small_election: Any, serializers: dict[str, Any]
) -> None:
    from tallyroom.audit import chain

    start, _ = chain_head()
    chain.register("mystery", lambda pk: {"pk": pk})
    chain.register("device_token", lambda pk: {"pk": pk})
    with transaction.atomic():
        audit_append("issue", "device_token", 1)
    private = changes_between(start, chain_head()[0])
    assert not private.public and private.municipalities == {}
    with transaction.atomic():
        audit_append("create", "mystery", 7)
    unknown = changes_between(start, chain_head()[0])
    assert unknown.public and unknown.everything


def test_the_publisher_publishes_once_the_chain_is_quiet(small_election: Any, settings: Any, tmp_path: Path) -> None:
    root = use_tmp_publication(settings, tmp_path)
    count_form("0101C/01R", "mayor", {"BLUE": 300, "IND-ARBEN": 200})
    published: list[Written] = []
    publisher_run(
        root,
        debounce=0,
        poll=0,
        should_stop=lambda: bool(published),
        on_publish=published.append,
        recycle_connections=False,
    )
    assert len(published) == 1
    assert current_snapshot(root) == published[0].folder
    assert published[0].audit_seq >= 2


def test_the_publisher_keeps_publishing_while_the_chain_never_rests(
    small_election: Any, settings: Any, tmp_path: Path
) -> None:
    """Under a steady stream of changes it publishes right after each snapshot, not after max_delay."""
    root = use_tmp_publication(settings, tmp_path)
    contest = Contest.objects.filter(municipality__code="01").first()
    assert contest is not None
    published: list[Written] = []
    deadline = time.monotonic() + 60

    def move_and_check() -> bool:
        with transaction.atomic():  # a public change on every poll: the chain is never quiet
            audit_append("update", "contest", contest.pk)
        return len(published) >= 3 or time.monotonic() > deadline

    started = time.monotonic()
    publisher_run(
        root,
        debounce=0.1,
        max_delay=600,  # never reached: not what makes it publish
        poll=0.01,
        should_stop=move_and_check,
        on_publish=published.append,
        recycle_connections=False,
    )
    assert len(published) >= 3, f"{len(published)} snapshots in {time.monotonic() - started:.1f} s"
    assert published[-1].audit_seq > published[0].audit_seq
    assert [w.audit_seq for w in published] == sorted(w.audit_seq for w in published)


def test_the_publisher_survives_a_failed_snapshot(
    small_election: Any, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk (or a lost database) fails one snapshot, not the publisher: it tries again."""
    from tallyroom.publish import publisher

    root = use_tmp_publication(settings, tmp_path)
    count_form("0101C/01R", "mayor", {"BLUE": 300, "IND-ARBEN": 200})
    real = publisher.snapshot_publish
    attempts: list[int] = []

    def full_once(*args: Any, **kwargs: Any) -> Written | None:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(publisher, "snapshot_publish", full_once)
    published: list[Written] = []
    publisher_run(
        root,
        debounce=0,
        poll=0,
        retry=0,
        should_stop=lambda: bool(published) or len(attempts) > 5,
        on_publish=published.append,
        recycle_connections=False,
    )
    assert len(attempts) == 2 and len(published) == 1
    assert current_snapshot(root) == published[0].folder
