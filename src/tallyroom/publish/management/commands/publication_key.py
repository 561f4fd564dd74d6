"""`tallyroom publication-key`: print the public key that verifies published snapshots."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Print the commission's publication public key (PEM) and its SHA-256 fingerprint."

    def handle(self, *args: Any, **options: Any) -> None:
        from tallyroom.publish import signing

        key = signing.private_key_load()
        self.stdout.write(signing.public_key_pem(key).decode("ascii"), ending="")
        self.stderr.write(f"fingerprint (SHA-256): {signing.key_fingerprint(key.public_key())}")
