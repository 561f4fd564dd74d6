"""Officials' passwords are hashed with Argon2id."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from tallyroom import settings as project_settings


@pytest.mark.django_db
def test_new_passwords_use_argon2(settings: Any) -> None:
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    user = User.objects.create_user("official-x", password="a long pass phrase 2013")
    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password("a long pass phrase 2013")
    assert not user.check_password("wrong")
