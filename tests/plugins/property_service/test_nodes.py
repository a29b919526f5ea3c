"""node(id:) finds every property service record type within the caller's scope (null outside it)."""
from __future__ import annotations

from sqlalchemy import select

NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"


def test_node_reads_each_property_type_within_scope(ps):
    from plugins.property_service.models import PsOccupancy

    request = ps.new_request()
    with ps.runtime.database.unit_of_work() as session:
        occupancy = session.scalars(select(PsOccupancy).where(PsOccupancy.unit_id == ps.unit.id)).first()
        ids = {"PropertyBuilding": str(ps.building.id), "PropertyUnit": str(ps.unit.id),
               "PropertyOccupancy": str(occupancy.id), "PropertyTeam": str(ps.engineering.id),
               "PropertyServiceRequest": request["id"]}
    names = list(ids)
    query = {"ids": [ids[n] for n in names]}

    def seen(who):
        body = ps.as_(who).graphql(NODES, query)
        assert not body.get("errors"), body["errors"]
        return [n and n["__typename"] for n in body["data"]["nodes"]]

    assert seen("admin") == names
    assert seen("centre") == names
    # a sales rep sees the estate's reference data, not the owner's occupancy nor the request
    assert seen("rep") == ["PropertyBuilding", "PropertyUnit", None, "PropertyTeam", None]
