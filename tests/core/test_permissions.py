"""The core's permission helpers at their edges (core/services/permissions.py); the rules themselves are
tested where users meet them, through REST and GraphQL."""
from __future__ import annotations

import pytest

from core.errors import Unauthenticated
from core.services.permissions import require_actor


class _NotAUser:
    """Something a caller might pass by mistake: no ``is_authenticated``, no ``is_active``."""

    role = "admin"


def test_only_a_signed_in_active_user_is_an_actor(people):
    from flask_login import AnonymousUserMixin

    assert require_actor(people.rep) is people.rep
    for nobody in (None, AnonymousUserMixin(), _NotAUser()):
        with pytest.raises(Unauthenticated):
            require_actor(nobody)
