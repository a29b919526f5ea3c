"""core.demo.create_demo_user: the plugins' demo accounts sign in with their published passwords, while
each demo password is hashed once, not once per account; the password rules still apply."""
from __future__ import annotations

import pytest

from core.demo import create_demo_user
from core.errors import ValidationFailed
from core.services import users


def test_demo_accounts_with_one_password_share_its_hash_and_sign_in(runtime, people):
    with runtime.database.unit_of_work():
        one, two = (create_demo_user(people.admin, {"email": f"staff{n}@demo.example", "name": f"Staff {n}",
                                                    "role": "rep", "password": "shared-demo-password"})
                    for n in (1, 2))
        other = create_demo_user(people.admin, {"email": "boss@demo.example", "name": "Boss", "role": "manager",
                                                "password": "another-demo-password"})
        assert one.password_hash == two.password_hash != other.password_hash
    with runtime.database.unit_of_work():
        assert users.authenticate("staff2@demo.example", "shared-demo-password").email == "staff2@demo.example"
        assert users.authenticate("boss@demo.example", "another-demo-password").role == "manager"


def test_a_demo_account_is_held_to_the_password_rules(runtime, people):
    with runtime.database.unit_of_work():
        with pytest.raises(ValidationFailed) as refused:
            create_demo_user(people.admin, {"email": "short@demo.example", "name": "Short", "role": "rep",
                                            "password": "short"})
    assert "password" in refused.value.fields
