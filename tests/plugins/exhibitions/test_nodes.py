"""node(id:) finds every exhibitions record type within the caller's scope (null outside it)."""
from __future__ import annotations

from tests.api.graphql.helpers import ok as data
from tests.plugins.exhibitions.conftest import BASE, ok, participate, register

NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"


def test_node_reads_each_exhibitions_type_within_scope(show):
    booth = ok(show.api.post(f"{BASE}/booths", json={"edition_id": show.first["id"], "number": "1-001", "hall": "1",
                                                     "area": "18", "price": "36000"}), 201)
    alpha = participate(show, "alpha", show.first)
    beta = participate(show, "beta", show.first)
    show.participations.update(alpha=alpha, beta=beta)
    visitor = register(show, show.first, "Wang Wei")
    lead = ok(show.as_("alpha").post(f"{BASE}/leads", json={"participation_id": alpha["id"],
                                                            "badge_code": visitor["badge_code"]}), 201)
    ids = {"Exhibition": show.exhibition["id"], "ExhibitionEdition": show.first["id"], "ExhibitionBooth": booth["id"],
           "ExhibitionParticipation": alpha["id"], "ExhibitionVisitorRegistration": visitor["id"],
           "ExhibitionLead": lead["id"]}
    names = list(ids)
    query = {"ids": [ids[n] for n in names]}
    everything = [{"__typename": n, "id": ids[n]} for n in names]
    assert data(show.as_("admin").graphql(NODES, query)) == {"nodes": everything}
    assert data(show.as_("alpha").graphql(NODES, query))["nodes"][-1] == {"__typename": "ExhibitionLead",
                                                                         "id": lead["id"]}
    # another exhibitor sees neither alpha's participation nor its lead; a rep sees no lead
    beta_sees = data(show.as_("beta").graphql(NODES, query))["nodes"]
    assert beta_sees[names.index("ExhibitionParticipation")] is None and beta_sees[-1] is None
    assert data(show.as_("rep").graphql(NODES, query))["nodes"][-1] is None
    # the Relay fragment on a plugin type
    edition = data(show.as_("admin").graphql(
        "query($id: ID!) { node(id: $id) { ... on ExhibitionEdition { name exhibition { name } } } }",
        {"id": ids["ExhibitionEdition"]}))
    assert edition["node"] == {"name": "CMF 2025", "exhibition": {"name": "China Machinery Fair"}}


def test_node_reads_meetings_check_ins_invitations_and_survey_answers_within_scope(show):
    alpha = participate(show, "alpha", show.first)
    visitor = register(show, show.first, "Wang Wei", category="buyer")
    meeting = ok(show.as_("alpha").post(f"{BASE}/meetings", json={"participation_id": alpha["id"],
                                                                  "registration_id": visitor["id"]}), 201)
    checkin = ok(show.api.post(f"{BASE}/editions/{show.first['id']}/scan", json={
        "badge_code": visitor["badge_code"], "scanned_at": "2025-05-11T03:00:00Z"}), 201)
    ok(show.api.post(f"{BASE}/editions/{show.second['id']}/invitations", json={}))
    invitation = ok(show.api.get(f"{BASE}/editions/{show.second['id']}/invitations"))[0]
    answer = ok(show.api.post(f"{BASE}/surveys", json={"edition_id": show.first["id"], "registration_id": visitor["id"],
                                                       "satisfaction": 4}), 201)
    ids = {"ExhibitionMeeting": meeting["id"], "ExhibitionCheckIn": checkin["id"],
           "ExhibitionInvitation": invitation["id"], "ExhibitionSurveyAnswer": answer["id"]}
    names = list(ids)
    query = {"ids": [ids[n] for n in names]}
    assert data(show.as_("organiser").graphql(NODES, query)) == {
        "nodes": [{"__typename": n, "id": ids[n]} for n in names]}
    # an exhibitor reads its own meetings, nothing else of these; another exhibitor none of them
    assert data(show.as_("alpha").graphql(NODES, query))["nodes"] == [
        {"__typename": "ExhibitionMeeting", "id": meeting["id"]}, None, None, None]
    assert data(show.as_("beta").graphql(NODES, query))["nodes"] == [None, None, None, None]
