"""`tallyroom device-token`: issue a station device token to a chair (printed once), or revoke one."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tallyroom.accounts.models import DeviceToken
from tallyroom.accounts.tokens import TokenRefused, device_token_issue, device_token_revoke
from tallyroom.elections.models import PollingStation, Round
from tallyroom.polling import clock, config


class Command(BaseCommand):
    help = "Issue a device token for a chair's station (shown once), or revoke one with --revoke ID."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--election", help="election code")
        parser.add_argument("--station", help="station code, e.g. 1901E/01R")
        parser.add_argument("--user", help="the chair's user name")
        parser.add_argument("--round", help="round code (default: today's, else the current one)")
        parser.add_argument("--hours", type=int, default=config.device_token_hours(), help="lifetime in hours")
        parser.add_argument("--revoke", type=int, metavar="ID", help="revoke the token with this id")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["revoke"]:
            row = DeviceToken.objects.filter(pk=options["revoke"]).first()
            if row is None:
                raise CommandError(f"no device token #{options['revoke']}")
            device_token_revoke(device=row, actor="cli")
            self.stdout.write(f"Device token #{row.pk} revoked.")
            return
        for name in ("election", "station", "user"):
            if not options[name]:
                raise CommandError(f"--{name} is required")
        election = clock.elections().filter(code=options["election"]).first()
        if election is None:
            raise CommandError(f"no election {options['election']!r}")
        station = PollingStation.objects.filter(election=election, code=options["station"]).first()
        user = User.objects.filter(username=options["user"]).first()
        round_ = (
            Round.objects.filter(election=election, code=options["round"]).first()
            if options["round"]
            else clock.current_round(election)
        )
        if station is None or user is None or round_ is None:
            raise CommandError("unknown station, user or round")
        expires = dt.datetime.now(tz=dt.UTC) + dt.timedelta(hours=options["hours"])
        try:
            row, token = device_token_issue(
                user=user, station=station, round_=round_, expires_at=expires, label="cli", actor="cli"
            )
        except TokenRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Device token #{row.pk} for {user.username} at {station.code} ({round_.code}), ")
        self.stdout.write(f"valid until {expires:%Y-%m-%d %H:%M} UTC. Shown once; keep it on the station's phone:")
        self.stdout.write(token)
