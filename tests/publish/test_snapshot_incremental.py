"""Fine-grained incremental snapshots: after any mix of changes, a snapshot built from the previous one
holds the same bytes as one rendered from scratch; a station's change renders only its own pages,
its municipality's and the election's."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from tallyroom.elections.models import (
    Contest,
    ContestCandidate,
    ContestEntity,
    Election,
    Municipality,
    PollingStation,
)
from tallyroom.polling import services as polling
from tallyroom.polling.access import Reporter
from tallyroom.polling.errors import PollingError
from tallyroom.publish.files import MANIFEST, SIGNATURE, file_name
from tallyroom.publish.services import snapshot_publish
from tallyroom.publish.snapshot import Written, manifest_read, site_items, snapshot_write
from tallyroom.results.decisions import annulment_decide, contest_certify
from tallyroom.results.errors import ResultsError
from tallyroom.results.models import AuditorDecision, FormKind, FormState, ResultForm
from tallyroom.results.services import quarantine_decide, result_form_submit
from tests.publish.snapshots_helpers import count_form, use_tmp_publication
from tests.results.conftest import clean_content

pytestmark = pytest.mark.django_db

ADMIN = Reporter(None, "admin")
STAMPED = re.compile(r"data/[^/]+/[^/]+/results(-cdf)?\.json")


def _ballot(contest: Contest) -> list[str]:
    lists = ContestEntity.objects.filter(contest=contest).values_list("entity__code", flat=True)
    mayors = ContestCandidate.objects.filter(contest=contest).values_list("candidate__entity__code", flat=True)
    return sorted({*lists, *mayors})


@pytest.fixture
def root(settings: Any, tmp_path: Path) -> Path:
    return use_tmp_publication(settings, tmp_path)


def _files(folder: Path) -> dict[str, object]:
    files = manifest_read(folder)["files"]
    assert isinstance(files, dict)
    return files


def _unstamped(name: str, data: bytes) -> tuple[Any, int]:
    """A municipality's JSON or CDF file without the chain position it names, and that position. A file
    reused from an earlier snapshot keeps the position it was cut at (docs/publication.md): true, as
    nothing in its municipality changed since, but older than a fresh rendering's."""
    value = json.loads(data)
    if name.endswith("results.json"):
        return value, int(value.pop("data_version")["audit_seq"])
    value.pop("GeneratedDate")
    ids = value.pop("ExternalIdentifier")
    value["ExternalIdentifier"] = [i for i in ids if not i["OtherType"].startswith("tallyroom-audit-")]
    return value, int(next(i["Value"] for i in ids if i["OtherType"] == "tallyroom-audit-seq"))


def assert_same_as_full(written: Written, tmp_path: Path, *, lagging: set[str]) -> None:
    """Every file of an incremental snapshot is byte for byte a full rendering's, but the lagging
    election-wide ones and the version stamp of a municipality's reused JSON and CDF files."""
    full = tmp_path / f"full-{written.name}"
    snapshot_write(full)
    ours, theirs = _files(written.folder), _files(full)
    assert set(ours) == set(theirs)
    for name in sorted(set(ours) - lagging):
        mine, fresh = (written.folder / name).read_bytes(), (full / name).read_bytes()
        if STAMPED.fullmatch(name) and mine != fresh:
            (mine_value, mine_seq), (fresh_value, fresh_seq) = _unstamped(name, mine), _unstamped(name, fresh)
            assert mine_value == fresh_value and mine_seq < fresh_seq, name
            continue
        assert mine == fresh, name
    assert {MANIFEST, SIGNATURE} <= {p.name for p in written.folder.iterdir()}


class Changer:
    """Random public changes of every kind the publisher knows, each through the services."""

    def __init__(self, election: Election, rng: random.Random) -> None:
        self.election, self.rng = election, rng
        self.stations = list(PollingStation.objects.filter(election=election).order_by("code"))
        self.contests = list(Contest.objects.filter(round__election=election, round__code="R1").order_by("pk"))
        self.minute = 0

    def _contest(self, station: PollingStation) -> Contest:
        return self.rng.choice([c for c in self.contests if c.municipality_id == station.municipality_id])

    def _at(self) -> dt.datetime:
        self.minute += 7
        return dt.datetime(2025, 10, 12, 7, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=self.minute)

    def form(self) -> None:
        station = self.rng.choice(self.stations)
        contest = self._contest(station)
        votes = {code: self.rng.randint(50, 300) for code in _ballot(contest)}
        kind = self.rng.choice([FormKind.PRELIMINARY, FormKind.OFFICIAL])
        content = clean_content(votes, registered=station.registered_voters or 900)
        result_form_submit(station=station, contest=contest, content=content, kind=kind, actor="t", role="admin")

    def accept(self) -> None:
        held = ResultForm.objects.filter(state=FormState.QUARANTINED).order_by("pk").first()
        if held is None:
            self.form()
            return
        auditor = User.objects.get_or_create(username="auditor")[0]
        quarantine_decide(auditor=auditor, form=held, decision=AuditorDecision.Decision.ACCEPT, reason="Seen.")

    def event(self) -> None:
        station = self.rng.choice(self.stations)
        kind = self.rng.choice(["opened", "closed"])
        polling.station_event_record(station=station, kind=kind, occurred_at=self._at(), reporter=ADMIN)

    def turnout(self) -> None:
        station = self.rng.choice(self.stations)
        voters = self.rng.randint(10, 400)
        at = self._at()
        polling.turnout_report_record(station=station, voters=voters, at=at, received_at=at, reporter=ADMIN)

    def incident(self) -> None:
        station = self.rng.choice([*self.stations, None])
        municipality = station.municipality if station else self.rng.choice(list(Municipality.objects.all()))
        incident = polling.incident_report(
            election=self.election,
            municipality=municipality,
            station=station,
            kind="violence",
            severity="high",
            occurred_at=self._at(),
            description="Internal wording.",
            reporter=ADMIN,
        )
        polling.incident_verify(incident=incident, reporter=ADMIN, public_description=f"Seen {self.minute}.")

    def annul(self) -> None:
        station = self.rng.choice(self.stations)
        annulment_decide(
            contest=self._contest(station),
            stations=[station],
            legal_basis="LGE Art. 119.3",
            reason="Ballot boxes destroyed.",
            actor="cec",
            role="admin",
        )

    def certify(self) -> None:
        contest_certify(self.rng.choice(self.contests), actor="cec", role="admin")

    def any(self) -> str:
        actions: list[Callable[[], None]] = [self.form] * 4 + [self.accept, self.event, self.turnout, self.incident]
        actions += [self.annul, self.certify]
        action = self.rng.choice(actions)
        try:
            action()
        except (ResultsError, PollingError) as exc:  # refused (a duplicate, not ready): nothing changed
            return f"{action.__name__}: refused ({exc.__class__.__name__})"
        return action.__name__


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_incremental_snapshot_equals_a_full_one_after_any_changes(
    small_election: Election, root: Path, tmp_path: Path, seed: int
) -> None:
    changer = Changer(small_election, random.Random(seed))  # noqa: S311 - reproducible, not secret
    national = {file_name(i.path) for i in site_items() if i.national}
    assert snapshot_publish(root) is not None
    for _ in range(6):
        done = [changer.any() for _ in range(changer.rng.randint(1, 3))]
        written = snapshot_publish(root, national=False)
        if written is None:  # every change refused
            assert all("refused" in d for d in done), done
            continue
        assert_same_as_full(written, tmp_path, lagging=national)
    caught_up = snapshot_publish(root)  # the lagging election-wide files catch up: then nothing differs
    assert caught_up is not None and not caught_up.national_lags
    assert_same_as_full(caught_up, tmp_path, lagging=set())


def test_a_form_renders_its_station_its_municipality_and_the_election_pages(
    small_election: Election, root: Path
) -> None:
    first = snapshot_publish(root)
    assert first is not None
    count_form("0101C/01R", "assembly", {"BLUE": 300, "GREEN": 200})
    second = snapshot_publish(root, national=False)
    assert second is not None
    station = PollingStation.objects.get(code="0101C/01R")
    items = site_items()
    own = [i for i in items if i.station_id == station.pk]
    # Its municipality's data files lag (with the election-wide pages and files): not rendered here.
    municipal = [
        i for i in items if i.municipality_id == station.municipality_id and i.station_id is None and not i.national
    ]
    election = [i for i in items if i.municipality_id is None and not i.national]
    neighbours = [
        i for i in items if i.municipality_id == station.municipality_id and i.station_id not in {None, station.pk}
    ]
    assert len(own) == 3 and municipal and election and neighbours
    assert second.rendered == len(own) + len(municipal) + len(election)
    # The neighbours' pages only take the municipality's new count ("X of Y counted", last updated).
    assert second.spliced == len(neighbours)
    assert second.reused == len(items) - second.rendered - second.spliced


def test_a_decision_about_a_municipality_renders_all_its_station_pages(small_election: Election, root: Path) -> None:
    assert snapshot_publish(root) is not None
    contest = Contest.objects.get(municipality__code="38", kind="assembly", round__code="R1")
    station = PollingStation.objects.get(code="3801A/01R")
    annulment_decide(contest=contest, stations=[station], legal_basis="Art. 1", reason="Why.", actor="c", role="admin")
    written = snapshot_publish(root, national=False)
    assert written is not None
    items = site_items()
    north = [i for i in items if i.municipality_id == contest.municipality_id and not i.national]
    election = [i for i in items if i.municipality_id is None and not i.national]
    assert written.rendered == len(north) + len(election) and written.spliced == 0
