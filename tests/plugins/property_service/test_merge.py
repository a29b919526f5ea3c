"""Merging duplicate customers (issue #19) in property service: the duplicate's occupancies and service
requests move to the survivor, audited; the property centre (a plugin role) may not merge."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from core.models import AuditEntry
from plugins.property_service.models import PsOccupancy, PsRequest


def test_occupancies_and_requests_of_the_duplicate_move_to_the_survivor(ps):
    request = ps.new_request(requester_id=str(ps.tenant.id), unit_id=str(ps.unit2.id))
    response = ps.as_("admin").post(f"/api/v1/customers/{ps.owner.id}/merge", json={"merged_id": str(ps.tenant.id)})
    assert response.status_code == 200, response.get_json()
    with ps.runtime.database.unit_of_work() as s:
        assert set(s.scalars(select(PsOccupancy.customer_id))) == {ps.owner.id}
        assert s.get(PsRequest, uuid.UUID(request["id"])).requester_id == ps.owner.id
        moved = s.scalars(select(AuditEntry).where(AuditEntry.record_id == uuid.UUID(request["id"]),
                                                   AuditEntry.action == "property_service_request.updated")).one()
        assert moved.changes == {"requester_id": [str(ps.tenant.id), str(ps.owner.id)]}
    read = ps.as_("admin").get(f"/api/v1/property-service/requests/{request['id']}")
    assert read.status_code == 200 and read.get_json()["requester_id"] == str(ps.owner.id)


def test_the_property_centre_may_not_merge(ps):
    response = ps.as_("centre").post(f"/api/v1/customers/{ps.owner.id}/merge", json={"merged_id": str(ps.tenant.id)})
    assert response.status_code == 403
    assert ps.as_("centre").get("/api/v1/customers/duplicates").status_code == 403
