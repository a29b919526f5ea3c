"""The exhibitions plugin's records over GraphQL — shows, editions, booths, participations, registrations,
and deleting/restoring a lead: the services, permissions and validation REST uses."""
from __future__ import annotations

from tests.plugins.exhibitions.conftest import BASE, ok, participate, register


def test_an_organiser_builds_a_show_over_graphql(show):
    organiser = show.as_("organiser")
    made = organiser.graphql("""mutation($input: ExhibitionCreateInput!) { createExhibition(input: $input) {
      id name version } }""", {"input": {"name": "Canton Textile Week", "industry": "textiles"}})
    assert made.get("errors") is None, made
    exhibition = made["data"]["createExhibition"]
    edition = organiser.graphql("""mutation($input: ExhibitionEditionCreateInput!) {
      createExhibitionEdition(input: $input) { id name startsOn endsOn halls version } }""", {"input": {
        "exhibitionId": exhibition["id"], "name": "CTW 2027", "startsOn": "2027-04-01", "endsOn": "2027-04-03",
        "halls": ["A"]}})["data"]["createExhibitionEdition"]
    assert (edition["startsOn"], edition["halls"], edition["version"]) == ("2027-04-01", ["A"], 1)
    moved = organiser.graphql("""mutation($id: ID!, $input: ExhibitionEditionUpdateInput!) {
      updateExhibitionEdition(id: $id, input: $input) { endsOn version } }""",
                              {"id": edition["id"], "input": {"version": 1, "endsOn": "2027-04-04"}})
    assert moved["data"]["updateExhibitionEdition"] == {"endsOn": "2027-04-04", "version": 2}
    assert ok(show.api.get(f"{BASE}/editions/{edition['id']}"))["ends_on"] == "2027-04-04"

    booth = organiser.graphql("""mutation($input: ExhibitionBoothCreateInput!) { createExhibitionBooth(input: $input) {
      id number area price status } }""", {"input": {"editionId": edition["id"], "number": "A-01", "hall": "A",
                                                     "area": "36.00", "price": "36000.00"}})
    assert booth["data"]["createExhibitionBooth"]["area"] == 36.0
    booths = organiser.graphql("""query($e: ID) { exhibitionBooths(first: 5, filter: {editionId: $e}) {
      totalCount edges { node { number } } } }""", {"e": edition["id"]})["data"]["exhibitionBooths"]
    assert booths == {"totalCount": 1, "edges": [{"node": {"number": "A-01"}}]}

    p = organiser.graphql("""mutation($input: ExhibitionParticipationCreateInput!) {
      createExhibitionParticipation(input: $input) { id editionId status company { name } } }""", {"input": {
        "editionId": edition["id"], "companyId": show.companies["alpha"]["id"], "categories": ["TEXTILES"]}})
    assert p.get("errors") is None, p
    assert p["data"]["createExhibitionParticipation"]["company"] == {"name": "Alpha Machines Ltd"}

    r = organiser.graphql("""mutation($input: ExhibitionVisitorRegistrationCreateInput!) {
      createExhibitionVisitorRegistration(input: $input) { id badgeCode visitor { name } } }""", {"input": {
        "editionId": edition["id"], "name": "Chen Jing", "email": "chen.jing@buyer.example"}})
    assert r.get("errors") is None, r
    registration = r["data"]["createExhibitionVisitorRegistration"]
    assert registration["visitor"] == {"name": "Chen Jing"} and registration["badgeCode"]
    gone = organiser.graphql("mutation($id: ID!) { deleteExhibitionVisitorRegistration(id: $id) { badgeCode } }",
                             {"id": registration["id"]})
    assert gone["data"]["deleteExhibitionVisitorRegistration"] == {"badgeCode": registration["badgeCode"]}
    assert show.api.get(f"{BASE}/registrations/{registration['id']}").status_code == 404
    back = organiser.graphql("mutation($id: ID!) { restoreExhibitionVisitorRegistration(id: $id) { id } }",
                             {"id": registration["id"]})
    assert back["data"]["restoreExhibitionVisitorRegistration"] == {"id": registration["id"]}


def test_bad_or_forbidden_show_input_changes_nothing(show):
    editions_before = ok(show.api.get(f"{BASE}/editions"))
    backwards = show.as_("organiser").graphql("""mutation($input: ExhibitionEditionCreateInput!) {
      createExhibitionEdition(input: $input) { id } }""", {"input": {
        "exhibitionId": show.exhibition["id"], "name": "Backwards", "startsOn": "2027-04-03", "endsOn": "2027-04-01"}})
    assert backwards["data"]["createExhibitionEdition"] is None
    assert "endsOn" in backwards["errors"][0]["extensions"]["fields"]
    exhibitor = show.as_("alpha").graphql("""mutation($input: ExhibitionCreateInput!) { createExhibition(input: $input) {
      id } }""", {"input": {"name": "My own show"}})
    assert exhibitor["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    stale = show.as_("organiser").graphql("""mutation($id: ID!, $input: ExhibitionUpdateInput!) {
      updateExhibition(id: $id, input: $input) { name } }""", {"id": show.exhibition["id"],
                                                              "input": {"version": 7, "name": "Renamed"}})
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert ok(show.api.get(f"{BASE}/editions")) == editions_before
    assert ok(show.api.get(f"{BASE}/exhibitions/{show.exhibition['id']}"))["name"] == "China Machinery Fair"


def test_an_exhibitor_deletes_and_restores_its_lead(show):
    participation = participate(show, "alpha", show.first)
    visitor = register(show, show.first, "Wang Wei")
    lead = ok(show.as_("alpha").post(f"{BASE}/leads", json={"participation_id": participation["id"],
                                                           "badge_code": visitor["badge_code"]}), 201)
    gone = show.as_("alpha").graphql("mutation($id: ID!) { deleteExhibitionLead(id: $id) { id } }", {"id": lead["id"]})
    assert gone["data"]["deleteExhibitionLead"] == {"id": lead["id"]}
    assert ok(show.as_("alpha").get(f"{BASE}/leads")) == []
    other = show.as_("beta").graphql("mutation($id: ID!) { restoreExhibitionLead(id: $id) { id } }", {"id": lead["id"]})
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    back = show.as_("alpha").graphql("mutation($id: ID!) { restoreExhibitionLead(id: $id) { id visitor { name } } }",
                                     {"id": lead["id"]})
    assert back["data"]["restoreExhibitionLead"] == {"id": lead["id"], "visitor": {"name": "Wang Wei"}}


def test_a_participations_status_history(show):
    p = participate(show, "alpha", show.first, status="paid")
    body = show.as_("organiser").graphql("""query($id: ID!) { exhibitionParticipation(id: $id) {
      history { edges { node { fromState toState trigger } } } } }""", {"id": p["id"]})
    rest = ok(show.api.get(f"{BASE}/participations/{p['id']}/history"))
    history = [e["node"] for e in body["data"]["exhibitionParticipation"]["history"]["edges"]]
    assert history == [
        {"fromState": h["from_state"], "toState": h["to_state"], "trigger": h["trigger"].upper()} for h in rest]
    assert [h["toState"] for h in history][-3:] == [
        "applied", "confirmed", "paid"]
