"""An append-only hash chain over every state change.

Each entry names who did what to which row, the SHA-256 of that row's state after the change, and
the hash of the previous entry; its own hash covers all of that. Changing, removing, inserting or
reordering entries, or changing an audited row behind the chain's back, shows in `audit verify`.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

GENESIS = "0" * 64


class AuditEntry(models.Model):
    seq = models.BigIntegerField(_("sequence"), unique=True)
    created_at = models.DateTimeField(_("created at"))
    actor = models.CharField(_("actor"), max_length=150)
    role = models.CharField(_("role"), max_length=20, blank=True)
    action = models.CharField(_("action"), max_length=60)
    object_type = models.CharField(_("object type"), max_length=60)
    object_id = models.CharField(_("object id"), max_length=80)
    payload = models.JSONField(_("details"), default=dict)
    state_digest = models.CharField(_("state digest"), max_length=64)
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    entry_hash = models.CharField(_("entry hash"), max_length=64)

    class Meta:
        ordering = ["seq"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        # No index on entry_hash: nothing looks an entry up by its hash, and `audit verify` recomputes
        # every hash from seq 1. An index of random hashes made each append touch a random page of a
        # large index (millions of entries on a national count).
        indexes = [models.Index(fields=["object_type", "object_id", "seq"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class AuditHead(models.Model):
    """The chain's tip, one row: locking it serialises appends across processes."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    entry_hash = models.CharField(max_length=64, default=GENESIS)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_head_singleton")]

    def __str__(self) -> str:
        return f"head #{self.seq}"
