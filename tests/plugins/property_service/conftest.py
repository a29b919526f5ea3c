"""Fixtures of the property-service tests: a centre user, two service teams with managers and members,
the standard kinds, an estate with a building and units, and an owner linked to a unit."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from api.testing import Api


@dataclass
class Estate:
    api: Api
    runtime: object
    people: object
    centre: object
    eng_manager: object
    eng: object
    eng2: object
    sec: object
    engineering: object
    security: object
    estate: object
    building: object
    unit: object
    unit2: object
    owner: object
    tenant: object
    rep_customer: object

    def as_(self, who):
        return self.api.as_(who)

    def new_request(self, who="centre", **data):
        body = {"kind": "repair", "requester_id": str(self.owner.id), "unit_id": str(self.unit.id),
                "description": "The kitchen tap drips.", **data}
        response = self.api.as_(who).post("/api/v1/property-service/requests", json=body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def act(self, request_id, action, who="centre", expect=200, **body):
        response = self.api.as_(who).post(f"/api/v1/property-service/requests/{request_id}/{action}", json=body)
        assert response.status_code == expect, response.get_json()
        return response.get_json()


def monday(hour=10, minute=0, day=2):
    """A Monday in March 2026 (2, 9, 16 …) at a Beijing hour, as UTC."""
    from zoneinfo import ZoneInfo

    return datetime(2026, 3, day, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(timezone.utc)


@pytest.fixture
def ps(runtime, people, tokens, client) -> Estate:
    from core.services import customers, users
    from plugins.property_service import services

    with runtime.database.unit_of_work():
        def user(email, name, role):
            return users.create_user(None, {"email": email, "name": name, "role": role})

        centre = user("centre@example.com", "Cece Centre", "property_centre")
        eng_manager = user("engmgr@example.com", "Egon Manager", "property_staff")
        eng = user("eng@example.com", "Emil Engineer", "property_staff")
        eng2 = user("eng2@example.com", "Erna Engineer", "property_staff")
        sec = user("sec@example.com", "Sam Security", "property_staff")
        admin = people.admin
        engineering = services.teams.create(admin, {"code": "engineering", "name": "Engineering", "name_zh_cn": "工程组",
                                                    "manager_id": str(eng_manager.id),
                                                    "member_ids": [str(eng.id), str(eng2.id)]})
        security = services.teams.create(admin, {"code": "security", "name": "Security", "name_zh_cn": "护卫组",
                                                 "member_ids": [str(sec.id)]})
        services.ensure_default_kinds(admin)
        estate = services.estates.create(admin, {"name": "Garden Court", "address": "1 Garden Road",
                                                 "lat": 31.2304, "long": 121.4737})
        building = services.buildings.create(admin, {"estate_id": str(estate.id), "name": "Building 3",
                                                     "address": "3 Garden Road", "lat": 31.2305, "long": 121.4738})
        unit = services.units.create(admin, {"building_id": str(building.id), "unit": "2", "room": "1203",
                                             "area": "89.50"})
        unit2 = services.units.create(admin, {"building_id": str(building.id), "unit": "1", "room": "501"})
        owner = customers.create(centre, {"kind": "person", "name": "Wang Fang"})
        tenant = customers.create(centre, {"kind": "person", "name": "Li Lei"})
        rep_customer = customers.create(people.rep, {"kind": "person", "name": "Zhao Min"})
        services.occupancies.create(centre, {"unit_id": str(unit.id), "customer_id": str(owner.id),
                                             "relation": "owner", "start_date": "2020-05-01"})
        services.occupancies.create(centre, {"unit_id": str(unit2.id), "customer_id": str(tenant.id),
                                             "relation": "tenant"})
        more = {name: users.create_token(u, "test")[1] for name, u in
                (("centre", centre), ("eng_manager", eng_manager), ("eng", eng), ("eng2", eng2), ("sec", sec))}
    api = Api(client, {**tokens, **more}).as_("admin")
    return Estate(api, runtime, people, centre, eng_manager, eng, eng2, sec, engineering, security, estate, building,
                  unit, unit2, owner, tenant, rep_customer)
