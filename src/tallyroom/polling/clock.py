"""Times on election day: stored in UTC, read and shown in the election's time zone.

A time without an offset is taken as the election's local time. A report must fall on the day of
one of the election's rounds (00:00 to 23:59:59 local) and may not be in the future (beyond a few
minutes of clock drift on the station's phone).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils.formats import date_format
from django.utils.timezone import now as timezone_now
from django.utils.translation import gettext as _

from tallyroom.elections.models import Election, Round
from tallyroom.polling.errors import Forbidden, InvalidInput

CLOCK_DRIFT = dt.timedelta(minutes=5)
# The definition as loaded is megabytes even compressed: election day never needs it.
HEAVY = ("definition_packed",)


def elections() -> QuerySet[Election]:
    """Elections without the heavy columns."""
    return Election.objects.defer(*HEAVY)


def election_of(obj: Any) -> Election:
    """The row's election, loaded once and without the definition."""
    cached = obj._state.fields_cache.get("election")
    if cached is None:
        cached = elections().get(pk=obj.election_id)
        obj._state.fields_cache["election"] = cached
    return cached  # type: ignore[no-any-return]


def zone(election: Election) -> ZoneInfo:
    return ZoneInfo(election.timezone)


def aware(value: dt.datetime, election: Election) -> dt.datetime:
    """An aware time: naive values are the election's local time."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=zone(election))
    return value


def local(value: dt.datetime, election: Election) -> dt.datetime:
    return value.astimezone(zone(election))


def hhmm(value: dt.datetime | None, election: Election) -> str:
    return local(value, election).strftime("%H:%M") if value else ""


def at_local(day: dt.date, clock: dt.time, election: Election) -> dt.datetime:
    return dt.datetime.combine(day, clock, tzinfo=zone(election))


def slot_time(round_: Round, slot: str, election: Election) -> dt.datetime:
    return at_local(round_.date, dt.time.fromisoformat(slot), election)


def round_on(election: Election, day: dt.date) -> Round | None:
    return Round.objects.filter(election=election, date=day).order_by("code").first()


def today(election: Election, now: dt.datetime | None = None) -> dt.date:
    return local(now or timezone_now(), election).date()


def resolve_round(
    election: Election,
    at: dt.datetime,
    *,
    round_: Round | None = None,
    device_round: Round | None = None,
    field: str = "occurred_at",
    now: dt.datetime | None = None,
) -> Round:
    """The round whose day `at` falls on; refuses times outside every round's day and in the future."""
    day = local(at, election).date()
    if round_ is None:
        round_ = round_on(election, day)
    if round_ is None or round_.date != day:
        days = ", ".join(
            date_format(d, "Y-m-d") for d in Round.objects.filter(election=election).values_list("date", flat=True)
        )
        raise InvalidInput(
            _("%(time)s is not on an election day of %(election)s (election days: %(days)s, local time).")
            % {"time": local(at, election).isoformat(timespec="minutes"), "election": election.code, "days": days},
            field,
        )
    if device_round is not None and device_round.pk != round_.pk:
        raise Forbidden(
            _("This device is issued for the round of %(day)s; it cannot report for %(other)s.")
            % {"day": device_round.date.isoformat(), "other": round_.date.isoformat()}
        )
    if at > (now or timezone_now()) + CLOCK_DRIFT:
        raise InvalidInput(
            _("%(time)s is in the future: report what has happened, when it has happened.")
            % {"time": local(at, election).isoformat(timespec="minutes")},
            field,
        )
    return round_


def current_round(election: Election, now: dt.datetime | None = None) -> Round | None:
    """Today's round; else the latest round with anything recorded; else the first round."""
    from tallyroom.polling.models import StationStatus

    rounds = list(Round.objects.filter(election=election).order_by("date", "code"))
    if not rounds:
        return None
    day = today(election, now)
    for r in rounds:
        if r.date == day:
            return r
    used = set(StationStatus.objects.filter(election=election).values_list("round_id", flat=True).distinct())
    for r in reversed(rounds):
        if r.pk in used:
            return r
    return next((r for r in rounds if r.kind == Round.Kind.FIRST), rounds[0])
