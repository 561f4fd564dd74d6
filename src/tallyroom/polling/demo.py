"""The demo's election day, replayed: 3 November 2013 as the dashboard would have shown it.

Stations open across the country; turnout rises through the reporting hours (from each station's
real count, much lower in the four northern municipalities); masked men storm a polling centre in
North Mitrovica and destroy its ballot boxes; the northern stations close an hour early, at 18:00;
the organisation that ran the polls there withdraws its staff from North Mitrovica.

Deterministic (one seed) and idempotent: every submission has a client key derived from the seed,
so a second run records nothing. The stations' reports go through the batch services (one
transaction per wave, one audit entry per row); incidents and observers through the ordinary ones.
People's names are invented.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction

from tallyroom.accounts.models import Role, RoleAssignment
from tallyroom.elections.demo import RESULTS, demo_path
from tallyroom.elections.models import Election, Municipality, PollingStation, Round
from tallyroom.polling import clock, config, services
from tallyroom.polling import turnout as tr
from tallyroom.polling.access import Reporter
from tallyroom.polling.models import (
    Deployment,
    Incident,
    Observer,
    ObserverOrganisation,
    StationEvent,
    TurnoutReport,
    Withdrawal,
)
from tallyroom.polling.selectors import physical_stations

ATTACKED_MUNICIPALITY = "38"  # North Mitrovica
NORTH = "north"
# Share of the day's voters who had signed by each reporting time (the 2013 evening figure was
# 46%; 32% at 15:00, per kosovo-rules.md §6).
CURVE = {"11:00": 0.30, "15:00": 0.69, "19:00": 1.0}
NORTH_AT_18 = 0.95  # the north closed at 18:00: its last hour never came
FALLBACK_SHARE = {NORTH: 0.22, "": 0.46}

FIRST_NAMES = [
    "Arta",
    "Besa",
    "Blerim",
    "Dafina",
    "Drilon",
    "Edona",
    "Fatmir",
    "Genta",
    "Ilir",
    "Jeta",
    "Kaltrina",
    "Liridon",
    "Mimoza",
    "Njomza",
    "Petrit",
    "Rina",
    "Shpend",
    "Teuta",
    "Valon",
    "Vlora",
    "Zana",
    "Ana",
    "Bojan",
    "Dragana",
    "Ivana",
    "Jelena",
    "Marko",
    "Milica",
    "Nemanja",
    "Stefan",
]
LAST_NAMES = [
    "Ahmeti",
    "Berisha",
    "Dervishi",
    "Elshani",
    "Fazliu",
    "Gashi",
    "Hoxha",
    "Islami",
    "Kelmendi",
    "Krasniqi",
    "Limani",
    "Morina",
    "Nura",
    "Osmani",
    "Rexhepi",
    "Shala",
    "Thaçi",
    "Uka",
    "Zeka",
    "Jovanović",
    "Marković",
    "Nikolić",
    "Petrović",
    "Stojanović",
    "Vasić",
]


@dataclass(frozen=True)
class ReplaySummary:
    stations: int
    events: int
    turnout_reports: int
    incidents: int
    observers: int
    withdrawals: int
    recorded: int  # rows this run added; 0 on a second run

    def line(self) -> str:
        return (
            f"Election day replayed: {self.stations:,} stations, {self.events:,} station events, "
            f"{self.turnout_reports:,} turnout reports, {self.incidents} incidents, {self.observers} observers, "
            f"{self.withdrawals} withdrawal(s); {self.recorded:,} new rows this run."
        )


class _Replay:
    def __init__(self, election: Election, seed: int) -> None:
        self.election = election
        self.seed = seed
        # One generator per topic: changing how many observers the demo has leaves the turnout alone.
        self.rngs: dict[str, random.Random] = {}
        round_ = Round.objects.filter(election=election, kind=Round.Kind.FIRST).order_by("date").first()
        if round_ is None:
            raise ValueError(f"election {election.code} has no first round")
        self.round = round_
        admin = (
            User.objects.filter(
                pk__in=RoleAssignment.objects.filter(election=election, role=Role.ADMIN).values("user_id")
            )
            .order_by("pk")
            .first()
        )
        self.reporter = Reporter(admin, Role.ADMIN)
        self.stations = list(physical_stations(election).select_related("municipality", "centre").order_by("code"))

    def rng(self, topic: str) -> random.Random:
        if topic not in self.rngs:
            self.rngs[topic] = random.Random(f"{self.seed}/{topic}")  # noqa: S311 - a demo, reproducible on purpose
        return self.rngs[topic]

    def key(self, *parts: object) -> str:
        return ":".join(["demo", str(self.seed), *(str(p) for p in parts)])

    def at(self, hhmm: str, minutes: float = 0) -> dt.datetime:
        base = clock.at_local(self.round.date, dt.time.fromisoformat(hhmm), self.election)
        return base + dt.timedelta(minutes=minutes)

    # --- who votes ---------------------------------------------------------------------------

    def finals(self) -> dict[int, int]:
        """Each station's voters at the end of its day: its real count (valid plus invalid ballots
        of the assembly race), or an estimate where the data has none."""
        counts: dict[str, int] = {}
        try:
            with gzip.open(demo_path(RESULTS), "rt", encoding="utf-8") as handle:
                bundle = json.load(handle)
            if bundle.get("election") == self.election.code:
                invalid = bundle.get("invalid_ballots", {}).get("assembly", {})
                for code, votes in bundle.get("assembly", {}).items():
                    counts[code] = sum(votes.values()) + int(invalid.get(code, 0))
        except (OSError, ValueError):
            counts = {}
        allowance = config.same_day_allowance(self.election)
        out = {}
        for s in self.stations:
            share = FALLBACK_SHARE.get(s.municipality.area, FALLBACK_SHARE[""]) * self.rng("finals").uniform(0.8, 1.2)
            final = counts.get(s.code, round(s.registered_voters * share))
            out[s.pk] = min(final, tr.limit(s.registered_voters, allowance))
        return out

    # --- the day -----------------------------------------------------------------------------

    def run(self) -> ReplaySummary:
        north = [s for s in self.stations if s.municipality.area == NORTH]
        attacked_centre = next(
            (s.centre_id for s in self.stations if s.municipality.code == ATTACKED_MUNICIPALITY), None
        )
        attacked = [s for s in self.stations if s.centre_id == attacked_centre]
        did_not_open = [s for s in north if s.municipality.code != ATTACKED_MUNICIPALITY][-1:]
        south = [s for s in self.stations if s.municipality.area != NORTH]
        suspended = self.rng("suspensions").sample(south, min(3, len(south)))
        finals = self.finals()
        skip = {s.pk for s in did_not_open}

        self.events(
            "opening",
            [
                (s, "opened", self.at("07:00", self.rng("opening").choice([0, 0, 1, 2, 3, 5, 8, 12, 25, 48])), "")
                for s in self.stations
                if s.pk not in skip
            ]
            + [(s, "did_not_open", self.at("07:30"), "The polling materials did not arrive.") for s in did_not_open],
        )
        self.observers_deploy(north)
        self.events(
            "suspensions",
            [
                (s, "suspended", self.at("12:10", n * 7), "The power failed; the room was too dark to vote.")
                for n, s in enumerate(suspended)
            ],
        )
        self.events("resumptions", [(s, "resumed", self.at("12:40", n * 7), "") for n, s in enumerate(suspended)])
        missing = {s.pk for s in self.rng("missing").sample(self.stations, max(1, len(self.stations) // 70))}
        held = next((s for s in south if s.municipality.code == "20"), south[0] if south else None)
        for slot in ("11:00", "15:00"):
            self.turnout(
                slot, finals, skip | (missing if slot == "15:00" else set()), held if slot == "11:00" else None
            )
        self.minor_incidents(south)
        # 17:30: the attacked centre's last figure, then the attack.
        self.turnout_ad_hoc("17:30", [(s, round(finals[s.pk] * 0.9)) for s in attacked])
        self.events(
            "attack",
            [
                (
                    s,
                    "suspended",
                    self.at("17:35"),
                    "Masked men stormed the polling centre and attacked voters and commissioners.",
                )
                for s in attacked
            ],
        )
        self.attack_incidents(attacked)
        self.events(
            "attack-closure",
            [(s, "closed_early", self.at("17:50"), "Ballot boxes destroyed; polling ended.") for s in attacked],
        )
        self.withdraw()
        rest_north = [s for s in north if s not in attacked and s.pk not in skip]
        self.turnout_ad_hoc("18:00", [(s, round(finals[s.pk] * NORTH_AT_18)) for s in rest_north])
        self.events(
            "north-closure",
            [
                (
                    s,
                    "closed_early",
                    self.at("18:00"),
                    "Polls in the north closed an hour early after the attack in North Mitrovica.",
                )
                for s in rest_north
            ],
        )
        self.north_incidents(north)
        north_ids = {s.pk for s in north}
        self.turnout("19:00", finals, skip | north_ids, None)
        self.events(
            "closing",
            [
                (s, "closed", self.at("19:00", self.rng("closing").choice([0, 2, 5, 10, 15, 30, 45])), "")
                for s in self.stations
                if s.pk not in north_ids
            ],
        )
        return self.summary()

    def events(self, label: str, rows: list[tuple[PollingStation, str, dt.datetime, str]]) -> None:
        if not rows:
            return
        services.station_events_record_batch(
            election=self.election,
            round_=self.round,
            items=[
                services.BatchEvent(s.pk, kind, at, reason, self.key("event", label, s.code))
                for s, kind, at, reason in rows
            ],
            reporter=self.reporter,
            label=f"demo replay: {label}",
        )

    def turnout(self, slot: str, finals: dict[int, int], skip: set[int], held: PollingStation | None) -> None:
        share = CURVE[slot]
        items = []
        for s in self.stations:
            if s.pk in skip:
                continue
            voters = (
                round(finals[s.pk] * min(1.0, share * self.rng("turnout").uniform(0.9, 1.1)))
                if share < 1
                else finals[s.pk]
            )
            if s.municipality.area == NORTH:
                voters = round(voters * 0.8)
            if held is not None and s.pk == held.pk:
                voters = voters * 10 + 7  # a slip of the finger: held for review
            delay = self.rng("delay").choice([2, 4, 6, 9, 12, 15, 20, 45]) if self.rng("late").random() < 0.97 else 75
            when = self.at(slot)
            items.append(
                services.BatchTurnout(
                    s.pk, voters, slot, when, when + dt.timedelta(minutes=delay), self.key("turnout", slot, s.code)
                )
            )
        self._turnout_batch(f"turnout {slot}", items)

    def turnout_ad_hoc(self, hhmm: str, rows: Iterable[tuple[PollingStation, int]]) -> None:
        when = self.at(hhmm)
        items = [
            services.BatchTurnout(
                s.pk, voters, "", when, when + dt.timedelta(minutes=3), self.key("turnout", hhmm, s.code)
            )
            for s, voters in rows
        ]
        self._turnout_batch(f"turnout {hhmm}", items)

    def _turnout_batch(self, label: str, items: list[services.BatchTurnout]) -> None:
        if not items:
            return
        services.turnout_reports_record_batch(
            election=self.election,
            round_=self.round,
            items=items,
            reporter=self.reporter,
            label=f"demo replay: {label}",
        )

    # --- observers ----------------------------------------------------------------------------

    def name(self) -> str:
        return f"{self.rng('names').choice(FIRST_NAMES)} {self.rng('names').choice(LAST_NAMES)}"

    def organisation(self, name: str, kind: str) -> ObserverOrganisation:
        return services.observer_organisation_create(
            election=self.election, name=name, kind=kind, reporter=self.reporter, client_key=self.key("org", name)
        )

    def accredit(self, org: ObserverOrganisation, n: int, user: User | None = None) -> Observer:
        name = self.name()  # drawn on every run, so the seed's sequence stays the same
        observer = services.observer_apply(
            organisation=org, full_name=name, user=user, reporter=self.reporter, client_key=self.key("obs", org.name, n)
        )
        if observer.status == Observer.Status.APPLIED:
            observer = services.observer_approve(observer=observer, reporter=self.reporter)
        return observer

    def deploy(self, observer: Observer, station: PollingStation, minutes: float) -> None:
        services.deployment_create(
            observer=observer,
            station=station,
            started_at=self.at("07:00", minutes),
            reporter=self.reporter,
            client_key=self.key("deploy", observer.pk, station.code),
        )

    def observers_deploy(self, north: list[PollingStation]) -> None:
        osce = self.organisation("OSCE Mission in Kosovo", ObserverOrganisation.Kind.INTERNATIONAL)
        watch = self.organisation("Democracy Watch Kosovo", ObserverOrganisation.Kind.DOMESTIC)
        open_north = [s for s in north if StationEvent.objects.filter(station=s, kind="opened").exists()]
        mitrovica = [s for s in open_north if s.municipality.code == ATTACKED_MUNICIPALITY]
        others = [s for s in open_north if s.municipality.code != ATTACKED_MUNICIPALITY]
        north_posts = mitrovica[:12] + others[:12]
        for n, station in enumerate(north_posts):
            self.deploy(self.accredit(osce, n), station, 10 + n % 20)
        demo_observer = (
            User.objects.filter(
                pk__in=RoleAssignment.objects.filter(election=self.election, role=Role.OBSERVER).values("user_id")
            )
            .order_by("pk")
            .first()
        )
        south = [s for s in self.stations if s.municipality.area != NORTH]
        posts = self.rng("posts").sample(south, min(60, len(south)))
        linked = Observer.objects.filter(
            election=self.election, user=demo_observer, status__in=[Observer.Status.APPLIED, Observer.Status.APPROVED]
        ).first()
        for n, station in enumerate(posts):
            # The demo's observer account is the first Democracy Watch observer, unless it holds
            # an accreditation recorded otherwise.
            user = (
                demo_observer
                if n == 0 and (linked is None or linked.client_key == self.key("obs", watch.name, 0))
                else None
            )
            observer = self.accredit(watch, n, user)
            if not Deployment.objects.filter(observer=observer, ended_at__isnull=True).exists():
                self.deploy(observer, station, 5 + n % 40)

    def withdraw(self) -> None:
        osce = ObserverOrganisation.objects.get(election=self.election, name="OSCE Mission in Kosovo")
        municipality = Municipality.objects.filter(election=self.election, code=ATTACKED_MUNICIPALITY).first()
        if municipality is None:
            return
        services.organisation_withdraw_from_area(
            organisation=osce,
            area=services.Area(municipality=municipality),
            occurred_at=self.at("17:55"),
            reason="After the attack on the polling centre the organisation that ran the polls in North Mitrovica "
            "withdrew its staff from all three polling centres.",
            reporter=self.reporter,
            client_key=self.key("withdraw", osce.pk, municipality.code),
        )

    # --- incidents ----------------------------------------------------------------------------

    def incident(
        self,
        name: str,
        *,
        municipality: Municipality,
        station: PollingStation | None,
        kind: str,
        severity: str,
        hhmm: str,
        description: str,
        place: str = "",
        outcome: str = "verify",
        reporter: Reporter | None = None,
        observer: Observer | None = None,
    ) -> Incident:
        incident = services.incident_report(
            election=self.election,
            municipality=municipality,
            station=station,
            kind=kind,
            severity=severity,
            occurred_at=self.at(hhmm),
            description=description,
            place=place,
            reporter=reporter or self.reporter,
            observer=observer,
            client_key=self.key("incident", name),
            channel="batch",
        )
        if incident.status == Incident.Status.REPORTED and outcome in {"verify", "resolve"}:
            incident = services.incident_verify(incident=incident, reporter=self.reporter, note="Confirmed by the MEC.")
        if incident.status == Incident.Status.REPORTED and outcome == "reject":
            incident = services.incident_reject(
                incident=incident, reporter=self.reporter, reason="Not confirmed: the station reports no such event."
            )
        if incident.status == Incident.Status.VERIFIED and outcome == "resolve":
            incident = services.incident_resolve(
                incident=incident, reporter=self.reporter, resolution="The chair corrected the procedure."
            )
        return incident

    def attack_incidents(self, attacked: list[PollingStation]) -> None:
        if not attacked:
            return
        station = attacked[0]
        self.incident(
            "attack-violence",
            municipality=station.municipality,
            station=station,
            kind=Incident.Kind.VIOLENCE,
            severity=Incident.Severity.CRITICAL,
            hhmm="17:35",
            description="Masked men stormed the polling centre, set off tear gas and attacked voters and "
            "commissioners; an elderly commissioner was struck with a chair.",
        )
        self.incident(
            "attack-ballot-boxes",
            municipality=station.municipality,
            station=station,
            kind=Incident.Kind.BALLOT_BOX,
            severity=Incident.Severity.CRITICAL,
            hhmm="17:40",
            description="The ballot boxes were smashed and the ballots torn; the centre's ballots appear lost.",
        )

    def north_incidents(self, north: list[PollingStation]) -> None:
        munis = {s.municipality.code: s.municipality for s in north}
        for code, municipality in sorted(munis.items()):
            self.incident(
                f"north-closure-{code}",
                municipality=municipality,
                station=None,
                place=f"All polling stations of {municipality.name_en}",
                kind=Incident.Kind.EARLY_CLOSURE,
                severity=Incident.Severity.HIGH,
                hhmm="18:00",
                description="The polling stations closed at 18:00, an hour before the official close.",
            )
        if ATTACKED_MUNICIPALITY in munis:
            self.incident(
                "osce-withdrawal",
                municipality=munis[ATTACKED_MUNICIPALITY],
                station=None,
                place="All three polling centres of North Mitrovica",
                kind=Incident.Kind.STAFF_WITHDRAWN,
                severity=Incident.Severity.HIGH,
                hhmm="17:55",
                description="The organisation running the polls withdrew its staff, bringing polling to an end.",
            )

    def minor_incidents(self, south: list[PollingStation]) -> None:
        watchers = list(
            Observer.objects.filter(
                election=self.election, status=Observer.Status.APPROVED, organisation__name="Democracy Watch Kosovo"
            )
            .select_related("user")
            .order_by("pk")[:8]
        )
        plans = [
            (
                Incident.Kind.CAMPAIGNING,
                Incident.Severity.LOW,
                "09:40",
                "Party activists handed out leaflets at the entrance.",
                "verify",
            ),
            (
                Incident.Kind.PROCEDURAL,
                Incident.Severity.MEDIUM,
                "10:20",
                "Voters' fingers were not sprayed with ink.",
                "resolve",
            ),
            (
                Incident.Kind.INTIMIDATION,
                Incident.Severity.HIGH,
                "11:45",
                "Men outside the school photographed voters.",
                "verify",
            ),
            (
                Incident.Kind.OBSERVERS_OBSTRUCTED,
                Incident.Severity.MEDIUM,
                "13:05",
                "The chair asked our observer to leave the room.",
                "reported",
            ),
            (
                Incident.Kind.PROCEDURAL,
                Incident.Severity.LOW,
                "14:30",
                "Family voting seen twice in an hour.",
                "reported",
            ),
            (
                Incident.Kind.OTHER,
                Incident.Severity.LOW,
                "16:10",
                "A voter fainted in the queue; an ambulance came.",
                "reject",
            ),
        ]
        stations = self.rng("incidents").sample(south, min(len(plans), len(south)))
        for n, ((kind, severity, hhmm, text, outcome), station) in enumerate(zip(plans, stations, strict=False)):
            watcher = watchers[n % len(watchers)] if watchers else None
            reporter = (
                Reporter(watcher.user, Role.OBSERVER)
                if watcher is not None and watcher.user is not None
                else self.reporter
            )
            self.incident(
                f"minor-{n}-{station.code}",
                municipality=station.municipality,
                station=station,
                kind=kind,
                severity=severity,
                hhmm=hhmm,
                description=text,
                outcome=outcome,
                reporter=reporter,
                observer=watcher,
            )

    def summary(self) -> ReplaySummary:
        election = self.election
        return ReplaySummary(
            stations=len(self.stations),
            events=StationEvent.objects.filter(round=self.round).count(),
            turnout_reports=TurnoutReport.objects.filter(round=self.round).count(),
            incidents=Incident.objects.filter(election=election, round=self.round).count(),
            observers=Observer.objects.filter(election=election).count(),
            withdrawals=Withdrawal.objects.filter(election=election, round=self.round).count(),
            recorded=0,
        )


def _rows(election: Election) -> int:
    return sum(
        model.objects.filter(election=election).count()
        for model in (StationEvent, TurnoutReport, Incident, Observer, ObserverOrganisation, Deployment, Withdrawal)
    )


def replay_election_day(election: Election, *, seed: int = 2013) -> ReplaySummary:
    """Play out the demo's election day (see the module's docstring); a second run adds nothing."""
    with transaction.atomic():
        before = _rows(election)
        summary = _Replay(election, seed).run()
        return dataclasses.replace(summary, recorded=_rows(election) - before)
