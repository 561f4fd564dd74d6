"""What was published when: every snapshot of the public site, and when each municipality last changed."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tallyroom.elections.models import Municipality


class Publication(models.Model):
    """One signed snapshot, as written; the files themselves live under the snapshot root."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    created_at = models.DateTimeField(_("published at"))
    audit_seq = models.BigIntegerField(_("audit chain position"))
    audit_hash = models.CharField(_("audit chain head"), max_length=64)
    manifest_sha256 = models.CharField(_("manifest SHA-256"), max_length=64)
    files = models.PositiveIntegerField(_("files"))
    size = models.BigIntegerField(_("bytes"))
    rendered = models.PositiveIntegerField(_("files rendered"))
    reused = models.PositiveIntegerField(_("files reused"))
    seconds = models.FloatField(_("seconds to write"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("publication")
        verbose_name_plural = _("publications")

    def __str__(self) -> str:
        return self.name


class MunicipalityChange(models.Model):
    """The latest audited change that a municipality's public pages show ("last updated"); kept by
    the publisher as it reads the audit chain, so writers never wait for it."""

    municipality = models.OneToOneField(
        Municipality, on_delete=models.CASCADE, primary_key=True, related_name="public_change"
    )
    audit_seq = models.BigIntegerField()
    changed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.municipality_id} @ #{self.audit_seq}"
