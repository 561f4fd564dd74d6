"""Who may touch results: the only way the results API reaches protected rows.

| action                                   | admin | official          | chair / device | clerk | auditor | panel |
|------------------------------------------|-------|-------------------|----------------|-------|---------|-------|
| preliminary form (the night's count)     | all   | own municipality  | own station    | -     | -       | -     |
| blind entry of the paper form            | all   | -                 | -              | all   | -       | -     |
| third entry settling two entries         | all   | -                 | -              | -     | all     | -     |
| quarantine queue, decisions              | all   | read own municipality | -          | -     | all     | -     |
| bulk submission and imports              | all   | -                 | -              | -     | -       | -     |
| file and decide complaints               | all   | -                 | -              | -     | -       | all   |
| annulments, certification                | all   | -                 | -              | -     | -       | -     |
| results (GET /results/...)               | public                                                               |
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from tallyroom.accounts.models import DeviceToken, Role
from tallyroom.elections.models import Election
from tallyroom.polling.access import Principal, Reporter, _grants, _user
from tallyroom.polling.errors import Forbidden


def access_role(
    principal: Principal, election: Election, roles: tuple[Role, ...], *, municipality_id: int | None = None
) -> Reporter:
    """The first of `roles` the principal holds in the election (an official only in its municipality)."""
    if isinstance(principal, DeviceToken):
        raise Forbidden(_("A station device may only submit its own station's preliminary form."))
    user = _user(principal)
    grants = _grants(user, election)
    for role in roles:
        for grant in grants:
            if grant.role != role:
                continue
            if role == Role.OFFICIAL and grant.municipality_id != municipality_id:
                continue
            return Reporter(user, str(role))
    raise Forbidden(_("Your role does not allow this."))
