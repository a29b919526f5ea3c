"""GraphQL: the exhibitions' lists take a typed ``orderBy`` — the nested ``Customer.registrations``,
``Customer.exhibitorParticipations``, ``ExhibitionEdition.exhibitors`` and ``ExhibitionEdition.visitors`` the
same input as their root lists, ``exhibitionCheckIns`` its own (with its conditions in one ``filter``) — and
keep their order when it is not given."""
from __future__ import annotations

from tests.plugins.exhibitions.conftest import BASE, ok, participate, register

ASC, DESC = "ASC", "DESC"


def data(body):
    assert body.get("errors") is None, body
    return body["data"]


def third_edition(show):
    return ok(show.api.post(f"{BASE}/editions", json={
        "exhibition_id": show.exhibition["id"], "name": "CMF 2027", "starts_on": "2027-05-10",
        "ends_on": "2027-05-12"}), 201)


def order(field, direction=ASC):
    return [{"field": field, "direction": direction}]


# --- participations --------------------------------------------------------------------------------

COMPANY = """query($id: ID!, $order: [ExhibitionParticipationOrder!]) { customer(id: $id) {
  exhibitorParticipations(orderBy: $order) { edges { node { editionId status } } } } }"""

EXHIBITORS = """query($id: ID!, $order: [ExhibitionParticipationOrder!]) { exhibitionEdition(id: $id) {
  exhibitors(orderBy: $order) { edges { node { status company { name } } } } } }"""


def test_a_companys_participations_follow_order_by_and_stay_oldest_first_without_it(show):
    third = third_edition(show)
    editions = {show.first["id"]: "2025", show.second["id"]: "2026", third["id"]: "2027"}
    for edition, status in ((show.first, "paid"), (show.second, "applied"), (third, "confirmed")):
        participate(show, "alpha", edition, status=status)

    def years(order_by=None):
        edges = data(show.api.graphql(COMPANY, {"id": show.companies["alpha"]["id"], "order": order_by}))[
            "customer"]["exhibitorParticipations"]["edges"]
        return [editions[e["node"]["editionId"]] for e in edges]

    assert years() == ["2025", "2026", "2027"]                       # oldest first, as before
    assert years(order("STATUS")) == ["2026", "2027", "2025"]        # applied, confirmed, paid
    assert years(order("STATUS", DESC)) == ["2025", "2027", "2026"]
    assert years(order("CREATED_AT", DESC)) == ["2027", "2026", "2025"]


def test_an_editions_exhibitors_follow_order_by_and_stay_oldest_first_without_it(show):
    show.companies["gamma"] = ok(show.api.post("/api/v1/customers", json={"name": "Gamma Tools"}), 201)
    for key, status in (("alpha", "paid"), ("beta", "applied"), ("gamma", "confirmed")):
        participate(show, key, show.first, status=status)

    def names(order_by=None):
        edges = data(show.api.graphql(EXHIBITORS, {"id": show.first["id"], "order": order_by}))[
            "exhibitionEdition"]["exhibitors"]["edges"]
        return [e["node"]["company"]["name"].split()[0] for e in edges]

    assert names() == ["Alpha", "Beta", "Gamma"]
    assert names(order("STATUS")) == ["Beta", "Gamma", "Alpha"]
    assert names(order("STATUS", DESC)) == ["Alpha", "Gamma", "Beta"]


PAGES = """query($a: ID!, $b: ID!, $afterA: String, $afterB: String, $order: [ExhibitionParticipationOrder!]) {
  a: customer(id: $a) { exhibitorParticipations(first: 2, after: $afterA, orderBy: $order) {
    edges { node { id } } pageInfo { hasNextPage endCursor } } }
  b: customer(id: $b) { exhibitorParticipations(first: 2, after: $afterB, orderBy: $order) {
    edges { node { id } } pageInfo { hasNextPage endCursor } } } }"""


def test_paging_two_companies_participations_under_status_desc_returns_each_once(show):
    third = third_edition(show)
    made = {"a": {}, "b": {}}
    for alias, key, statuses in (("a", "alpha", ("paid", "applied", "confirmed")),
                                 ("b", "beta", ("confirmed", "paid", "applied"))):
        for edition, status in zip((show.first, show.second, third), statuses):
            made[alias][status] = participate(show, key, edition, status=status)["id"]
    variables = {"a": show.companies["alpha"]["id"], "b": show.companies["beta"]["id"],
                 "order": order("STATUS", DESC), "afterA": None, "afterB": None}
    seen, more = {"a": [], "b": []}, {"a": True, "b": True}
    for _ in range(4):
        answer = data(show.api.graphql(PAGES, variables))
        for alias in ("a", "b"):
            if not more[alias]:
                continue
            page = answer[alias]["exhibitorParticipations"]
            seen[alias] += [e["node"]["id"] for e in page["edges"]]
            more[alias] = page["pageInfo"]["hasNextPage"]
            variables["after" + alias.upper()] = page["pageInfo"]["endCursor"]
        if not any(more.values()):
            break
    by_status_desc = ("paid", "confirmed", "applied")
    assert seen == {alias: [made[alias][s] for s in by_status_desc] for alias in ("a", "b")}


# --- registrations ---------------------------------------------------------------------------------

VISITOR = """query($id: ID!, $order: [ExhibitionVisitorRegistrationOrder!]) { customer(id: $id) {
  registrations(orderBy: $order) { edges { node { badgeCode } } } } }"""

VISITORS = """query($id: ID!, $order: [ExhibitionVisitorRegistrationOrder!]) { exhibitionEdition(id: $id) {
  visitors(orderBy: $order) { edges { node { badgeCode } } } } }"""


def test_a_visitors_registrations_follow_order_by_and_stay_by_registration_time_without_it(show):
    third = third_edition(show)
    first = register(show, show.first, "Ma Li", badge_code="B-M3")
    for edition, badge in ((show.second, "B-M1"), (third, "B-M2")):
        ok(show.api.post(f"{BASE}/registrations", json={"edition_id": edition["id"], "visitor_id": first["visitor_id"],
                                                         "badge_code": badge}), 201)

    def badges(order_by=None):
        edges = data(show.api.graphql(VISITOR, {"id": first["visitor_id"], "order": order_by}))[
            "customer"]["registrations"]["edges"]
        return [e["node"]["badgeCode"] for e in edges]

    assert badges() == ["B-M3", "B-M1", "B-M2"]                   # by registration time, as before
    assert badges(order("BADGE_CODE")) == ["B-M1", "B-M2", "B-M3"]
    assert badges(order("BADGE_CODE", DESC)) == ["B-M3", "B-M2", "B-M1"]
    assert badges(order("REGISTERED_AT", DESC)) == ["B-M2", "B-M1", "B-M3"]


def test_an_editions_visitors_follow_order_by_and_stay_by_registration_time_without_it(show):
    for name, badge, category in (("Ma Li", "B-V3", "media"), ("Niu Bo", "B-V1", "vip"), ("Ou Yang", "B-V2", "buyer")):
        register(show, show.first, name, badge_code=badge, category=category)

    def badges(order_by=None):
        edges = data(show.api.graphql(VISITORS, {"id": show.first["id"], "order": order_by}))[
            "exhibitionEdition"]["visitors"]["edges"]
        return [e["node"]["badgeCode"] for e in edges]

    assert badges() == ["B-V3", "B-V1", "B-V2"]
    assert badges(order("BADGE_CODE")) == ["B-V1", "B-V2", "B-V3"]
    assert badges(order("BADGE_CODE", DESC)) == ["B-V3", "B-V2", "B-V1"]
    assert badges(order("CATEGORY")) == ["B-V2", "B-V3", "B-V1"]        # buyer, media, vip
    # two orderings of the same list in one query are two batches, each in its own order
    both = data(show.api.graphql("""query($id: ID!) { exhibitionEdition(id: $id) {
        up: visitors(orderBy: [{field: BADGE_CODE}]) { edges { node { badgeCode } } }
        down: visitors(orderBy: [{field: BADGE_CODE, direction: DESC}]) { edges { node { badgeCode } } } } }""",
                                 {"id": show.first["id"]}))["exhibitionEdition"]
    assert [[e["node"]["badgeCode"] for e in both[k]["edges"]] for k in ("up", "down")] == [
        ["B-V1", "B-V2", "B-V3"], ["B-V3", "B-V2", "B-V1"]]


# --- check-ins -------------------------------------------------------------------------------------

CHECK_INS = """query($filter: ExhibitionCheckInFilter!, $order: [ExhibitionCheckInOrder!]) {
  exhibitionCheckIns(filter: $filter, orderBy: $order) { totalCount edges { node { gate registrationId } } } }"""


def _scanned(show):
    """Three visitors scanned at gates whose names do not follow the scan times."""
    regs = [register(show, show.first, name) for name in ("Ma Li", "Niu Bo", "Ou Yang")]
    ok(show.api.post(f"{BASE}/editions/{show.first['id']}/scans", json={"scans": [
        {"badge_code": reg["badge_code"], "scanned_at": at, "gate": gate} for reg, at, gate in (
            (regs[0], "2025-05-10T02:00:00Z", "G1"), (regs[1], "2025-05-10T01:00:00Z", "G3"),
            (regs[2], "2025-05-10T03:00:00Z", "G2"))]}))
    return regs


def test_check_ins_follow_order_by_and_stay_in_scan_time_order_without_it(show):
    _scanned(show)

    def gates(order_by=None):
        found = data(show.api.graphql(CHECK_INS, {"filter": {"editionId": show.first["id"]}, "order": order_by}))
        return [e["node"]["gate"] for e in found["exhibitionCheckIns"]["edges"]]

    assert gates() == ["G3", "G1", "G2"]                         # scan time, as before
    assert gates(order("GATE")) == ["G1", "G2", "G3"]
    assert gates(order("GATE", DESC)) == ["G3", "G2", "G1"]
    assert gates(order("SCANNED_AT", DESC)) == ["G2", "G1", "G3"]


def test_check_ins_filter_by_registration_and_errors_name_the_filter_field(show):
    regs = _scanned(show)
    one = data(show.api.graphql(CHECK_INS, {"filter": {"editionId": show.first["id"],
                                                       "registrationId": regs[1]["id"]}}))["exhibitionCheckIns"]
    assert one == {"totalCount": 1, "edges": [{"node": {"gate": "G3", "registrationId": regs[1]["id"]}}]}
    for bad, field in (({"editionId": show.first["id"], "registrationId": "nope"}, "filter.registrationId"),
                       ({"editionId": "nope"}, "filter.editionId")):
        body = show.api.graphql(CHECK_INS, {"filter": bad})
        assert body["data"]["exhibitionCheckIns"] is None
        problem = body["errors"][0]["extensions"]
        assert problem["code"] == "BAD_USER_INPUT" and list(problem["fields"]) == [field], problem
    # the edition is required, inside the filter
    missing = show.api.graphql(CHECK_INS, {"filter": {"registrationId": regs[1]["id"]}})
    assert "editionId" in missing["errors"][0]["message"]
