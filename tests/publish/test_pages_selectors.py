"""The public pages' reads: the same figures as the results API, in a constant number of queries."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.timezone import now as timezone_now

from tallyroom.elections.models import Contest, Election, Municipality, Round
from tallyroom.publish import selectors
from tallyroom.publish import standings as st
from tallyroom.publish.models import MunicipalityChange
from tallyroom.publish.slugs import station_code, station_slug
from tallyroom.results.selectors import contest_results, station_statuses
from tests.publish.pages_helpers import Counted, count_small_election, station

pytestmark = pytest.mark.django_db


@pytest.fixture
def counted(small_election: Election) -> Counted:
    return count_small_election(small_election)


def test_station_slugs_go_both_ways() -> None:
    assert station_slug("0101C/01R") == "0101C_01R"
    assert station_code(station_slug("CB238/001")) == "CB238/001"


def test_standings_equal_the_results_station_statuses(counted: Counted) -> None:
    election = counted.election
    loaded = selectors._election_load(election)
    main = list(Contest.objects.filter(round__election=election).exclude(round__kind=Round.Kind.REPEAT))
    assert main
    for c in main:
        assert {sid: s.status for sid, s in loaded.table[c.pk].items()} == station_statuses(c), c
    mayor = Contest.objects.get(municipality__code="01", kind="mayor", round__code="R1")
    assert loaded.table[mayor.pk][counted.quarantined.station_id].status == "quarantined"
    north = Contest.objects.get(municipality__code="38", kind="assembly", round__code="R1")
    standing = loaded.table[north.pk][station("3801A/01R").pk]
    assert standing.status == "counted-preliminary"
    assert standing.repeat_round is not None and standing.repeat_round.code == "R1-repeat"
    assert standing.decisions[0].legal_basis == "LGE Art. 119.3"
    north_mayor = Contest.objects.get(municipality__code="38", kind="mayor", round__code="R1")
    assert loaded.table[north_mayor.pk][station("3801A/01R").pk].status == "annulled-repeat-pending"


def test_the_database_counts_what_the_standings_table_counts(counted: Counted) -> None:
    """The election-wide pages count in SQL; the municipality pages count their table: the same numbers."""
    election = counted.election
    loaded = selectors._election_load(election)
    by_table = st.counts_of(loaded.contests, loaded.table)
    by_sql = st.counts_load(election, loaded.contests)
    assert by_sql == by_table
    assert sum(by_sql.contests.values()) > 0 and sum(by_sql.rounds.values()) > 0
    # the repeat vote's form counts for the contest it repeats, in that contest's round
    north = Contest.objects.get(municipality__code="38", kind="assembly", round__code="R1")
    assert by_sql.contests[north.pk] == sum(1 for s in loaded.table[north.pk].values() if s.counted)
    assert st.progress_of(loaded.contests, by_sql, loaded.certified) == st.progress_by_round(
        loaded.contests, loaded.table, loaded.certified
    )


def test_the_overview_decides_every_mayoral_race_as_contest_results_does(counted: Counted) -> None:
    page = selectors.election_overview(counted.election)
    assert [m.code for m in page.municipalities] == ["01", "38"]
    for line in page.municipalities:
        race = line.mayor
        assert race is not None
        data = contest_results(Contest.objects.get(pk=race.contest.id))
        assert race.status == data["mayor"]["status"]
        assert race.elected == data["mayor"]["elected"]
        assert race.finalists == data["mayor"]["finalists"]
        assert (race.progress.counted, race.progress.total) == (data["stations"]["counted"], data["stations"]["total"])
        assert race.certified == (data["status"] == "certified")
        assert {c.entity: (c.votes, c.share) for c in race.choices} == {
            c["entity"]: (c["votes"], Decimal(c["share"])) for c in data["choices"]
        }
    decan = page.municipalities[0].mayor
    assert decan is not None and decan.leader is not None
    assert (decan.leader.candidate, decan.state) == ("Agim Berisha", "leading")
    # Per round: a station is counted once all the round's contests of its municipality count it.
    (first, progress), *_ = page.progress
    assert first.code == "R1"
    assert (progress.counted, progress.total, progress.contests, progress.certified) == (3, 5, 4, 1)
    assert progress.status == "preliminary"
    assert (page.stations, page.registered) == (5, 812 + 640 + 905 + 701 + 688)


def test_turnout_through_the_day_sums_the_stations_that_reported(counted: Counted) -> None:
    page = selectors.election_overview(counted.election)
    (day,) = page.turnout
    assert day.round.code == "R1"
    points = {p.slot: p for p in day.points}
    assert set(points) == {"11:00", "15:00"}  # nobody reported for 19:00
    assert (points["11:00"].voters, points["11:00"].registered, points["11:00"].stations) == (250, 812 + 905, 2)
    assert points["11:00"].share == Decimal("14.56")  # 250 / 1,717
    # 0102B/01R's 11:00 figure carries forward to 15:00.
    assert (points["15:00"].voters, points["15:00"].registered) == (380 + 100, 812 + 905)
    (activity,) = page.activity
    assert (activity.stations, activity.reported, activity.opened, activity.closed) == (5, 2, 2, 1)
    assert page.municipalities[0].turnout == points["15:00"]


def test_the_municipality_page_carries_the_api_answer(counted: Counted) -> None:
    north = Municipality.objects.get(code="38")
    page = selectors.municipality_page(counted.election, north)
    assert [(r.contest.kind, r.contest.round.code) for r in page.contests] == [("mayor", "R1"), ("assembly", "R1")]
    for r in page.contests:
        data = contest_results(Contest.objects.get(pk=r.contest.id))
        assert r.data == data
        assert (r.progress.counted, r.progress.total) == (data["stations"]["counted"], data["stations"]["total"])
    assembly = page.contests[1]
    assert assembly.data["status"] == "certified" and assembly.certified_at is not None
    assert [(c.entity, c.votes, c.seats) for c in assembly.choices] == [("CIV", 440, 19)]
    assert [e["name"] for e in assembly.elected] == ["Milan Jovanović", "Jelena Petrović"]
    assert [(r.code, n) for r, n in page.repeat_voting] == [("R1-repeat", 1)]
    assert {d.legal_basis for d, _c, codes in page.decisions} == {"LGE Art. 119.3"}
    assert all(codes == ["3801A/01R"] for _d, _c, codes in page.decisions)
    rows = {s.code: s for s in page.stations}
    assert [cell.status for cell in rows["3801A/01R"].cells] == ["annulled-repeat-pending", "counted-preliminary"]
    assert (rows["3801A/02R"].cells[1].ballots_cast, rows["3801A/02R"].cells[1].valid) == (353, 350)
    assert [i.text for i in page.incidents] == ["Masked men stormed the centre."]  # verified only, public words


def test_station_pages_show_each_form_and_cost_the_same_queries_for_one_or_all(counted: Counted) -> None:
    decan = Municipality.objects.get(code="01")
    first = selectors.station_get(counted.election, "0101C/01R")
    assert first is not None
    with CaptureQueriesContext(connection) as one:
        single = selectors.station_page(counted.election, first)
    with CaptureQueriesContext(connection) as every:
        pages = selectors.station_pages(counted.election, decan)
    assert len(one) == len(every)
    assert set(pages) == {station(c).pk for c in ("0101C/01R", "0101C/02D", "0102B/01R")}
    page = pages[single.id]
    assert [(sc.contest.kind, sc.standing.status) for sc in page.contests] == [
        ("mayor", "counted-preliminary"),
        ("assembly", "counted-official"),
    ]
    forms = {f.kind: f for f in page.contests[1].forms}
    assert set(forms) == {"official", "preliminary"}
    assert forms["official"].counted and not forms["preliminary"].counted
    assert [(code, n) for code, _label, n in forms["official"].votes] == [("BLUE", 301), ("GREEN", 199)]
    assert {f: v for f, _l, v in forms["official"].numbers}["valid"] == 500
    blue = [(1, "Agim Berisha", 40), (2, "Drita Gashi", 150), (3, "Ilir Hoxha", 90)]
    assert forms["official"].preferences[0] == ("Blue Party", blue)
    assert [(e.kind, e.occurred_at.hour) for e in page.events] == [("opened", 5), ("closed", 17)]  # UTC
    assert [(t.slot, t.voters, t.share) for t in page.turnout] == [
        ("11:00", 150, Decimal("18.47")),
        ("15:00", 380, Decimal("46.80")),
    ]
    held = pages[counted.quarantined.station_id].contests[0]
    assert held.standing.status == "quarantined"
    assert [(f.state, f.shown, f.numbers, f.votes) for f in held.forms] == [("quarantined", False, [], [])]
    assert single.contests[1].forms == page.contests[1].forms


def test_last_updated_is_the_latest_public_change(counted: Counted) -> None:
    latest = selectors.last_updated()
    assert latest is not None
    decan = Municipality.objects.get(code="01")
    assert selectors.last_updated(decan.pk) == latest  # nothing recorded per municipality yet
    earlier = latest.replace(year=2020)
    MunicipalityChange.objects.create(municipality=decan, audit_seq=1, changed_at=earlier)
    assert selectors.last_updated(decan.pk) == earlier
    assert selectors.last_updated() == latest <= timezone_now()


def test_progress_counts_a_station_once_every_contest_of_its_round_counts_it() -> None:
    rnd = st.RoundInfo(1, "R1", "first", timezone_now().date(), "First round")
    contests = {
        10: st.ContestRef(10, "mayor", 1, rnd, None, 1),
        11: st.ContestRef(11, "assembly", 1, rnd, None, 15),
    }
    table: dict[int, dict[int, Any]] = {
        10: {1: st.Standing("counted-official"), 2: st.Standing("counted-preliminary")},
        11: {1: st.Standing("counted-official"), 2: st.Standing("pending")},
    }
    ((_, progress),) = st.progress_by_round(contests, table, {10: timezone_now()})
    assert (progress.counted, progress.total, progress.contests, progress.certified) == (1, 2, 2, 1)
    assert progress.status == "preliminary"


def test_a_round_read_once_is_named_in_the_language_of_each_page() -> None:
    from django.utils import translation

    named = st.RoundInfo(1, "R2", "runoff", timezone_now().date(), "Runoff day", "Balotazhi", "Drugi krug")
    unnamed = st.RoundInfo(2, "R3", "repeat", timezone_now().date(), "")
    seen = {}
    for lang in ("en", "sq", "sr-latn"):
        with translation.override(lang):
            seen[lang] = (named.name, unnamed.name == str(st.ROUND_KIND_LABELS["repeat"]))
    assert seen == {"en": ("Runoff day", True), "sq": ("Balotazhi", True), "sr-latn": ("Drugi krug", True)}
