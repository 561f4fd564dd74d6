"""The small election, counted the way the public pages need to show it: preliminary and official
forms, preference votes, a quarantined form, a station still to count, an annulment with repeat
voting (counted) and one with repeat voting still to come, a certified contest, turnout through
the day, station events and a verified incident (and an unverified one the public must not see)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User

from tallyroom.elections.models import Contest, Election, PollingStation, Round
from tallyroom.polling import services as polling
from tallyroom.polling.access import Reporter
from tallyroom.polling.models import Incident
from tallyroom.results.content import FormContent
from tallyroom.results.decisions import annulment_decide, contest_certify
from tallyroom.results.models import AuditorDecision, FormKind, FormState, ResultForm
from tallyroom.results.services import quarantine_decide, result_form_submit
from tests.results.conftest import clean_content

ZONE = ZoneInfo("Europe/Belgrade")
DAY = dt.date(2025, 10, 12)
REGISTERED = {"0101C/01R": 812, "0101C/02D": 640, "0102B/01R": 905, "3801A/01R": 701, "3801A/02R": 688}
ELECTION = "test-2025"


def at(hhmm: str) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time.fromisoformat(hhmm), tzinfo=ZONE)


def station(code: str) -> PollingStation:
    return PollingStation.objects.get(code=code)


def contest(municipality: str, kind: str, round_code: str = "R1") -> Contest:
    return Contest.objects.get(municipality__code=municipality, kind=kind, round__code=round_code)


def submit(target: Contest, code: str, content: FormContent) -> ResultForm:
    return result_form_submit(station=station(code), contest=target, content=content, actor="chair", role="chair").form


def accept(form: ResultForm) -> ResultForm:
    """An auditor accepts a held form (a single-list assembly always trips the dominant-choice check)."""
    if form.state != FormState.QUARANTINED:
        return form
    auditor = User.objects.get_or_create(username="auditor")[0]
    decision = AuditorDecision.Decision.ACCEPT
    return quarantine_decide(auditor=auditor, form=form, decision=decision, reason="One list only.").form


@dataclass
class Counted:
    election: Election
    quarantined: ResultForm
    hidden_incident: Incident
    public_incident: Incident


def count_small_election(election: Election) -> Counted:
    assembly01, mayor01 = contest("01", "assembly"), contest("01", "mayor")
    prefs = {"BLUE": {1: 40, 2: 150, 3: 90}, "GREEN": {1: 80, 2: 100}}
    submit(assembly01, "0101C/01R", clean_content({"BLUE": 300, "GREEN": 200}, prefs=prefs, registered=812))
    submit(assembly01, "0101C/02D", clean_content({"BLUE": 250, "GREEN": 210}, registered=640))
    submit(assembly01, "0102B/01R", clean_content({"BLUE": 350, "GREEN": 250}, registered=905))
    # The counting centre's official form replaces the station's for 0101C/01R.
    official = clean_content({"BLUE": 301, "GREEN": 199}, prefs=prefs, registered=812)
    result_form_submit(
        station=station("0101C/01R"),
        contest=assembly01,
        content=official,
        actor="clerk",
        role="admin",
        kind=FormKind.OFFICIAL,
    )
    submit(mayor01, "0101C/01R", clean_content({"BLUE": 260, "IND-ARBEN": 240}, registered=812))
    submit(mayor01, "0102B/01R", clean_content({"BLUE": 330, "IND-ARBEN": 270}, registered=905))
    # Arithmetic that does not add up: held for the auditors (0101C/02D stays out of the mayor's tally).
    base = clean_content({"BLUE": 200, "IND-ARBEN": 190}, registered=640)
    broken = dataclasses.replace(base, ballots_used=(base.ballots_used or 0) + 50)
    quarantined = submit(mayor01, "0101C/02D", broken)
    assert quarantined.state == FormState.QUARANTINED, quarantined.state

    # North Mitrovica: 3801A/01R annulled in both contests; the assembly's repeat vote is counted.
    assembly38, mayor38 = contest("38", "assembly"), contest("38", "mayor")
    for target in (assembly38, mayor38):
        votes = {"CIV": 400} if target.kind == "assembly" else {"CIV": 380, "BLUE": 20}
        accept(submit(target, "3801A/01R", clean_content(votes, registered=701)))
        other = {"CIV": 350} if target.kind == "assembly" else {"CIV": 300, "BLUE": 40}
        accept(submit(target, "3801A/02R", clean_content(other, registered=688)))
    repeat = Round.objects.create(
        election=election, code="R1-repeat", kind=Round.Kind.REPEAT, date=dt.date(2025, 10, 26)
    )
    for target in (assembly38, mayor38):
        annulment_decide(
            contest=target,
            stations=[station("3801A/01R")],
            legal_basis="LGE Art. 119.3",
            reason="Masked men destroyed the ballot boxes.",
            actor="cec",
            role="admin",
            repeat_round=repeat,
        )
    repeat_assembly = Contest.objects.get(parent=assembly38, round=repeat)
    accept(submit(repeat_assembly, "3801A/01R", clean_content({"CIV": 90}, registered=701)))
    contest_certify(assembly38, actor="cec", role="admin")

    admin = Reporter(None, "admin")
    first = station("0101C/01R")
    polling.station_event_record(station=first, kind="opened", occurred_at=at("07:02"), reporter=admin)
    polling.turnout_report_record(station=first, voters=150, slot="11:00", reporter=admin, received_at=at("11:05"))
    polling.turnout_report_record(station=first, voters=380, slot="15:00", reporter=admin, received_at=at("15:05"))
    polling.station_event_record(station=first, kind="closed", occurred_at=at("19:00"), reporter=admin)
    second = station("0102B/01R")
    polling.station_event_record(station=second, kind="opened", occurred_at=at("07:00"), reporter=admin)
    polling.turnout_report_record(station=second, voters=100, slot="11:00", reporter=admin, received_at=at("11:02"))

    north = station("3801A/01R")
    public = polling.incident_report(
        election=election,
        municipality=north.municipality,
        station=north,
        kind="violence",
        severity="critical",
        occurred_at=at("17:35"),
        description="Internal: names of the officers involved.",
        reporter=admin,
    )
    polling.incident_verify(incident=public, reporter=admin, public_description="Masked men stormed the centre.")
    hidden = polling.incident_report(
        election=election,
        municipality=north.municipality,
        station=north,
        kind="intimidation",
        severity="low",
        occurred_at=at("12:00"),
        description="Unverified rumour about a car outside.",
        reporter=admin,
    )
    return Counted(election, quarantined, hidden, public)
