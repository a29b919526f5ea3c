"""GraphQL: editions (``exhibitionEditions``) with nested exhibitors, visitors and metrics at a pinned SQL cost, Customer fields,
and the same lead privacy as REST."""
from __future__ import annotations


from tests.plugins.exhibitions.conftest import BASE, ok, participate, register
from api.testing import graphql_list, pin_statements

NESTED = """
query($first: Int!) {
  exhibitionEditions(first: $first) {
    totalCount
    edges { node {
      name startsOn exhibition { name }
      exhibitors { totalCount edges { node { status isKey categories company { name } } } }
      visitors(first: 5) { edges { node { badgeCode category visitor { name } } } }
      visitorCount
      metrics { exhibitors visitors showUpRate rebookingRate churnRate }
    } }
  }
}
"""


def data(body):
    assert body.get("errors") is None, body
    return body["data"]


def grow_editions(show, have, want):
    """Editions ``have..want-1`` (the first two are the fixture's), each with two exhibitors and three
    scanned visitors; exhibitor beta and gamma alternate, so every edition after the first re-books half."""
    if "gamma" not in show.companies:
        show.companies["gamma"] = ok(show.api.post("/api/v1/customers", json={"name": "Gamma Tools"}), 201)
    for i in range(have, want):
        if i < 2:
            edition = (show.first, show.second)[i]
        else:
            year = 2025 + i
            edition = ok(show.api.post(f"{BASE}/editions", json={
                "exhibition_id": show.exhibition["id"], "name": f"CMF {year}", "starts_on": f"{year}-05-10",
                "ends_on": f"{year}-05-12"}), 201)
        participate(show, "alpha", edition)
        participate(show, "beta" if i % 2 else "gamma", edition, status="confirmed")
        for n in range(3):
            reg = register(show, edition, f"Visitor {i}-{n}")
            ok(show.api.post(f"{BASE}/editions/{edition['id']}/scans", json={"scans": [
                {"badge_code": reg["badge_code"], "scanned_at": f"{edition['starts_on']}T02:00:00Z"}]}))


def test_nested_edition_query_costs_a_fixed_number_of_statements(show, count_queries):
    # auth 1, editions page 2, exhibitors 1 (a window) + their count 1 + their companies 2, visitors 1 (a
    # window) + their people 2, visitor counts 1, metrics 14 — the same for 5 editions as for 50
    edges = pin_statements(count_queries, grow=lambda have, want: grow_editions(show, have, want),
                           fetch=lambda n: graphql_list(show.api.graphql(NESTED, {"first": n}),
                                                        "exhibitionEditions.edges"),
                           expected=25)
    nodes = [e["node"] for e in edges]
    assert nodes[0]["name"] == "CMF 2074" and nodes[-1]["name"] == "CMF 2025"  # newest first
    for node in nodes:
        assert node["exhibition"]["name"] == "China Machinery Fair"
        assert node["exhibitors"]["totalCount"] == 2 and len(node["exhibitors"]["edges"]) == 2
        assert node["visitorCount"] == 3 and len(node["visitors"]["edges"]) == 3
        assert node["metrics"]["visitors"] == 3 and node["metrics"]["showUpRate"] == 1.0
    assert nodes[-1]["metrics"]["rebookingRate"] is None
    assert all((n["metrics"]["rebookingRate"], n["metrics"]["churnRate"]) == (0.5, 0.5) for n in nodes[:-1])


def test_customer_fields_list_registrations_and_participations(show):
    grow_editions(show, 0, 2)
    reg = ok(show.api.get(f"{BASE}/registrations?edition_id={show.first['id']}"))[0]
    body = data(show.api.graphql("""query($v: ID!, $c: ID!) {
        visitor: customer(id: $v) { registrations { edges { node { badgeCode category } } } }
        company: customer(id: $c) { exhibitorParticipations(last: 5) { totalCount
            edges { node { status editionId } } } } }""",
                                 {"v": reg["visitor_id"], "c": show.companies["alpha"]["id"]}))
    assert [e["node"] for e in body["visitor"]["registrations"]["edges"]] == [
        {"badgeCode": reg["badge_code"], "category": "BUYER"}]
    participations = body["company"]["exhibitorParticipations"]
    assert participations["totalCount"] == 2
    assert sorted(e["node"]["editionId"] for e in participations["edges"]) == sorted(
        [show.first["id"], show.second["id"]])


def test_exhibitor_reads_only_its_leads_and_allowed_fields_over_graphql(show):
    a = participate(show, "alpha", show.first)
    b = participate(show, "beta", show.first)
    reg = register(show, show.first, "Private Person")
    captured = data(show.as_("alpha").graphql("""mutation($input: ExhibitionLeadCreateInput!) {
        captureExhibitionLead(input: $input) { id rating visitor { name email phone badgeCode } } }""",
                                              {"input": {"participationId": a["id"], "badgeCode": reg["badge_code"],
                                                         "rating": "HOT"}}))["captureExhibitionLead"]
    assert captured["visitor"] == {"name": "Private Person", "email": None, "phone": None,
                                   "badgeCode": reg["badge_code"]}
    query = "query($id: ID!) { exhibitionLead(id: $id) { id visitor { email } } }"
    denied = show.as_("beta").graphql(query, {"id": captured["id"]})
    assert denied["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert data(show.as_("beta").graphql("{ exhibitionLeads { totalCount } }"))["exhibitionLeads"]["totalCount"] == 0
    assert data(show.api.graphql(query, {"id": captured["id"]}))["exhibitionLead"]["visitor"]["email"] == \
        "private.person@buyer.example"
    # nor does an exhibitor read visitors or figures through an edition
    seen = data(show.as_("alpha").graphql(
        "query($id: ID!) { exhibitionEdition(id: $id) { visitors { edges { node { email } } } visitorCount "
        "metrics { visitors } } }", {"id": show.first["id"]}))["exhibitionEdition"]
    assert seen == {"visitors": {"edges": []}, "visitorCount": 0, "metrics": None}
    stale = show.as_("alpha").graphql("""mutation($id: ID!) {
        updateExhibitionLead(id: $id, input: {version: 99, rating: COLD}) { rating } }""", {"id": captured["id"]})
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"
    # beta is booked (paid) on the same edition, and still reads no lead of alpha's
    assert (b["status"], b["company_id"], b["edition_id"]) == ("paid", show.companies["beta"]["id"], show.first["id"])


def test_participation_status_mutation_uses_the_workflow(show):
    p = participate(show, "alpha", show.first, status="applied")
    moved = data(show.api.graphql("""mutation($id: ID!) { changeExhibitionParticipationStatus(id: $id, to: CONFIRMED) {
        status } }""", {"id": p["id"]}))
    assert moved["changeExhibitionParticipationStatus"]["status"] == "CONFIRMED"
    bad = show.api.graphql("""mutation($id: ID!) { changeExhibitionParticipationStatus(id: $id, to: APPLIED) { status } }""",
                           {"id": p["id"]})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
