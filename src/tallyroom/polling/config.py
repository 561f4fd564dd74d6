"""Election-day knobs. Django settings win; else environment variables; else the defaults here."""

from __future__ import annotations

import os

from django.conf import settings

from tallyroom.elections.models import Election


def _int(name: str, default: int) -> int:
    value = getattr(settings, name, None)
    if value is None:
        return int(os.environ.get(name, str(default)))
    return int(value)


def late_minutes() -> int:
    """A report for a reporting time received more than this many minutes after it is late."""
    return _int("TALLYROOM_TURNOUT_LATE_MINUTES", 30)


def photo_max_bytes() -> int:
    return _int("TALLYROOM_PHOTO_MAX_BYTES", 5 * 1024 * 1024)


def photos_per_incident() -> int:
    return _int("TALLYROOM_PHOTOS_PER_INCIDENT", 10)


def device_token_hours() -> int:
    """How long a device token lives unless issued with an expiry: the day and the count after it."""
    return _int("TALLYROOM_DEVICE_TOKEN_HOURS", 48)


def same_day_allowance(election: Election) -> float:
    """The share of registered voters that may be added to a station's list on the day."""
    return float(election.settings.get("same_day_allowance", 0.05))


def slots(election: Election) -> list[str]:
    return sorted(str(t) for t in election.turnout_times)


def dashboard_refresh_seconds() -> int:
    """How often an open dashboard asks for news."""
    return max(2, _int("TALLYROOM_DASHBOARD_REFRESH_SECONDS", 5))
