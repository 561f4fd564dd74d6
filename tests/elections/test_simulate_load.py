"""`tallyroom simulate --load` (and --out) against the database: counts, results, idempotency."""

from __future__ import annotations

import datetime as dt
import gzip
import re
from collections import Counter, defaultdict
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from tallyroom.elections.simulate import simulate_definition, simulate_forms
from tallyroom.elections.simulate_day import simulate_day
from tallyroom.polling.models import Incident, StationEvent, StationStatus, TurnoutFigure, TurnoutReport
from tallyroom.results.models import FormState, ResultForm
from tests.conftest import db_counts

ARGS = ["--stations", "200", "--municipalities", "4", "--seed", "3"]


def simulate(*args: str) -> str:
    out = StringIO()
    call_command("simulate", *args, stdout=out)
    return out.getvalue()


def printed(output: str, label: str) -> tuple[int, int]:
    """(total, new) from a summary line such as 'Turnout reports: 599 (599 new).'"""
    found = re.search(rf"^{label}: ([\d,]+) \(([\d,]+) new\)", output, re.MULTILINE)
    assert found, output
    return int(found[1].replace(",", "")), int(found[2].replace(",", ""))


@pytest.mark.django_db
def test_load_counts_results_and_a_second_run(tmp_path: Path) -> None:
    output = simulate(*ARGS, "--load", "--out", str(tmp_path), "--batch", "150")
    assert "200 / 200 stations loaded" in output
    events, new_events = printed(output, "Station events")
    reports, new_reports = printed(output, "Turnout reports")
    incidents, new_incidents = printed(output, "Incidents")
    assert (events, reports, incidents) == (new_events, new_reports, new_incidents)
    assert StationEvent.objects.count() == events > 400
    assert TurnoutReport.objects.count() == reports > 500
    assert Incident.objects.count() == incidents > 0
    assert StationStatus.objects.filter(status__in=["closed", "closed_early"]).count() == 200
    assert not TurnoutReport.objects.filter(review="held").exists()
    states = Counter(ResultForm.objects.values_list("state", flat=True))
    assert sum(states.values()) == 400
    assert f"Result forms: 400: {states[FormState.ACCEPTED]} accepted" in output
    assert states[FormState.ACCEPTED] >= 380  # the forms reconcile: few, if any, are held

    definition = simulate_definition(200, 4, seed=3)
    # Each station's evening turnout is its forms' ballots used.
    last = dict(
        TurnoutFigure.objects.filter(slot="19:00", station__statuses__status="closed").values_list(
            "station__code", "voters"
        )
    )
    used = {s: f["ballots_used"] for s, c, f in simulate_forms(definition, 3) if c == "assembly"}
    assert last and all(used[code] == voters for code, voters in last.items())

    # The published results are the sums of the accepted forms.
    accepted = set(ResultForm.objects.filter(state=FormState.ACCEPTED).values_list("station__code", "contest__kind"))
    expected: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for station, contest, form in simulate_forms(definition, 3):
        if (station, contest) in accepted:
            expected[(station[:6], contest)].update(form["votes"])
    client = Client()
    for muni in definition["municipalities"]:
        body: dict[str, Any] = client.get(f"/api/v1/results/{muni['code']}?election=sim").json()
        for result in body["contests"]:
            kind = result["contest"]["kind"]
            got = {row["entity"]: row["votes"] for row in result["choices"] if row["votes"]}
            want = {e: n for e, n in expected[(muni["code"], kind)].items() if n}
            assert got == want, (muni["code"], kind)

    before = db_counts()
    again = simulate(*ARGS, "--load")
    assert printed(again, "Station events") == (events, 0)
    assert printed(again, "Turnout reports") == (reports, 0)
    assert printed(again, "Incidents") == (incidents, 0)
    assert "Result forms: 400: 400 duplicate." in again
    assert "definition unchanged" in again
    assert db_counts() == before


@pytest.mark.django_db
def test_incidents_and_early_closures_match_the_day() -> None:
    simulate(*ARGS, "--load")
    days = list(simulate_day(simulate_definition(200, 4, seed=3), 3))
    early = {d.station for d in days if any(e.kind == "closed_early" for e in d.events)}
    assert set(StationStatus.objects.filter(status="closed_early").values_list("station__code", flat=True)) == early
    kinds = Counter(i.kind for d in days for i in d.incidents)
    assert Counter(Incident.objects.values_list("kind", flat=True)) == kinds
    assert set(Incident.objects.values_list("channel", flat=True)) == {"batch"}


@pytest.mark.django_db
def test_needs_out_or_load_and_refuses_another_definition_under_the_same_code() -> None:
    with pytest.raises(CommandError, match="--out DIR, --load"):
        simulate(*ARGS)
    simulate("--stations", "20", "--municipalities", "2", "--seed", "1", "--load")
    with pytest.raises(CommandError, match="different definition"):
        simulate("--stations", "20", "--municipalities", "2", "--seed", "2", "--load")
    simulate("--stations", "20", "--municipalities", "2", "--seed", "2", "--load", "--code", "sim2")


@pytest.mark.django_db
def test_date_moves_the_day(tmp_path: Path) -> None:
    from tallyroom.elections.models import Round

    simulate("--stations", "20", "--municipalities", "2", "--load", "--out", str(tmp_path), "--date", "2024-03-10")
    assert sorted(Round.objects.values_list("date", flat=True)) == [dt.date(2024, 3, 10), dt.date(2024, 4, 7)]
    opened = StationEvent.objects.filter(kind="opened").order_by("occurred_at").first()
    assert opened is not None and opened.occurred_at.date() == dt.date(2024, 3, 10)
    assert '"occurred_at":"2024-03-10T07:' in gzip.decompress((tmp_path / "events.jsonl.gz").read_bytes()).decode()
