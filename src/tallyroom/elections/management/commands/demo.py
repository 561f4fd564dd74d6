"""`tallyroom demo`: database, migrations, the 2013 election, an account per role, then serve."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from tallyroom.accounts.demo import demo_accounts_create
from tallyroom.accounts.services import DemoAccount
from tallyroom.elections.definition import read_file
from tallyroom.elections.demo import demo_path
from tallyroom.elections.models import Election
from tallyroom.elections.services import election_load
from tallyroom.polling.demo import replay_election_day
from tallyroom.results.demo import replay_count


class Command(BaseCommand):
    help = "Set up and serve the demo: Kosovo's 2013 local elections, with one account per role."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="set everything up, then exit")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--password", help="one password for every demo account (default: random)")

    def handle(self, *args: Any, **options: Any) -> None:
        db = connection.settings_dict
        self.stdout.write(f"Database: {db['ENGINE'].rsplit('.', 1)[-1]} {db['NAME']}")
        call_command("migrate", interactive=False, verbosity=0)
        outcome = election_load(read_file(demo_path()), replace=True)
        counts = outcome.counts
        self.stdout.write(
            f"Election {outcome.election_code} {outcome.status}: {counts['municipalities']} municipalities, "
            f"{counts['stations']:,} stations, {counts['registered_voters']:,} registered voters."
        )
        election = Election.objects.get(code=outcome.election_code)
        accounts = demo_accounts_create(election, options["password"])
        self.stdout.write("\nDemo accounts (user / password / role / scope):")
        for acc in accounts:
            self.stdout.write(f"  {acc.username:<9} {acc.password:<14} {acc.role} ({acc.scope})")
        if settings.TALLYROOM_REQUIRE_2FA:
            self._print_second_factors(accounts)
        self.stdout.write("\n" + replay_election_day(election).line())
        self.stdout.write("Counting the results (first run: about a minute)...")
        self.stdout.write(str(replay_count(election)))
        url = f"http://{options['host']}:{options['port']}"
        self.stdout.write(f"\nPublic site {url}/   API {url}/api/v1/docs   Admin {url}/admin/")
        if not options["no_serve"]:
            # The web server with the live publisher beside it: the first snapshot of the whole
            # site takes a few minutes; until it exists the public pages are rendered live.
            call_command("serve", host=options["host"], port=options["port"], workers=2, threads=4)

    def _print_second_factors(self, accounts: list[DemoAccount]) -> None:
        self.stdout.write(
            "\nAdministrators, officials and auditors then enter a code from an authenticator app (add the"
            " secret or the otpauth URI below to it), or print the current code with `tallyroom totp USER`:"
        )
        for acc in accounts:
            if acc.totp_secret:
                self.stdout.write(f"  {acc.username:<9} {acc.totp_secret}  {acc.totp_uri}")
