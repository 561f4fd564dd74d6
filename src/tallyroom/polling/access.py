"""Who may do what on election day: the only way the API and the forms reach protected rows.

A principal is a signed-in user or a station device (its token). Every helper answers for one
election, and says in which role the principal acts, for the record. One condition per line, so
coverage shows each branch is tested. Unknown stations are named as such (the structure is public);
incidents and reports the principal may not see are "not found", never "forbidden".

| action                         | admin | official       | chair / device | observer       | clerk, auditor, panel |
|--------------------------------|-------|----------------|----------------|----------------|-----------------------|
| station events, turnout        | all   | own municipality | own station  | -              | -                     |
| report an incident             | all   | own municipality | own station  | accredited     | -                     |
| verify, reject, resolve; review held turnout | all | own municipality | - | -             | -                     |
| see unverified incidents       | all   | all            | own reports    | own reports    | auditor, panel: all   |
| dashboard, coverage            | yes   | yes            | yes            | yes            | yes                   |
| observers: organisations, approve, refuse, revoke | all | - | -         | -              | -                     |
| observers: apply               | all   | -              | -              | for themselves | -                     |
| deploy an observer             | all   | own municipality | -            | themselves     | -                     |
| withdraw an organisation       | all   | own municipality | -            | -              | -                     |
| issue, revoke device tokens    | all   | own municipality | -            | -              | -                     |
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.utils.timezone import now as timezone_now
from django.utils.translation import gettext as _

from tallyroom.accounts.models import DeviceToken, Role, RoleAssignment
from tallyroom.audit.chain import SYSTEM
from tallyroom.elections.models import Election, Municipality, PollingStation
from tallyroom.polling import clock
from tallyroom.polling.errors import Forbidden, InvalidInput, NotFound
from tallyroom.polling.models import Incident, Observer, TurnoutReport

Principal = AbstractBaseUser | AnonymousUser | DeviceToken
# Roles that see every incident, verified or not.
INTERNAL = frozenset({Role.ADMIN, Role.OFFICIAL, Role.AUDITOR, Role.PANEL})


class Unauthenticated(Exception):  # noqa: N818 - reads as the domain says it
    """Nobody signed in and no device token: 401."""


@dataclass(frozen=True)
class Reporter:
    """Who acts, in which role: what the record and the audit chain say."""

    user: User | None
    role: str
    device: DeviceToken | None = None

    @property
    def actor(self) -> str:
        name = self.user.get_username() if self.user is not None else SYSTEM
        return f"{name} (device #{self.device.pk})" if self.device is not None else name

    @property
    def key(self) -> str:
        """Whose client keys these are: a device's and its user's web session are different clients."""
        if self.device is not None:
            return f"device:{self.device.pk}"
        return f"user:{self.user.pk}" if self.user is not None else "system"


@dataclass(frozen=True)
class Viewer:
    """A reader of the election day's picture."""

    user: User | None
    roles: frozenset[str]
    municipality_ids: frozenset[int] = field(default_factory=frozenset)
    device: DeviceToken | None = None

    @property
    def internal(self) -> bool:
        return bool(self.roles & INTERNAL)

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None


def _user(principal: Principal) -> User:
    if isinstance(principal, DeviceToken):
        return principal.user
    if not principal.is_authenticated:
        raise Unauthenticated
    assert isinstance(principal, User)  # noqa: S101 - the project uses Django's user model
    return principal


def _grants(user: AbstractBaseUser, election: Election) -> list[RoleAssignment]:
    return list(RoleAssignment.objects.filter(user_id=user.pk, election_id=election.pk))


def _has(grants: list[RoleAssignment], role: Role, *, municipality_id: int | None = None) -> bool:
    return any(g.role == role and (municipality_id is None or g.municipality_id == municipality_id) for g in grants)


def device_valid(device: DeviceToken) -> bool:
    """Not revoked, not expired, and its user still chairs its station."""
    if device.revoked_at is not None:
        return False
    if device.expires_at <= timezone_now():
        return False
    if not device.user.is_active:
        return False
    return RoleAssignment.objects.filter(
        user_id=device.user_id, role=Role.CHAIR, station_id=device.station_id, election_id=device.station.election_id
    ).exists()


def station_by_code(election: Election, code: str) -> PollingStation:
    station = (
        PollingStation.objects.select_related("municipality", "election")
        .defer("election__definition_packed")
        .filter(election=election, code=code)
        .first()
    )
    if station is None:
        raise NotFound(
            _("No polling station %(code)s in election %(election)s.") % {"code": code, "election": election.code},
            "path.code",
        )
    return station


def access_station_for_report(principal: Principal, election: Election, code: str) -> tuple[PollingStation, Reporter]:
    """Record events and turnout: the station's chair (or its device), its officials, the commission."""
    if isinstance(principal, DeviceToken):
        station = station_by_code(election, code)
        if principal.station_id != station.pk:
            raise Forbidden(_("This device reports for station %(code)s only.") % {"code": principal.station.code})
        return station, Reporter(principal.user, Role.CHAIR, principal)
    user = _user(principal)
    station = station_by_code(election, code)
    grants = _grants(user, election)
    if _has(grants, Role.ADMIN):
        return station, Reporter(user, Role.ADMIN)
    if _has(grants, Role.OFFICIAL, municipality_id=station.municipality_id):
        return station, Reporter(user, Role.OFFICIAL)
    if any(g.role == Role.CHAIR and g.station_id == station.pk for g in grants):
        return station, Reporter(user, Role.CHAIR)
    raise Forbidden(_("You may not report for station %(code)s.") % {"code": code})


def access_viewer(principal: Principal, election: Election) -> Viewer:
    """Read the dashboard, the feed and the coverage: anyone holding a role in the election."""
    if isinstance(principal, DeviceToken):
        return Viewer(principal.user, frozenset({Role.CHAIR}), device=principal)
    user = _user(principal)
    grants = _grants(user, election)
    if not grants:
        raise Forbidden(_("You hold no role in election %(election)s.") % {"election": election.code})
    munis = frozenset(g.municipality_id for g in grants if g.role == Role.OFFICIAL and g.municipality_id)
    return Viewer(user, frozenset(g.role for g in grants), munis)


def access_station_for_view(principal: Principal, election: Election, code: str) -> tuple[PollingStation, Viewer]:
    viewer = access_viewer(principal, election)
    station = station_by_code(election, code)
    if viewer.device is not None and viewer.device.station_id != station.pk:
        raise Forbidden(_("This device reports for station %(code)s only.") % {"code": viewer.device.station.code})
    return station, viewer


def access_place_for_incident(
    principal: Principal,
    election: Election,
    *,
    station_code: str | None,
    municipality_code: str | None,
) -> tuple[PollingStation | None, Municipality, Reporter, Observer | None]:
    """Report an incident: at a station, or at a described place in a municipality."""
    station = station_by_code(election, station_code) if station_code else None
    municipality = station.municipality if station is not None else _municipality(election, municipality_code)
    if isinstance(principal, DeviceToken):
        if station is None or principal.station_id != station.pk:
            raise Forbidden(_("This device reports for station %(code)s only.") % {"code": principal.station.code})
        return station, municipality, Reporter(principal.user, Role.CHAIR, principal), None
    user = _user(principal)
    grants = _grants(user, election)
    if _has(grants, Role.ADMIN):
        return station, municipality, Reporter(user, Role.ADMIN), None
    if _has(grants, Role.OFFICIAL, municipality_id=municipality.pk):
        return station, municipality, Reporter(user, Role.OFFICIAL), None
    if station is not None and any(g.role == Role.CHAIR and g.station_id == station.pk for g in grants):
        return station, municipality, Reporter(user, Role.CHAIR), None
    if _has(grants, Role.OBSERVER):
        observer = Observer.objects.filter(election=election, user_id=user.pk, status=Observer.Status.APPROVED).first()
        if observer is None:
            raise Forbidden(_("Observers report incidents once their accreditation is approved."))
        return station, municipality, Reporter(user, Role.OBSERVER), observer
    raise Forbidden(_("You may not report incidents here."))


def _municipality(election: Election, code: str | None) -> Municipality:
    if not code:
        raise InvalidInput(_("Name the polling station, or the municipality of the place."), "municipality")
    municipality = Municipality.objects.filter(election=election, code=code).first()
    if municipality is None:
        raise NotFound(
            _("No municipality %(code)s in election %(election)s.") % {"code": code, "election": election.code},
            "municipality",
        )
    return municipality


def incident_visible_to(viewer: Viewer, incident: Incident) -> bool:
    if incident.is_public:
        return True
    if viewer.internal:
        return True
    return viewer.user is not None and incident.reported_by_id == viewer.user.pk


def access_incident_for_view(principal: Principal, incident_id: int) -> tuple[Incident, Viewer]:
    incident = (
        Incident.objects.select_related("election", "station", "municipality", "round")
        .defer("election__definition_packed")
        .filter(pk=incident_id)
        .first()
    )
    if incident is None:
        raise NotFound(_("No incident #%(id)s.") % {"id": incident_id}, "path.incident_id")
    viewer = access_viewer(principal, incident.election)
    if not incident_visible_to(viewer, incident):
        raise NotFound(_("No incident #%(id)s.") % {"id": incident_id}, "path.incident_id")
    return incident, viewer


def _decider(principal: Principal, election: Election, municipality_id: int) -> Reporter:
    if isinstance(principal, DeviceToken):
        raise Forbidden(_("Station devices report; the commission decides."))
    user = _user(principal)
    grants = _grants(user, election)
    if _has(grants, Role.ADMIN):
        return Reporter(user, Role.ADMIN)
    if _has(grants, Role.OFFICIAL, municipality_id=municipality_id):
        return Reporter(user, Role.OFFICIAL)
    raise Forbidden(_("Only the commission and the municipality's officials decide this."))


def access_incident_for_decision(principal: Principal, incident_id: int) -> tuple[Incident, Reporter]:
    """Verify, reject or resolve: the commission, or an official of the incident's municipality."""
    incident, _viewer = access_incident_for_view(principal, incident_id)
    return incident, _decider(principal, incident.election, incident.municipality_id)


def access_incident_for_photos(principal: Principal, incident_id: int) -> tuple[Incident, Reporter]:
    """Add photos: whoever reported the incident, or those who decide on it."""
    incident, viewer = access_incident_for_view(principal, incident_id)
    if viewer.user is not None and incident.reported_by_id == viewer.user.pk:
        device = principal if isinstance(principal, DeviceToken) else None
        role = Role.CHAIR if device is not None else incident.reporter_role
        return incident, Reporter(viewer.user, role, device)
    return incident, _decider(principal, incident.election, incident.municipality_id)


def access_turnout_for_review(principal: Principal, report_id: int) -> tuple[TurnoutReport, Reporter]:
    report = (
        TurnoutReport.objects.select_related("election", "station", "round")
        .defer("election__definition_packed")
        .filter(pk=report_id)
        .first()
    )
    if report is None:
        raise NotFound(_("No turnout report #%(id)s.") % {"id": report_id}, "path.report_id")
    if isinstance(principal, DeviceToken):
        raise Forbidden(_("Station devices report; the commission decides."))
    return report, _decider(principal, report.election, report.station.municipality_id)


def access_commission(principal: Principal, election: Election) -> Reporter:
    """The central commission's own acts: observer organisations and accreditation decisions."""
    if isinstance(principal, DeviceToken):
        raise Forbidden(_("Station devices report; the commission decides."))
    user = _user(principal)
    if _has(_grants(user, election), Role.ADMIN):
        return Reporter(user, Role.ADMIN)
    raise Forbidden(_("Only the central commission does this."))


def access_observer_application(principal: Principal, election: Election, *, for_self: bool) -> Reporter:
    """Apply for accreditation: the commission for anyone, an observer for themselves."""
    if isinstance(principal, DeviceToken):
        raise Forbidden(_("Station devices report; the commission decides."))
    user = _user(principal)
    grants = _grants(user, election)
    if _has(grants, Role.ADMIN):
        return Reporter(user, Role.ADMIN)
    if for_self and _has(grants, Role.OBSERVER):
        return Reporter(user, Role.OBSERVER)
    raise Forbidden(_("Observers apply for themselves; the commission records other applications."))


def access_observer(election: Election, observer_id: int) -> Observer:
    observer = Observer.objects.select_related("organisation").filter(election=election, pk=observer_id).first()
    if observer is None:
        raise NotFound(_("No observer #%(id)s.") % {"id": observer_id}, "path.observer_id")
    return observer


def access_deployment(principal: Principal, observer: Observer, station: PollingStation) -> Reporter:
    """Deploy an observer: the commission anywhere, an official in their municipality, an
    accredited observer themselves (mobile teams move from station to station)."""
    if isinstance(principal, DeviceToken):
        raise Forbidden(_("Station devices report; the commission decides."))
    user = _user(principal)
    grants = _grants(user, clock.election_of(observer))
    if _has(grants, Role.ADMIN):
        return Reporter(user, Role.ADMIN)
    if _has(grants, Role.OFFICIAL, municipality_id=station.municipality_id):
        return Reporter(user, Role.OFFICIAL)
    if _has(grants, Role.OBSERVER) and observer.user_id == user.pk:
        return Reporter(user, Role.OBSERVER)
    raise Forbidden(_("You may not deploy this observer to station %(code)s.") % {"code": station.code})


def access_area(principal: Principal, election: Election, municipality_ids: set[int]) -> Reporter:
    """Act on every station of an area (a withdrawal; device tokens): the commission, or an
    official whose municipality is the whole area."""
    if isinstance(principal, DeviceToken):
        raise Forbidden(_("Station devices report; the commission decides."))
    user = _user(principal)
    grants = _grants(user, election)
    if _has(grants, Role.ADMIN):
        return Reporter(user, Role.ADMIN)
    official_of = {g.municipality_id for g in grants if g.role == Role.OFFICIAL}
    if municipality_ids and municipality_ids <= official_of:
        return Reporter(user, Role.OFFICIAL)
    raise Forbidden(_("Only the commission, or the area's own officials, may do this."))
