"""`tallyroom totp USER`: an account's second factor, for operators with shell access to the server.

Prints the code the account's authenticator shows now (the demo's way in; anyone who can run this
can read the database anyway), enrols a new secret with --enrol, or removes the account's devices
with --reset (a lost phone: the next sign-in enrols again). Both changes go on the audit chain.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tallyroom.accounts.services import totp_enrol, totp_reset
from tallyroom.accounts.twofactor import confirmed_device, current_code, secret_base32


class Command(BaseCommand):
    help = "Print USER's current TOTP code; --enrol gives a new secret, --reset removes the devices."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--enrol", action="store_true", help="a new confirmed secret (printed once)")
        action.add_argument("--reset", action="store_true", help="remove the devices; the next sign-in enrols")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        if options["reset"]:
            removed = totp_reset(user, actor="cli")
            self.stdout.write(f"Removed {removed} device(s) of {user.get_username()}: the next sign-in enrols anew.")
            return
        if options["enrol"]:
            device = totp_enrol(user, actor="cli")
            self.stdout.write(f"New secret for {user.get_username()} (shown once): {secret_base32(device)}")
            self.stdout.write(device.config_url)
            return
        device = confirmed_device(user)
        if device is None:
            raise CommandError(f"{user.get_username()} has no confirmed authenticator: use --enrol")
        self.stdout.write(current_code(device))
