"""Export and erase one person (GDPR, PIPL): one document gathers the core's and every plugin's data; an
erasure leaves no name, email or phone in the records, the audit trail, the outbox or the notifications,
keeps the amounts and counts, records itself once, and is admin-only."""
from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.models import AuditEntry, CustomerAnalytics, Notification, OutboxEvent
from core.privacy import TOMBSTONE

NAME, EMAIL, PHONE, CHILD = "Wang Fang", "wang.fang@example.com", "+86 138 0013 8000", "Xiao Ming"
SECRETS = (NAME, EMAIL, PHONE, "138 0013 8000", CHILD, "1985-04-12")


def ok(response, status=200):
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


@pytest.fixture
def wang(api, runtime, people):
    """One person known to the core and to every built-in plugin, built through the API."""
    customer = ok(api.post("/api/v1/customers", json={"kind": "person", "name": NAME, "notes": f"{NAME} likes tea"}), 201)
    cid = customer["id"]
    contact = ok(api.post("/api/v1/contacts", json={"customer_id": cid, "name": NAME, "email": EMAIL,
                                                    "phone": "+86 21 0000 0000", "birthday": "1985-04-12"}), 201)
    ok(api.patch(f"/api/v1/contacts/{contact['id']}", json={"version": contact["version"], "phone": PHONE}))
    ok(api.post("/api/v1/interactions", json={"customer_id": cid, "kind": "purchase", "amount": "120.00",
                                              "subject": f"Order from {NAME}", "notes": f"Call {PHONE}",
                                              "occurred_at": "2026-01-05T10:00:00+00:00"}), 201)
    # exhibitions: a registration with her details and a survey answer
    ex = "/api/v1/exhibitions"
    show = ok(api.post(f"{ex}/exhibitions", json={"name": "Tea Expo"}), 201)
    edition = ok(api.post(f"{ex}/editions", json={"exhibition_id": show["id"], "name": "Tea Expo 2026",
                                                  "starts_on": "2026-05-10", "ends_on": "2026-05-12"}), 201)
    registration = ok(api.post(f"{ex}/registrations", json={"edition_id": edition["id"], "visitor_id": cid,
                                                            "email": EMAIL, "phone": PHONE, "job_title": "Buyer",
                                                            "company_name": "Fang Tea House"}), 201)
    ok(api.post(f"{ex}/surveys", json={"edition_id": edition["id"], "registration_id": registration["id"],
                                       "satisfaction": 4, "comment": f"{NAME}: lovely show"}), 201)
    # retail membership: a card with birthday, a child's birthday, a purchase
    rm = "/api/v1/retail-membership"
    store = ok(api.post(f"{rm}/stores", json={"code": "T01", "name": "Tea Street"}), 201)
    membership = ok(api.post(f"{rm}/memberships", json={
        "customer_id": cid, "home_store_id": store["id"], "birthday": "1985-04-12", "preferences": ["oolong"],
        "occasions": [{"kind": "child_birthday", "name": CHILD, "date": "2019-06-01"}]}), 201)
    ok(api.post(f"{rm}/purchases", json={"pos_transaction_id": "P-1", "store_code": "T01",
                                         "card_number": membership["card_number"],
                                         "occurred_at": "2026-02-01T10:00:00+00:00", "total": "300.00",
                                         "lines": [{"sku": "OOLONG-1", "category": "tea", "quantity": 1,
                                                    "unit_price": "300.00"}]}), 201)
    # property service: a repair request with her words, a photo and her address
    from plugins.property_service import services as ps

    with runtime.database.unit_of_work():
        ps.ensure_default_kinds(people.admin)
    request = ok(api.post("/api/v1/property-service/requests", json={
        "kind": "repair", "requester_id": cid, "description": f"{NAME}'s kitchen tap drips; call {PHONE}",
        "photos": ["https://photos.example/wang-fang-tap.jpg"], "address_string": "12 Garden Road, flat 1203",
        "lat": 31.23, "long": 121.47}), 201)
    return {"customer": customer, "contact": contact, "registration": registration, "membership": membership,
            "request": request}


def figures(runtime, wang, api) -> dict:
    """The numbers an erasure must not move."""
    from core.services import analytics

    with runtime.database.unit_of_work() as sess:
        analytics.refresh(trigger="test")
        row = sess.get(CustomerAnalytics, uuid.UUID(wang["customer"]["id"]))
        lifetime, transactions = row.lifetime_revenue, row.transactions
    member = ok(api.get(f"/api/v1/retail-membership/memberships/{wang['membership']['id']}"))
    timeline = ok(api.get(f"/api/v1/customers/{wang['customer']['id']}/timeline?page_size=100"))
    return {"spend": member["spend_total"], "purchases": member["purchase_count"],
            "points": member.get("points_balance"), "tier": member["tier"],
            "amounts": sorted(Decimal(i["amount"]) for i in timeline if i.get("amount") is not None),
            "timeline": len(timeline), "lifetime_revenue": lifetime, "transactions": transactions}


def trail_text(runtime) -> str:
    """Every audit entry, outbox event and notification in the database, as text."""
    with runtime.database.unit_of_work() as sess:
        rows = [(a.action, a.changes) for a in sess.scalars(select(AuditEntry))]
        rows += [(e.name, e.payload) for e in sess.scalars(select(OutboxEvent))]
        rows += [(n.title, n.body, n.data) for n in sess.scalars(select(Notification))]
    return json.dumps(rows, ensure_ascii=False, default=str)


def test_export_gathers_the_core_and_every_plugin(api, wang):
    doc = ok(api.get(f"/api/v1/privacy/export?person={EMAIL}"))
    assert doc["person"] == {"kind": "customer", "id": wang["customer"]["id"], "customer_ids": [wang["customer"]["id"]],
                             "contact_ids": [wang["contact"]["id"]]}
    core = doc["components"]["core"]
    assert [c["name"] for c in core["customer"]] == [NAME]
    assert core["contact"][0]["email"] == EMAIL and core["contact"][0]["phone"] == PHONE
    assert "120.00" in [i["amount"] for i in core["interaction"]]
    assert doc["components"]["exhibitions"]["exhibitions_registration"][0]["phone"] == PHONE
    assert doc["components"]["exhibitions"]["exhibitions_survey_answer"][0]["comment"] == f"{NAME}: lovely show"
    retail = doc["components"]["retail_membership"]
    assert retail["retail_membership_membership"][0]["birthday"] == "1985-04-12"
    assert [o["name"] for o in retail["retail_membership_occasion"]] == [CHILD]
    assert [p["total"] for p in retail["retail_membership_purchase"]] == ["300.00"]
    assert doc["components"]["property_service"]["property_service_request"][0]["description"].startswith(NAME)
    assert any(a["action"] == "contact.updated" and a["changes"]["phone"][1] == PHONE for a in doc["audit_trail"])
    assert any(e["name"] == "customer.created" for e in doc["events"])
    # by id the same person is found; the export itself is audited
    assert ok(api.get(f"/api/v1/privacy/export?person={wang['contact']['id']}"))["person"]["id"] == wang["customer"]["id"]
    entries = ok(api.get(f"/api/v1/audit?record_id={wang['customer']['id']}&page_size=100"))
    assert any(e["action"] == "customer.exported" for e in entries)


def test_erase_leaves_no_personal_data_and_keeps_the_figures(api, runtime, wang, people):
    before = figures(runtime, wang, api)
    assert all(s in trail_text(runtime) for s in (NAME, EMAIL, PHONE))
    report = ok(api.post("/api/v1/privacy/erase?wait=true", json={"person": EMAIL, "reason": "Request of 2026-03-01 by letter"}))
    assert report["already_erased"] is False
    assert report["erased"]["core"]["contact"] == 4
    assert report["erased"]["exhibitions"]["exhibitions_registration"] == 6  # with the normalised email_key, phone_key
    assert report["trail"]["audit_entry"] > 0 and report["trail"]["outbox_event"] > 0

    text = trail_text(runtime)
    assert [s for s in SECRETS if s in text] == []
    assert ok(api.get(f"/api/v1/customers/{wang['customer']['id']}"))["name"] == TOMBSTONE
    contact = ok(api.get(f"/api/v1/contacts/{wang['contact']['id']}"))
    assert (contact["name"], contact["email"], contact["phone"], contact["birthday"]) == (TOMBSTONE, TOMBSTONE,
                                                                                          TOMBSTONE, None)
    doc = ok(api.get(f"/api/v1/privacy/export?person={wang['customer']['id']}"))
    assert [s for s in SECRETS if s in json.dumps(doc, ensure_ascii=False)] == []
    request = doc["components"]["property_service"]["property_service_request"][0]
    assert (request["photos"], request["lat"], request["kind"]) == ([], None, "repair")
    occasion = doc["components"]["retail_membership"]["retail_membership_occasion"][0]
    assert occasion["deleted_at"] is not None  # no more greetings for an erased child

    assert figures(runtime, wang, api) == before
    # an erased email finds nobody any more
    assert api.get(f"/api/v1/privacy/export?person={EMAIL}").status_code == 404


def test_the_erasure_is_recorded_once_without_personal_data_and_repeating_it_changes_nothing(api, runtime, wang, people):
    cid = wang["customer"]["id"]
    body = {"person": cid, "reason": f"Asked on 2026-03-01 ({NAME})"}
    first = ok(api.post("/api/v1/privacy/erase?wait=true", json=body))
    second = ok(api.post("/api/v1/privacy/erase?wait=true", json=body))
    assert second["already_erased"] is True and second["erased"] == {} and second["trail"] == {}
    assert second["erasure"] == first["erasure"]
    assert first["erasure"]["by"] == str(people.admin.id) and first["erasure"]["reason"] == TOMBSTONE  # it named her
    assert ok(api.get(f"/api/v1/privacy/erasures?person={cid}")) == [first["erasure"]]
    with runtime.database.unit_of_work() as sess:
        [event] = sess.scalars(select(OutboxEvent).where(OutboxEvent.name == "customer.erased")).all()
        assert event.actor_id == people.admin.id and "erased" in event.payload
        assert NAME not in json.dumps(event.payload, ensure_ascii=False)
    third = ok(api.post("/api/v1/privacy/erase?wait=true", json={"person": cid, "reason": "Asked again on 2026-04-01"}))
    assert third["already_erased"] is True


def test_free_text_that_names_nobody_is_erased_from_the_trail_by_its_field(api, runtime):
    """Long free text (a customer's notes) is found in the audit trail and the events by the field it was
    written to, not by a name in it: notes that name nobody go too."""
    health = "Allergic to peanuts; prefers calls after 6 pm"
    customer = ok(api.post("/api/v1/customers", json={"kind": "person", "name": "Zhao Min"}), 201)
    ok(api.patch(f"/api/v1/customers/{customer['id']}", json={"version": customer["version"], "notes": health}))
    assert health in trail_text(runtime)
    report = ok(api.post("/api/v1/privacy/erase?wait=true", json={"person": customer["id"], "reason": "request #8"}))
    assert report["trail"]["audit_entry"] > 0
    assert health not in trail_text(runtime)
    assert ok(api.get(f"/api/v1/customers/{customer['id']}"))["notes"] == TOMBSTONE


def test_a_contact_of_a_company_is_erased_alone(api, runtime):
    company = ok(api.post("/api/v1/customers", json={"name": "Acme Tea Ltd"}), 201)
    contact = ok(api.post("/api/v1/contacts", json={"customer_id": company["id"], "name": "Li Lei",
                                                    "email": "li.lei@acme.example", "mobile": "13900000000"}), 201)
    other = ok(api.post("/api/v1/contacts", json={"customer_id": company["id"], "name": "Han Meimei"}), 201)
    ok(api.post("/api/v1/interactions", json={"customer_id": company["id"], "contact_id": contact["id"],
                                              "kind": "call", "subject": "Li Lei asked for prices"}), 201)
    report = ok(api.post("/api/v1/privacy/erase?wait=true", json={"person": "LI.LEI@acme.example", "reason": "request #7"}))
    assert report["person"] == {"kind": "contact", "id": contact["id"]}
    assert ok(api.get(f"/api/v1/customers/{company['id']}"))["name"] == "Acme Tea Ltd"
    assert ok(api.get(f"/api/v1/contacts/{other['id']}"))["name"] == "Han Meimei"
    assert ok(api.get(f"/api/v1/contacts/{contact['id']}"))["mobile"] == TOMBSTONE
    assert [s for s in ("Li Lei", "li.lei@acme.example", "13900000000") if s in trail_text(runtime)] == []


def test_only_admins_may_export_or_erase(api, wang):
    cid = wang["customer"]["id"]
    for who in ("manager", "rep"):
        assert api.as_(who).get(f"/api/v1/privacy/export?person={cid}").status_code == 403
        assert api.as_(who).post("/api/v1/privacy/erase?wait=true", json={"person": cid, "reason": "x"}).status_code == 403
        result = api.as_(who).graphql('mutation { erasePerson(person: "%s", reason: "x") { alreadyErased } }' % cid)
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert api.as_(None).get(f"/api/v1/privacy/export?person={cid}").status_code == 401
    assert ok(api.get(f"/api/v1/customers/{cid}"))["name"] == NAME


def test_bad_requests_name_the_field(api, wang):
    response = api.post("/api/v1/privacy/erase?wait=true", json={"person": wang["customer"]["id"], "reason": ""})
    assert response.status_code == 422 and "reason" in response.get_json()["errors"]["json"]
    response = api.post("/api/v1/privacy/erase?wait=true", json={"person": wang["customer"]["id"]})   # no reason at all
    assert response.status_code == 422 and "reason" in response.get_json()["errors"]["json"]
    assert ok(api.get(f"/api/v1/customers/{wang['customer']['id']}"))["name"] == NAME
    response = api.post("/api/v1/privacy/erase?wait=true", json={"person": "nobody", "reason": "x"})
    assert response.status_code == 422 and "person" in response.get_json()["errors"]["json"]
    assert api.get("/api/v1/privacy/export?person=00000000-0000-0000-0000-000000000000").status_code == 404
    assert api.get("/api/v1/privacy/export?person=nobody@nowhere.example").status_code == 404
    ok(api.post("/api/v1/customers", json={"kind": "person", "name": "Twin"}), 201)
    twins = [ok(api.post("/api/v1/customers", json={"kind": "person", "name": f"Twin {i}"}), 201) for i in range(2)]
    for twin in twins:
        ok(api.post("/api/v1/contacts", json={"customer_id": twin["id"], "name": "T", "email": "twins@example.com"}), 201)
    response = api.get("/api/v1/privacy/export?person=twins@example.com")
    assert response.status_code == 422 and twins[0]["id"] in response.get_json()["errors"]["json"]["person"][0]


def test_graphql_exports_and_erases(api, wang):
    cid = wang["customer"]["id"]
    result = api.graphql("query($p: String!) { privacyExport(person: $p) }", {"p": EMAIL})
    assert "errors" not in result, result
    assert result["data"]["privacyExport"]["components"]["core"]["customer"][0]["name"] == NAME
    result = api.graphql("""mutation($p: String!, $r: String!) { erasePerson(person: $p, reason: $r) {
        person erased alreadyErased erasure { by reason } } }""", {"p": cid, "r": "request #9"})
    assert "errors" not in result, result
    report = result["data"]["erasePerson"]
    assert report["person"] == {"kind": "customer", "id": cid} and report["alreadyErased"] is False
    assert report["erasure"]["reason"] == "request #9"
    again = api.graphql('query { privacyErasures(filter: {person: "%s"}) { totalCount edges { node { reason } } } }' % cid)
    assert again["data"]["privacyErasures"] == {"totalCount": 1, "edges": [{"node": {"reason": "request #9"}}]}


def test_cli_exports_and_erases(app, api, runtime, wang, tmp_path):
    from click.testing import CliRunner

    from api.cli import build_cli

    cli = build_cli(app)
    out = tmp_path / "wang.json"
    result = CliRunner().invoke(cli, ["privacy", "export", EMAIL, "--as", "admin@example.com", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["components"]["core"]["customer"][0]["name"] == NAME
    denied = CliRunner().invoke(cli, ["privacy", "erase", EMAIL, "--reason", "x", "--as", "rep@example.com"])
    assert denied.exit_code == 1 and "admin" in denied.output
    result = CliRunner().invoke(cli, ["privacy", "erase", EMAIL, "--reason", "letter of 2026-03-01",
                                      "--as", "admin@example.com"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Erased ")
    again = CliRunner().invoke(cli, ["privacy", "erase", wang["customer"]["id"], "--reason", "again",
                                     "--as", "admin@example.com"])
    assert again.exit_code == 0 and again.output.startswith("Nothing left to erase")
    with runtime.database.unit_of_work():
        assert NAME not in trail_text(runtime)
