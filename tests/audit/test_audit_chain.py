"""The audit chain names the first entry that does not hold, whatever was tampered with."""

from __future__ import annotations

import io
import itertools
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction

from tallyroom.accounts.models import Role
from tallyroom.accounts.services import user_create_or_reset, user_grant_role
from tallyroom.audit.chain import audit_append, chain_head, verify
from tallyroom.audit.models import AuditEntry, AuditHead
from tallyroom.elections.models import Election, PollingStation
from tallyroom.elections.services import election_load

pytestmark = pytest.mark.django_db


def run_verify() -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit", "verify", stdout=out, stderr=err)
        return 0, out.getvalue(), err.getvalue()
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()


@pytest.fixture
def chain(small_definition: dict[str, Any]) -> Election:
    election_load(small_definition)
    for name in ("a", "b", "c"):
        user_grant_role(user_create_or_reset(name, "x" * 16), Election.objects.get(), Role.OBSERVER, actor="admin")
    small_definition["municipalities"][0]["stations"][0]["registered"] = 900
    election_load(small_definition, replace=True, actor="admin")
    return Election.objects.get()


def test_an_untouched_chain_verifies(chain: Election) -> None:
    code, out, _ = run_verify()
    assert code == 0
    assert out.startswith("OK: 5 entries")
    entries = list(AuditEntry.objects.order_by("seq"))
    assert [e.action for e in entries] == [
        "election.loaded",
        "role.granted",
        "role.granted",
        "role.granted",
        "election.replaced",
    ]
    assert entries[-1].payload["changes"] == ["municipalities[01].stations[0101C/01R].registered: 812 -> 900"]
    assert chain_head() == (5, entries[-1].entry_hash)
    assert all(b.prev_hash == a.entry_hash for a, b in itertools.pairwise(entries))


def test_a_vote_count_changed_in_the_database_is_named(chain: Election) -> None:
    PollingStation.objects.filter(code="0102B/01R").update(registered_voters=5)
    code, _, err = run_verify()
    assert code == 1
    assert err.startswith("FAILED at entry #5: election test-2025 was changed outside Tallyroom")


def test_an_altered_entry_is_named(chain: Election) -> None:
    AuditEntry.objects.filter(seq=2).update(actor="someone-else")
    code, _, err = run_verify()
    assert code == 1
    assert err.startswith("FAILED at entry #2: its content was altered")


def test_a_deleted_entry_is_named(chain: Election) -> None:
    AuditEntry.objects.filter(seq=3).delete()
    code, _, err = run_verify()
    assert code == 1
    assert err.startswith("FAILED at entry #4: sequence broken")


def test_a_deleted_last_entry_is_seen_from_the_head(chain: Election) -> None:
    AuditEntry.objects.filter(seq=5).delete()
    code, _, err = run_verify()
    assert code == 1
    assert "head says #5" in err


def test_a_forged_entry_is_named(chain: Election) -> None:
    last = AuditEntry.objects.get(seq=5)
    AuditEntry.objects.create(
        seq=6,
        created_at=last.created_at,
        actor="forger",
        role="admin",
        action="role.granted",
        object_type="role",
        object_id="1",
        payload={},
        state_digest=last.state_digest,
        prev_hash=last.entry_hash,
        entry_hash="f" * 64,
    )
    AuditHead.objects.update(seq=6, entry_hash="f" * 64)
    code, _, err = run_verify()
    assert code == 1
    assert err.startswith("FAILED at entry #6: its content was altered")


def test_two_swapped_entries_are_named(chain: Election) -> None:
    two, three = AuditEntry.objects.get(seq=2), AuditEntry.objects.get(seq=3)
    AuditEntry.objects.filter(pk=two.pk).update(seq=-2)
    AuditEntry.objects.filter(pk=three.pk).update(seq=2)
    AuditEntry.objects.filter(pk=two.pk).update(seq=3)
    code, _, err = run_verify()
    assert code == 1
    assert err.startswith("FAILED at entry #2: does not link")


@pytest.mark.django_db(transaction=True)
def test_append_refuses_outside_a_transaction(chain: Election) -> None:
    with pytest.raises(RuntimeError):
        audit_append("x", "election", "test-2025")
    with transaction.atomic():
        audit_append("election.checked", "election", "test-2025", actor="auditor")
    assert list(verify()) == []
