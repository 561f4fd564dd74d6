"""The structure of an election: who stands where, and where people vote.

Natural codes (station `0101C/01R`, entity `PDK`) are unique per election in the database; the
loader matches rows by them, so reloading a definition never duplicates anything.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from tallyroom.elections.definition import definition_unpack


class ElectionManager(models.Manager["Election"]):
    def get_queryset(self) -> models.QuerySet[Election]:
        # The definition as loaded is megabytes at national scale and almost never read: fetched
        # only when `.definition` is read.
        return super().get_queryset().defer("definition_packed")


class Election(models.Model):
    code = models.CharField(_("code"), max_length=40, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_sq = models.CharField(_("name (Albanian)"), max_length=200, blank=True)
    name_sr = models.CharField(_("name (Serbian)"), max_length=200, blank=True)
    timezone = models.CharField(_("time zone"), max_length=64)
    polls_open = models.TimeField(_("polls open"))
    polls_close = models.TimeField(_("polls close"))
    turnout_times = models.JSONField(_("turnout reporting times"), default=list)
    settings = models.JSONField(_("settings"), default=dict)
    estimates = models.JSONField(_("estimated figures"), default=list, blank=True)
    source = models.TextField(_("source"), blank=True)
    # The canonical JSON, zlib-compressed: a national definition is ~100 MB of text, ~10 MB packed,
    # and a JSON column made the database server hold it several times over while storing it.
    definition_packed = models.BinaryField(_("definition as loaded (compressed)"))
    definition_sha256 = models.CharField(_("definition SHA-256"), max_length=64)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ElectionManager()

    class Meta:
        ordering = ["code"]
        base_manager_name = "objects"  # `municipality.election` and the like defer the definition too
        verbose_name = _("election")
        verbose_name_plural = _("elections")
        constraints = [
            models.CheckConstraint(
                condition=Q(polls_open__lt=models.F("polls_close")),
                name="election_poll_hours_ordered",
            )
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def name(self) -> str:
        return localized(self, "name")

    @property
    def definition(self) -> Any:
        """The definition as loaded: a new object on every read (callers may change it)."""
        return definition_unpack(self.definition_packed)


class Round(models.Model):
    class Kind(models.TextChoices):
        FIRST = "first", _("first round")
        RUNOFF = "runoff", _("runoff")
        REPEAT = "repeat", _("repeat voting")

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="rounds")
    code = models.CharField(_("code"), max_length=40)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    date = models.DateField(_("date"))
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    name_sq = models.CharField(_("name (Albanian)"), max_length=200, blank=True)
    name_sr = models.CharField(_("name (Serbian)"), max_length=200, blank=True)

    class Meta:
        ordering = ["election_id", "date", "code"]
        verbose_name = _("round")
        verbose_name_plural = _("rounds")
        constraints = [
            models.UniqueConstraint(fields=["election", "code"], name="round_code_unique"),
            models.CheckConstraint(condition=Q(kind__in=["first", "runoff", "repeat"]), name="round_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.election.code}/{self.code}"


class Municipality(models.Model):
    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="municipalities")
    code = models.CharField(_("code"), max_length=40)
    cec_id = models.PositiveIntegerField(_("commission id"), null=True, blank=True)
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_sq = models.CharField(_("name (Albanian)"), max_length=200)
    name_sr = models.CharField(_("name (Serbian)"), max_length=200)
    area = models.CharField(_("area"), max_length=40, blank=True)
    assembly_seats = models.PositiveSmallIntegerField(_("assembly seats"))

    class Meta:
        ordering = ["election_id", "code"]
        verbose_name = _("municipality")
        verbose_name_plural = _("municipalities")
        constraints = [
            models.UniqueConstraint(fields=["election", "code"], name="municipality_code_unique"),
            models.CheckConstraint(condition=Q(assembly_seats__gte=1), name="municipality_seats_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name_en}"

    @property
    def name(self) -> str:
        return localized(self, "name")


class PollingCentre(models.Model):
    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="+")
    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="centres")
    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        ordering = ["election_id", "code"]
        verbose_name = _("polling centre")
        verbose_name_plural = _("polling centres")
        constraints = [models.UniqueConstraint(fields=["election", "code"], name="centre_code_unique")]

    def __str__(self) -> str:
        return self.code


class PollingStation(models.Model):
    class Kind(models.TextChoices):
        REGULAR = "regular", _("regular")
        DUAL = "dual", _("dual (conditional ballots)")
        CENTRAL = "central", _("central counting unit")

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="+")
    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="stations")
    centre = models.ForeignKey(PollingCentre, on_delete=models.CASCADE, related_name="stations")
    code = models.CharField(_("code"), max_length=40)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.REGULAR)
    registered_voters = models.IntegerField(_("registered voters"))
    registered_estimated = models.BooleanField(_("registered voters estimated"), default=False)

    class Meta:
        ordering = ["election_id", "code"]
        verbose_name = _("polling station")
        verbose_name_plural = _("polling stations")
        constraints = [
            models.UniqueConstraint(fields=["election", "code"], name="station_code_unique"),
            models.CheckConstraint(condition=Q(registered_voters__gte=0), name="station_registered_nonnegative"),
            models.CheckConstraint(condition=Q(kind__in=["regular", "dual", "central"]), name="station_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.code


class PoliticalEntity(models.Model):
    class Kind(models.TextChoices):
        PARTY = "party", _("political party")
        COALITION = "coalition", _("coalition")
        INITIATIVE = "initiative", _("citizens' initiative")
        INDEPENDENT = "independent", _("independent candidate")

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="entities")
    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=300)
    short_name = models.CharField(_("short name"), max_length=60, blank=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    cec_id = models.PositiveIntegerField(_("commission id"), null=True, blank=True)
    aliases = models.JSONField(_("other spellings"), default=list, blank=True)

    class Meta:
        ordering = ["election_id", "code"]
        verbose_name = _("political entity")
        verbose_name_plural = _("political entities")
        constraints = [
            models.UniqueConstraint(fields=["election", "code"], name="entity_code_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=["party", "coalition", "initiative", "independent"]),
                name="entity_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.short_name or self.code


class Candidate(models.Model):
    class Office(models.TextChoices):
        MAYOR = "mayor", _("mayor")
        ASSEMBLY = "assembly", _("municipal assembly")

    class Gender(models.TextChoices):
        FEMALE = "F", _("female")
        MALE = "M", _("male")
        OTHER = "X", _("other")

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="+")
    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="candidates")
    entity = models.ForeignKey(PoliticalEntity, on_delete=models.PROTECT, related_name="candidates")
    office = models.CharField(_("office"), max_length=10, choices=Office.choices)
    name = models.CharField(_("name"), max_length=200)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    # Assembly: the position on the entity's list. Mayor: the position on the ballot.
    position = models.PositiveIntegerField(_("position"))
    position_estimated = models.BooleanField(_("position estimated"), default=False)

    class Meta:
        ordering = ["municipality_id", "office", "entity_id", "position"]
        verbose_name = _("candidate")
        verbose_name_plural = _("candidates")
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "office", "entity", "position"],
                condition=Q(office="assembly"),
                name="candidate_list_position_unique",
            ),
            models.UniqueConstraint(
                fields=["municipality", "name"],
                condition=Q(office="mayor"),
                name="candidate_mayor_unique",
            ),
            models.CheckConstraint(condition=Q(position__gte=1), name="candidate_position_positive"),
            models.CheckConstraint(condition=Q(office__in=["mayor", "assembly"]), name="candidate_office_valid"),
            models.CheckConstraint(condition=Q(gender__in=["F", "M", "X", ""]), name="candidate_gender_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class Contest(models.Model):
    class Kind(models.TextChoices):
        MAYOR = "mayor", _("mayor")
        ASSEMBLY = "assembly", _("municipal assembly")

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="contests")
    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="contests")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    seats = models.PositiveSmallIntegerField(_("seats"))
    # A runoff or a repeat vote continues another contest: the runoff decides its mayoralty;
    # a repeat vote's forms replace the annulled stations' forms in the parent's results.
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="continuations")
    entities: models.ManyToManyField[PoliticalEntity, ContestEntity] = models.ManyToManyField(
        PoliticalEntity, through="ContestEntity", related_name="contests"
    )
    candidates: models.ManyToManyField[Candidate, ContestCandidate] = models.ManyToManyField(
        Candidate, through="ContestCandidate", related_name="contests"
    )

    class Meta:
        ordering = ["round_id", "municipality_id", "kind"]
        verbose_name = _("contest")
        verbose_name_plural = _("contests")
        constraints = [
            models.UniqueConstraint(fields=["round", "municipality", "kind"], name="contest_unique"),
            models.CheckConstraint(condition=Q(seats__gte=1), name="contest_seats_positive"),
            models.CheckConstraint(condition=~Q(kind="mayor") | Q(seats=1), name="contest_mayor_one_seat"),
        ]

    def __str__(self) -> str:
        return f"{self.municipality.code} {self.kind} ({self.round.code})"


class ContestEntity(models.Model):
    contest = models.ForeignKey(Contest, on_delete=models.CASCADE)
    entity = models.ForeignKey(PoliticalEntity, on_delete=models.PROTECT)
    ballot_position = models.PositiveSmallIntegerField(_("ballot position"))

    class Meta:
        ordering = ["contest_id", "ballot_position"]
        constraints = [models.UniqueConstraint(fields=["contest", "entity"], name="contest_entity_unique")]

    def __str__(self) -> str:
        return f"{self.contest_id}:{self.entity_id}"


class ContestCandidate(models.Model):
    contest = models.ForeignKey(Contest, on_delete=models.CASCADE)
    candidate = models.ForeignKey(Candidate, on_delete=models.PROTECT)
    ballot_position = models.PositiveSmallIntegerField(_("ballot position"))

    class Meta:
        ordering = ["contest_id", "ballot_position"]
        constraints = [models.UniqueConstraint(fields=["contest", "candidate"], name="contest_candidate_unique")]

    def __str__(self) -> str:
        return f"{self.contest_id}:{self.candidate_id}"


def localized(obj: object, field: str) -> str:
    """The name in the active language, falling back to English."""
    lang = (get_language() or "en")[:2]
    value = getattr(obj, f"{field}_{lang}", "") if lang in {"sq", "sr"} else ""
    return str(value or getattr(obj, f"{field}_en"))
