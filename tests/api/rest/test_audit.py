"""Every change leaves an audit entry and a domain event in the same transaction."""
from __future__ import annotations

from sqlalchemy import func, select

from core.models import AuditEntry, OutboxEvent
from tests.api.rest.test_customers import create


def test_create_update_delete_restore_are_audited_field_by_field(api, people):
    body = create(api, region="North")
    url = f"/api/v1/customers/{body['id']}"
    api.as_("rep").patch(url, json={"version": 1, "region": "South", "name": "Acme Trading"})
    api.as_("rep").delete(url)
    api.as_("rep").post(f"{url}/restore")
    trail = api.as_("admin").get(f"/api/v1/audit?record_type=customer&record_id={body['id']}").get_json()
    assert [e["action"] for e in trail] == ["customer.restored", "customer.deleted", "customer.updated",
                                           "customer.created"]
    assert trail[2]["changes"] == {"region": ["North", "South"]}  # the unchanged name is not listed
    assert trail[3]["changes"]["name"] == [None, "Acme Trading"]
    assert all(e["actor_id"] == str(people.rep.id) for e in trail)


def test_each_change_emits_a_domain_event_in_the_outbox(api, runtime):
    body = create(api)
    api.as_("rep").post("/api/v1/interactions", json={"customer_id": body["id"], "kind": "call"})
    with runtime.database.unit_of_work() as s:
        names = [e.name for e in s.scalars(select(OutboxEvent).order_by(OutboxEvent.at))]
        event = s.scalars(select(OutboxEvent).where(OutboxEvent.name == "interaction.created")).one()
    assert names == ["customer.created", "interaction.created"]
    assert event.payload["customer_id"] == body["id"] and event.payload["kind"] == "call"


def test_a_failed_request_leaves_no_audit_entry_or_event(api, runtime):
    api.as_("rep").post("/api/v1/customers", json={"name": "x" * 500})
    with runtime.database.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0
        assert s.scalar(select(func.count()).select_from(OutboxEvent)) == 0


def test_only_admins_read_the_audit_trail(api):
    assert api.as_("manager").get("/api/v1/audit").status_code == 403
    assert api.as_("admin").get("/api/v1/audit").status_code == 200


def test_a_tag_edit_bumps_the_version_and_is_audited_and_resending_the_same_tags_is_not(api):
    body = create(api, tags=["vip"])
    url = f"/api/v1/customers/{body['id']}"
    edited = api.as_("rep").patch(url, json={"version": 1, "tags": ["vip", "export"]})
    assert edited.status_code == 200 and edited.get_json()["version"] == 2
    assert edited.get_json()["tags"] == ["export", "vip"]
    same = api.as_("rep").patch(url, json={"version": 2, "tags": ["export", "vip"]})
    assert same.status_code == 200 and same.get_json()["version"] == 2
    trail = api.as_("admin").get(f"/api/v1/audit?record_type=customer&record_id={body['id']}").get_json()
    assert [e["action"] for e in trail] == ["customer.updated", "customer.created"]
    assert trail[0]["changes"] == {"tags": [["vip"], ["export", "vip"]]}


def test_the_trail_filters_by_record_type_and_lists_everything_without_a_filter(api):
    customer = create(api)
    contact = api.as_("rep").post("/api/v1/contacts", json={"customer_id": customer["id"], "name": "Li Lei"})
    assert contact.status_code == 201, contact.get_json()
    admin = api.as_("admin")
    only = admin.get("/api/v1/audit?record_type=contact").get_json()
    assert [(e["action"], e["record_id"]) for e in only] == [("contact.created", contact.get_json()["id"])]
    assert [e["action"] for e in admin.get("/api/v1/audit").get_json()] == ["contact.created", "customer.created"]


def test_a_change_carries_the_request_id_on_its_audit_entry_and_event_and_the_trail_filters_by_it(api, runtime):
    created = api.as_("rep").post("/api/v1/customers", json={"name": "Traced Ltd"},
                                  headers={"X-Request-Id": "lb-trace-7"})
    assert created.status_code == 201 and created.headers["X-Request-Id"] == "lb-trace-7"
    create(api, name="Someone Else")   # another request, another id

    trail = api.as_("admin").get("/api/v1/audit?request_id=lb-trace-7").get_json()
    assert [(e["action"], e["record_id"], e["request_id"]) for e in trail] == [
        ("customer.created", created.get_json()["id"], "lb-trace-7")]
    with runtime.database.unit_of_work() as s:
        event = s.scalars(select(OutboxEvent).where(OutboxEvent.request_id == "lb-trace-7")).one()
    assert (event.name, str(event.record_id)) == ("customer.created", created.get_json()["id"])

    found = api.as_("admin").graphql('{ auditEntries(filter: {requestId: "lb-trace-7"}) '
                                     '{ edges { node { action requestId } } } }')
    assert found["data"]["auditEntries"]["edges"] == [{"node": {"action": "customer.created",
                                                                "requestId": "lb-trace-7"}}]
