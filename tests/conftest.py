"""Shared fixtures. Tests run against DATABASE_URL: SQLite by default, PostgreSQL in CI too."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from hypothesis import settings

TESTS = Path(__file__).parent
SMALL = TESTS / "elections" / "definitions" / "small.json"

settings.register_profile("ci", deadline=None, print_blob=True)
settings.load_profile("ci")


@pytest.fixture
def small_definition() -> dict[str, Any]:
    return copy.deepcopy(json.loads(SMALL.read_text("utf-8")))


@pytest.fixture
def small_election(db: None, small_definition: dict[str, Any]) -> Any:
    from tallyroom.elections.models import Election
    from tallyroom.elections.services import election_load

    election_load(small_definition)
    return Election.objects.get(code=small_definition["code"])


def db_counts() -> dict[str, int]:
    """Rows per Tallyroom model: equal before and after means nothing was written."""
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.app_label in {"elections", "accounts", "polling", "results", "publish", "audit"}
    }


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Real hashers are slow by design; tests of hashing itself override this."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A headless chromium for the test (see tests/browser.py)."""
    from tests.browser import launched_browser

    with launched_browser(monkeypatch) as launched:
        yield launched
