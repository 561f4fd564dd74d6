"""Result forms and what becomes of them: entries, checks, decisions, tallies.

A station's count for one contest is a `ResultForm`. Its life (Tally-Ho's idea, our names):

    preliminary (the chair's submission on the night):  submitted -> accepted | quarantined
    official (the paper form at the counting centre):   entered -> verified -> accepted | quarantined
                                                         (mismatching blind entries: entered -> disputed)
    quarantined -> accepted (auditor accepts or corrects after a recount) | excluded
    any -> annulled (a decision voids it; it stays on record and counts for nothing)

At most one form per station and contest is *counted* in the running tally: the official form once
accepted, else the accepted preliminary one. Counts are whole numbers; individual ballots are never
stored.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from tallyroom.elections.models import Candidate, Contest, PoliticalEntity, PollingStation

# The form's numbers besides the votes. `invalid` counts every invalid ballot, blank ones included;
# `blank` says how many of them were blank. `signatures` is the voters signed on the voter list.
COUNT_FIELDS = (
    "signatures",
    "ballots_received",
    "ballots_used",
    "ballots_unused",
    "ballots_spoiled",
    "invalid",
    "blank",
    "conditional",
)


class FormKind(models.TextChoices):
    PRELIMINARY = "preliminary", _("preliminary (station)")
    OFFICIAL = "official", _("official (counting centre)")


class FormState(models.TextChoices):
    SUBMITTED = "submitted", _("submitted")
    ENTERED = "entered", _("entered")
    DISPUTED = "disputed", _("entries differ")
    VERIFIED = "verified", _("verified")
    ACCEPTED = "accepted", _("accepted")
    QUARANTINED = "quarantined", _("quarantined")
    EXCLUDED = "excluded", _("excluded")
    ANNULLED = "annulled", _("annulled")


class ResultForm(models.Model):
    # No single-column indexes on the keys: form_one_per_kind leads with the station and
    # form_contest_state_idx with the contest (every index is paid for on each of a million inserts).
    station = models.ForeignKey(PollingStation, on_delete=models.PROTECT, related_name="result_forms", db_index=False)
    contest = models.ForeignKey(Contest, on_delete=models.PROTECT, related_name="result_forms", db_index=False)
    kind = models.CharField(_("kind"), max_length=12, choices=FormKind.choices)
    state = models.CharField(_("state"), max_length=12, choices=FormState.choices)
    counted = models.BooleanField(_("counted in the tally"), default=False)
    signatures = models.IntegerField(_("voters signed on the list"), null=True, blank=True)
    ballots_received = models.IntegerField(_("ballots received"), null=True, blank=True)
    ballots_used = models.IntegerField(_("ballots used"), null=True, blank=True)
    ballots_unused = models.IntegerField(_("ballots unused"), null=True, blank=True)
    ballots_spoiled = models.IntegerField(_("ballots spoiled"), null=True, blank=True)
    invalid = models.IntegerField(_("invalid ballots"), default=0)
    blank = models.IntegerField(_("blank ballots"), default=0)
    conditional = models.IntegerField(_("conditional ballots"), default=0)
    valid = models.IntegerField(_("valid votes"), default=0)
    committee_signed = models.BooleanField(_("signed by the committee"), null=True, blank=True)
    content_sha256 = models.CharField(_("content SHA-256"), max_length=64)
    submitted_by = models.CharField(_("submitted by"), max_length=150)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    version = models.PositiveIntegerField(_("version"), default=1)

    class Meta:
        ordering = ["contest_id", "station_id", "kind"]
        verbose_name = _("result form")
        verbose_name_plural = _("result forms")
        constraints = [
            models.UniqueConstraint(fields=["station", "contest", "kind"], name="form_one_per_kind"),
            models.UniqueConstraint(fields=["station", "contest"], condition=Q(counted=True), name="form_one_counted"),
            models.CheckConstraint(
                condition=Q(counted=False) | Q(state="accepted"), name="form_counted_only_when_accepted"
            ),
            models.CheckConstraint(
                condition=Q(invalid__gte=0, blank__gte=0, conditional__gte=0, valid__gte=0)
                & (Q(signatures__isnull=True) | Q(signatures__gte=0))
                & (Q(ballots_received__isnull=True) | Q(ballots_received__gte=0))
                & (Q(ballots_used__isnull=True) | Q(ballots_used__gte=0))
                & (Q(ballots_unused__isnull=True) | Q(ballots_unused__gte=0))
                & (Q(ballots_spoiled__isnull=True) | Q(ballots_spoiled__gte=0)),
                name="form_counts_nonnegative",
            ),
            models.CheckConstraint(condition=Q(kind__in=["preliminary", "official"]), name="form_kind_valid"),
        ]
        indexes = [models.Index(fields=["contest", "state"], name="form_contest_state_idx")]

    def __str__(self) -> str:
        return f"{self.station_id}/{self.contest_id} {self.kind} {self.state}"


# The vote rows' references the database does not check, in the order `audit verify` reports them.
# At a million stations they are ~40 rows a form, and PostgreSQL checks each reference row by row:
# in a 400,000-form ingest these four checks were more than half of PostgreSQL's time
# (docs/results.md). The rows are written only by the services, from the form they have just
# inserted and the choices of its contest's ballot; Django still cascades and protects on delete;
# and `audit verify` finds a row whose form or choice is gone (`orphan_rows`) or a form whose rows
# were changed (its content digest).
UNCHECKED = (
    ("results.ResultVote", "form"),
    ("results.ResultVote", "entity"),
    ("results.ResultPreference", "form"),
    ("results.ResultPreference", "candidate"),
)


class ResultVote(models.Model):
    """Votes for one choice on one form: an entity (assembly) or a candidate (mayor)."""

    # No database constraint on the form and the choice, here and on ResultPreference (see UNCHECKED).
    form = models.ForeignKey(
        ResultForm, on_delete=models.CASCADE, related_name="votes", db_index=False, db_constraint=False
    )
    entity = models.ForeignKey(PoliticalEntity, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    candidate = models.ForeignKey(
        Candidate, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    votes = models.IntegerField(_("votes"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["form", "entity"], name="vote_one_per_choice"),
            models.CheckConstraint(condition=Q(votes__gte=0), name="vote_nonnegative"),
        ]
        # The form is covered by vote_one_per_choice; the candidate is rarely set, so only those rows.
        indexes = [
            models.Index(fields=["candidate"], condition=Q(candidate__isnull=False), name="vote_candidate_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.form_id}:{self.entity_id}={self.votes}"


class ResultPreference(models.Model):
    """Preference votes for one assembly candidate on one form."""

    # The form is covered by preference_one_per_candidate.
    form = models.ForeignKey(
        ResultForm, on_delete=models.CASCADE, related_name="preferences", db_index=False, db_constraint=False
    )
    candidate = models.ForeignKey(Candidate, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    votes = models.IntegerField(_("preference votes"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["form", "candidate"], name="preference_one_per_candidate"),
            models.CheckConstraint(condition=Q(votes__gte=0), name="preference_nonnegative"),
        ]

    def __str__(self) -> str:
        return f"{self.form_id}:{self.candidate_id}={self.votes}"


class DataEntry(models.Model):
    """One clerk's blind typing of a paper form; two that match verify it."""

    form = models.ForeignKey(ResultForm, on_delete=models.CASCADE, related_name="entries")
    number = models.PositiveSmallIntegerField(_("entry number"))
    clerk = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    content = models.JSONField(_("content"))
    content_sha256 = models.CharField(_("content SHA-256"), max_length=64)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["form_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["form", "number"], name="entry_number_unique"),
            models.CheckConstraint(condition=Q(number__in=[1, 2, 3]), name="entry_number_valid"),
        ]

    def __str__(self) -> str:
        return f"entry {self.number} of form {self.form_id}"


class QuarantineFlag(models.Model):
    """A check the form failed, with the numbers that failed it."""

    form = models.ForeignKey(ResultForm, on_delete=models.CASCADE, related_name="flags")
    check_code = models.CharField(_("check"), max_length=60)
    message = models.TextField(_("message"))
    detail = models.JSONField(_("detail"), default=dict)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)

    class Meta:
        ordering = ["form_id", "check_code"]

    def __str__(self) -> str:
        return f"{self.check_code} on form {self.form_id}"


class AuditorDecision(models.Model):
    class Decision(models.TextChoices):
        ACCEPT = "accept", _("accept as counted")
        CORRECT = "correct", _("correct after recount")
        EXCLUDE = "exclude", _("exclude")

    form = models.ForeignKey(ResultForm, on_delete=models.PROTECT, related_name="decisions")
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices)
    auditor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("reason"))
    recount = models.JSONField(_("recount record"), default=dict, blank=True)
    form_version = models.PositiveIntegerField(_("form version decided"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["form_id", "created_at"]

    def __str__(self) -> str:
        return f"{self.decision} form {self.form_id}"


class ContestTally(models.Model):
    """Running totals of a contest's counted forms, kept in step with every counted form."""

    contest = models.OneToOneField(Contest, on_delete=models.CASCADE, related_name="tally")
    forms_counted = models.IntegerField(default=0)
    official_counted = models.IntegerField(default=0)
    registered_counted = models.BigIntegerField(default=0)
    ballots_used = models.BigIntegerField(default=0)
    invalid = models.BigIntegerField(default=0)
    blank = models.BigIntegerField(default=0)
    valid = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(forms_counted__gte=F("official_counted")), name="tally_counts_sane")
        ]

    def __str__(self) -> str:
        return f"tally of contest {self.contest_id}"


class TallyVote(models.Model):
    contest = models.ForeignKey(Contest, on_delete=models.CASCADE, related_name="tally_votes")
    entity = models.ForeignKey(PoliticalEntity, on_delete=models.PROTECT, related_name="+")
    votes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contest", "entity"], name="tally_vote_unique")]

    def __str__(self) -> str:
        return f"{self.contest_id}:{self.entity_id}={self.votes}"


class TallyPreference(models.Model):
    contest = models.ForeignKey(Contest, on_delete=models.CASCADE, related_name="tally_preferences")
    candidate = models.ForeignKey(Candidate, on_delete=models.PROTECT, related_name="+")
    votes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contest", "candidate"], name="tally_preference_unique")]

    def __str__(self) -> str:
        return f"{self.contest_id}:{self.candidate_id}={self.votes}"


class Complaint(models.Model):
    """A complaint to the complaints panel; an open one blocks certifying its municipality."""

    class State(models.TextChoices):
        OPEN = "open", _("open")
        DECIDED = "decided", _("decided")

    class Decision(models.TextChoices):
        REJECTED = "rejected", _("rejected")
        RECOUNT = "recount", _("recount ordered")
        ANNULMENT = "annulment", _("annulment ordered")

    municipality = models.ForeignKey("elections.Municipality", on_delete=models.PROTECT, related_name="complaints")
    station = models.ForeignKey(PollingStation, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    contest = models.ForeignKey(Contest, on_delete=models.PROTECT, null=True, blank=True, related_name="complaints")
    complainant = models.CharField(_("complainant"), max_length=200)
    subject = models.TextField(_("subject"))
    filed_by = models.CharField(_("filed by"), max_length=150)
    filed_at = models.DateTimeField(_("filed at"))
    late = models.BooleanField(_("filed after the deadline"), default=False)
    decide_by = models.DateTimeField(_("decide by"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices, blank=True)
    decision_reason = models.TextField(_("reasoning"), blank=True)
    decided_by = models.CharField(_("decided by"), max_length=150, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        ordering = ["filed_at"]
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        constraints = [
            models.CheckConstraint(
                condition=Q(state="open", decision="") | Q(state="decided") & ~Q(decision=""),
                name="complaint_decision_matches_state",
            )
        ]

    def __str__(self) -> str:
        return f"complaint {self.pk} ({self.state})"


class Annulment(models.Model):
    """A decision voiding stations' forms for a contest; it may order repeat voting there."""

    contest = models.ForeignKey(Contest, on_delete=models.PROTECT, related_name="annulments")
    stations = models.ManyToManyField(PollingStation, related_name="annulments")
    legal_basis = models.CharField(_("legal basis"), max_length=300)
    reason = models.TextField(_("reason"))
    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    incident_refs = models.JSONField(_("incidents"), default=list, blank=True)
    decided_by = models.CharField(_("decided by"), max_length=150)
    decided_at = models.DateTimeField(_("decided at"))
    repeat_contest = models.ForeignKey(
        Contest, on_delete=models.PROTECT, null=True, blank=True, related_name="repeat_of_annulments"
    )

    class Meta:
        ordering = ["decided_at"]
        verbose_name = _("annulment")
        verbose_name_plural = _("annulments")

    def __str__(self) -> str:
        return f"annulment {self.pk} of contest {self.contest_id}"


class Certification(models.Model):
    """The commission's certification of a contest's results: locks them."""

    contest = models.ForeignKey(Contest, on_delete=models.PROTECT, related_name="certifications")
    certified_by = models.CharField(_("certified by"), max_length=150)
    certified_at = models.DateTimeField(_("certified at"))
    results_sha256 = models.CharField(_("results SHA-256"), max_length=64)
    results = models.JSONField(_("results as certified"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoke_reason = models.TextField(_("reason for revoking"), blank=True)

    class Meta:
        ordering = ["certified_at"]
        verbose_name = _("certification")
        verbose_name_plural = _("certifications")
        constraints = [
            models.UniqueConstraint(
                fields=["contest"], condition=Q(revoked_at__isnull=True), name="certification_one_in_force"
            )
        ]

    def __str__(self) -> str:
        return f"certification of contest {self.contest_id}"
