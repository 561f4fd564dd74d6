"""Reading the audit chain for what a new snapshot must re-render, and the live publisher loop."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils.timezone import now as timezone_now

from tallyroom.audit.chain import audit_append, chain_head
from tallyroom.audit.models import AuditEntry
from tallyroom.elections.models import Contest, Municipality, PollingStation
from tallyroom.polling import services as polling
from tallyroom.polling.models import StationEvent, TurnoutReport
from tallyroom.publish.changes import _LOOKUPS, PRIVATE, Changes, changes_between
from tallyroom.publish.publisher import publisher_run
from tallyroom.publish.services import current_snapshot
from tallyroom.publish.snapshot import Written
from tests.polling.conftest import Day, at
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


def _raw_entry(object_type: str, object_id: str) -> int:
    """An entry as something outside Tallyroom might have left it: for a row that is gone, or an id
    that is not a row's. The mapping reads only the kind, the id and the position."""
    seq = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True)[0] + 1  # past the chain's head
    AuditEntry.objects.create(
        seq=seq, created_at=timezone_now(), actor="test", action="x", object_type=object_type, object_id=object_id
    )
    return seq


def _one_by_one(after: int, upto: int) -> Changes:
    """The oracle: every entry read on its own, its row fetched, the lookups followed in Python."""
    out = Changes()
    touched: dict[int, int] = {}
    everything = latest = None
    for entry in AuditEntry.objects.filter(seq__gt=after, seq__lte=upto).exclude(object_type__in=PRIVATE):
        latest = entry.seq
        places: list[tuple[int, int | None]] = []
        if entry.object_type == "polling_batch":
            for model in (StationEvent, TurnoutReport):
                places += [
                    (r.station.municipality_id, r.station_id) for r in model.objects.filter(batch_id=entry.object_id)
                ]
        elif entry.object_type in _LOOKUPS and entry.object_id.isdigit():
            model, municipality, station = _LOOKUPS[entry.object_type]
            row = model._default_manager.filter(pk=int(entry.object_id)).first()
            if row is None:
                everything = entry.seq
                continue
            where = row
            for step in municipality.split("__"):
                where = getattr(where, step)
            places = [(int(str(where)), getattr(row, station) if station else None)]
            if station is None:
                out.whole.add(int(str(where)))
        else:
            everything = entry.seq
        for municipality_id, station_id in places:
            touched[municipality_id] = entry.seq
            if station_id is not None:
                out.stations.add(station_id)
    out.municipalities = {m: (seq, AuditEntry.objects.get(seq=seq).created_at) for m, seq in touched.items()}
    if everything is not None:
        out.everything, out.everything_at = True, (everything, AuditEntry.objects.get(seq=everything).created_at)
    if latest is not None:
        out.public, out.latest = True, AuditEntry.objects.get(seq=latest).created_at
    return out


def test_the_database_maps_entries_as_reading_them_one_by_one(day: Day) -> None:
    start, _ = chain_head()
    count_form("3801A/02R", "assembly", {"CIV": 250}, registered=688)
    polling.station_events_record_batch(
        election=day.election,
        round_=day.round,
        items=[polling.BatchEvent(s.pk, "opened", at("07:00"), "", f"open-{s.code}") for s in (day.station, day.north)],
        reporter=day.reporter("admin"),
    )
    contest = Contest.objects.get(municipality__code="01", kind="assembly", round__code="R1")
    with transaction.atomic():
        audit_append("update", "contest", contest.pk)
    count_form("0102B/01R", "mayor", {"BLUE": 120, "IND-ARBEN": 80}, registered=700)
    settled, _ = chain_head()
    _raw_entry("polling_batch", "424242")  # a batch of no rows: public, shown nowhere
    _raw_entry("device_token", "1")  # private
    gone = _raw_entry("result_form", "987654321")
    odd = _raw_entry("contest", f"{contest.pk}abc")  # not an id: never read as the contest
    head = _raw_entry("certification", "99999999999999999999")  # too long for an id
    spans = [(start, settled), (start, head), (settled, head), (start, start + 1), (settled, gone), (odd - 1, odd)]
    for after, upto in spans:
        assert changes_between(after, upto) == _one_by_one(after, upto), (after, upto)
        alone = changes_between(after, upto, stations=False)
        assert alone.municipalities == _one_by_one(after, upto).municipalities
        assert alone.stations == alone.whole == set()
    everything = changes_between(start, head)
    assert everything.everything_at is not None and everything.everything_at[0] == head
    assert changes_between(start, settled).stations >= {day.station.pk, day.north.pk}
    assert not changes_between(start, settled).everything


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
