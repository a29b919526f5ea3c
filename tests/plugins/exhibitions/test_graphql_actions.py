"""The exhibitions plugin's actions over GraphQL (issue #13 item 7, parity with REST): meetings, booth
assignment, cancelling a registration, gate scans, invitations, rebooking, follow-ups, matching, exhibitor
users, surveys and registration import — each served by the service REST calls, so the answers, the
refusals and the validation are REST's."""
from __future__ import annotations

import pytest

from tests.plugins.exhibitions.conftest import BASE, ok, participate, register


@pytest.fixture
def booked(show):
    show.participations["alpha"] = participate(show, "alpha", show.first, categories=("machinery", "software"))
    show.participations["beta"] = participate(show, "beta", show.first, categories=("textiles",), is_key=True)
    show.visitors["wang"] = register(show, show.first, "Wang Wei", company_name="Pudong Trading",
                                     interests=["machinery", "software"], purchase_intent="high")
    show.visitors["li"] = register(show, show.first, "Li Na", interests=["machinery"], purchase_intent="low")
    return show


def error(answer, field_name):
    """The answer's only error: its code and, for a bad input, the messages on ``field_name``."""
    assert answer["data"][field_name] is None, answer
    (only,) = answer["errors"]
    return only["extensions"]


MEETING = """fragment M on ExhibitionMeeting { id status location exhibitorName startsAt
  visitor { name email } }"""


def test_a_meeting_is_requested_answered_and_held_over_graphql(booked):
    alpha = booked.as_("alpha")
    asked = alpha.graphql(MEETING + """mutation($input: ExhibitionMeetingCreateInput!) {
      requestExhibitionMeeting(input: $input) { ...M } }""", {"input": {
        "participationId": booked.participations["alpha"]["id"], "registrationId": booked.visitors["wang"]["id"],
        "startsAt": "2025-05-11T02:00:00Z", "location": "Booth 1-001"}})
    assert asked.get("errors") is None, asked
    meeting = asked["data"]["requestExhibitionMeeting"]
    assert (meeting["status"], meeting["exhibitorName"], meeting["location"]) == (
        "REQUESTED", "Alpha Machines Ltd", "Booth 1-001")
    assert meeting["visitor"] == {"name": "Wang Wei", "email": None}   # exhibitors do not see e-mail addresses

    move = """mutation($id: ID!, $to: ExhibitionsMeetingStatus!) {
      changeExhibitionMeetingStatus(id: $id, to: $to) { status } }"""
    # the exhibitor asked, so the buyer's side (the organiser) answers
    refused = alpha.graphql(move, {"id": meeting["id"], "to": "ACCEPTED"})
    assert error(refused, "changeExhibitionMeetingStatus")["code"] == "FORBIDDEN"
    assert booked.api.graphql(move, {"id": meeting["id"], "to": "ACCEPTED"})["data"] == {
        "changeExhibitionMeetingStatus": {"status": "ACCEPTED"}}
    assert alpha.graphql(move, {"id": meeting["id"], "to": "HELD"})["data"] == {
        "changeExhibitionMeetingStatus": {"status": "HELD"}}
    assert [h["to_state"] for h in ok(alpha.get(f"{BASE}/meetings/{meeting['id']}/history"))] == ["accepted", "held"]

    read = alpha.graphql("""query($id: ID!) { exhibitionMeeting(id: $id) { status
      history(first: 5) { totalCount edges { node { toState } } } } }""", {"id": meeting["id"]})
    assert read["data"]["exhibitionMeeting"] == {"status": "HELD", "history": {
        "totalCount": 2, "edges": [{"node": {"toState": "accepted"}}, {"node": {"toState": "held"}}]}}
    listed = alpha.graphql("""{ exhibitionMeetings(filter: {status: HELD}) { totalCount
      edges { node { id visitor { name } } } } }""")["data"]["exhibitionMeetings"]
    assert listed == {"totalCount": 1, "edges": [{"node": {"id": meeting["id"], "visitor": {"name": "Wang Wei"}}}]}

    beta = booked.as_("beta")
    assert beta.graphql("{ exhibitionMeetings { totalCount } }")["data"] == {"exhibitionMeetings": {"totalCount": 0}}
    hidden = beta.graphql("query($id: ID!) { exhibitionMeeting(id: $id) { id } }", {"id": meeting["id"]})
    assert error(hidden, "exhibitionMeeting")["code"] == "NOT_FOUND"


def test_a_meeting_needs_a_registration_of_the_same_edition(booked):
    other = register(booked, booked.second, "Next Year")
    answer = booked.as_("alpha").graphql("""mutation($input: ExhibitionMeetingCreateInput!) {
      requestExhibitionMeeting(input: $input) { id } }""", {"input": {
        "participationId": booked.participations["alpha"]["id"], "registrationId": other["id"]}})
    problem = error(answer, "requestExhibitionMeeting")
    assert problem["code"] == "BAD_USER_INPUT" and list(problem["fields"]) == ["registrationId"]
    assert ok(booked.api.get(f"{BASE}/meetings")) == []


ASSIGN = """mutation($p: ID!, $b: ID!) { assignExhibitionBooth(participationId: $p, boothId: $b) {
  number status participationId } }"""
RELEASE = """mutation($p: ID!, $b: ID!) { releaseExhibitionBooth(participationId: $p, boothId: $b) {
  status participationId } }"""


def test_an_organiser_assigns_and_releases_a_booth(booked):
    booth = ok(booked.api.post(f"{BASE}/booths", json={"edition_id": booked.first["id"], "number": "1-001",
                                                       "hall": "1", "area": "36", "price": "36000"}), 201)
    pid = booked.participations["alpha"]["id"]
    refused = booked.as_("alpha").graphql(ASSIGN, {"p": pid, "b": booth["id"]})
    assert error(refused, "assignExhibitionBooth")["code"] == "FORBIDDEN"
    assigned = booked.api.graphql(ASSIGN, {"p": pid, "b": booth["id"]})
    assert assigned["data"]["assignExhibitionBooth"] == {"number": "1-001", "status": "SOLD", "participationId": pid}
    assert ok(booked.api.get(f"{BASE}/booths/{booth['id']}"))["status"] == "sold"    # the participation is paid
    taken = booked.api.graphql(ASSIGN, {"p": booked.participations["beta"]["id"], "b": booth["id"]})
    assert error(taken, "assignExhibitionBooth")["code"] == "CONFLICT"

    released = booked.api.graphql(RELEASE, {"p": pid, "b": booth["id"]})
    assert released["data"]["releaseExhibitionBooth"] == {"status": "AVAILABLE", "participationId": None}
    again = booked.api.graphql(RELEASE, {"p": pid, "b": booth["id"]})
    assert error(again, "releaseExhibitionBooth")["code"] == "NOT_FOUND"


def test_a_booth_of_another_edition_is_refused_naming_booth_id(booked):
    booth = ok(booked.api.post(f"{BASE}/booths", json={"edition_id": booked.second["id"], "number": "2-001",
                                                       "hall": "2", "area": "18", "price": "18000"}), 201)
    answer = booked.api.graphql(ASSIGN, {"p": booked.participations["alpha"]["id"], "b": booth["id"]})
    problem = error(answer, "assignExhibitionBooth")
    assert problem["code"] == "BAD_USER_INPUT" and list(problem["fields"]) == ["boothId"]
    assert ok(booked.api.get(f"{BASE}/booths/{booth['id']}"))["status"] == "available"


SCAN = """mutation($e: ID!, $input: ExhibitionCheckInCreateInput!) { recordExhibitionCheckIn(editionId: $e, input: $input) {
  id day gate direction registrationId } }"""


def test_gate_scans_are_recorded_once_and_listed(booked):
    wang = booked.visitors["wang"]
    body = {"e": booked.first["id"], "input": {"badgeCode": wang["badge_code"], "scannedAt": "2025-05-12T03:00:00Z",
                                                "gate": "E1"}}
    first = booked.api.graphql(SCAN, body)
    assert first.get("errors") is None, first
    checkin = first["data"]["recordExhibitionCheckIn"]
    assert (checkin["day"], checkin["gate"], checkin["direction"], checkin["registrationId"]) == (
        "2025-05-12", "E1", "ENTRY", wang["id"])
    assert booked.api.graphql(SCAN, body)["data"]["recordExhibitionCheckIn"]["id"] == checkin["id"]   # a duplicate

    listed = booked.api.graphql("""query($e: ID!) { exhibitionCheckIns(filter: {editionId: $e}, first: 5) { totalCount
      edges { node { id scannedAt } } } }""", {"e": booked.first["id"]})["data"]["exhibitionCheckIns"]
    assert listed == {"totalCount": 1, "edges": [{"node": {"id": checkin["id"], "scannedAt": "2025-05-12T03:00:00+00:00"}}]}
    assert len(ok(booked.api.get(f"{BASE}/editions/{booked.first['id']}/checkins"))) == 1

    unknown = booked.api.graphql(SCAN, {**body, "input": {**body["input"], "badgeCode": "UNKNOWN-1"}})
    problem = error(unknown, "recordExhibitionCheckIn")
    assert problem["code"] == "BAD_USER_INPUT" and problem["fields"] == {"badgeCode": ["Unknown badge code for this edition."]}
    refused = booked.as_("alpha").graphql("""query($e: ID!) { exhibitionCheckIns(filter: {editionId: $e}) { totalCount } }""",
                                          {"e": booked.first["id"]})
    assert error(refused, "exhibitionCheckIns")["code"] == "FORBIDDEN"


def test_a_cancelled_registration_no_longer_opens_the_gates(booked):
    li = booked.visitors["li"]
    cancel = "mutation($id: ID!) { cancelExhibitionVisitorRegistration(id: $id) { status } }"
    refused = booked.as_("alpha").graphql(cancel, {"id": li["id"]})
    assert error(refused, "cancelExhibitionVisitorRegistration")["code"] == "FORBIDDEN"
    assert ok(booked.api.get(f"{BASE}/registrations/{li['id']}"))["status"] == "registered"
    assert booked.api.graphql(cancel, {"id": li["id"]})["data"] == {
        "cancelExhibitionVisitorRegistration": {"status": "CANCELLED"}}
    assert ok(booked.api.get(f"{BASE}/registrations/{li['id']}"))["status"] == "cancelled"
    scan = booked.api.graphql(SCAN, {"e": booked.first["id"], "input": {
        "badgeCode": li["badge_code"], "scannedAt": "2025-05-11T03:00:00Z"}})
    assert error(scan, "recordExhibitionCheckIn")["fields"] == {"badgeCode": ["This badge's registration is cancelled."]}


BUILD = """mutation($e: ID!, $input: ExhibitionInvitationCriteriaInput!) { buildExhibitionInvitations(editionId: $e, input: $input) {
  selected created alreadyInvited alreadyRegistered dryRun } }"""


def test_an_organiser_builds_and_reads_an_invitation_list(booked):
    register(booked, booked.first, "Zhou Min", category="general")
    criteria = {"e": booked.second["id"], "input": {"categories": ["BUYER"]}}
    dry = booked.api.graphql(BUILD, {**criteria, "input": {**criteria["input"], "dryRun": True}})
    assert dry["data"]["buildExhibitionInvitations"] == {"selected": 2, "created": 2, "alreadyInvited": 0,
                                                         "alreadyRegistered": 0, "dryRun": True}
    assert ok(booked.api.get(f"{BASE}/editions/{booked.second['id']}/invitations")) == []
    built = booked.api.graphql(BUILD, criteria)["data"]["buildExhibitionInvitations"]
    assert (built["created"], built["dryRun"]) == (2, False)

    listed = booked.api.graphql("""query($e: ID!) { exhibitionInvitations(filter: {editionId: $e, status: INVITED},
      orderBy: [{field: CREATED_AT}]) { totalCount edges { node { status reason visitor { name } } } } }""",
                                {"e": booked.second["id"]})["data"]["exhibitionInvitations"]
    assert listed["totalCount"] == 2
    assert sorted(e["node"]["visitor"]["name"] for e in listed["edges"]) == ["Li Na", "Wang Wei"]
    assert {e["node"]["reason"] for e in listed["edges"]} == {"Registered for CMF 2025 as buyer"}
    bad_edition = booked.api.graphql("""{ exhibitionInvitations(filter: {editionId: "not-an-id"}) { totalCount } }""")
    assert error(bad_edition, "exhibitionInvitations")["code"] == "BAD_USER_INPUT"
    assert list(error(bad_edition, "exhibitionInvitations")["fields"]) == ["filter.editionId"]

    refused = booked.as_("alpha").graphql(BUILD, criteria)
    assert error(refused, "buildExhibitionInvitations")["code"] == "FORBIDDEN"
    bad = booked.api.graphql(BUILD, {**criteria, "input": {"fromEditionIds": [booked.second["id"]] * 21}})
    problem = error(bad, "buildExhibitionInvitations")
    assert problem["code"] == "BAD_USER_INPUT" and list(problem["fields"]) == ["fromEditionIds"]


def test_last_editions_exhibitors_are_invited_again(booked):
    invite = """mutation($e: ID!) { inviteExhibitionExhibitors(editionId: $e) { editionId status isKey company { name } } }"""
    invited = booked.api.graphql(invite, {"e": booked.second["id"]})["data"]["inviteExhibitionExhibitors"]
    assert sorted((p["company"]["name"], p["status"], p["isKey"]) for p in invited) == [
        ("Alpha Machines Ltd", "INVITED", False), ("Beta Machines Ltd", "INVITED", True)]
    assert booked.api.graphql(invite, {"e": booked.second["id"]})["data"] == {"inviteExhibitionExhibitors": []}
    first = booked.api.graphql(invite, {"e": booked.first["id"]})
    problem = error(first, "inviteExhibitionExhibitors")
    assert problem["code"] == "BAD_USER_INPUT" and list(problem["fields"]) == ["editionId"]


def test_hot_leads_get_one_follow_up_task(booked):
    lead = ok(booked.as_("alpha").post(f"{BASE}/leads", json={
        "participation_id": booked.participations["alpha"]["id"], "badge_code": booked.visitors["wang"]["badge_code"],
        "rating": "hot"}), 201)
    follow = "mutation($e: ID!) { createExhibitionFollowUps(editionId: $e) }"
    refused = booked.as_("alpha").graphql(follow, {"e": booked.first["id"]})
    assert error(refused, "createExhibitionFollowUps")["code"] == "FORBIDDEN"
    assert booked.api.graphql(follow, {"e": booked.first["id"]})["data"] == {"createExhibitionFollowUps": 1}
    assert booked.api.graphql(follow, {"e": booked.first["id"]})["data"] == {"createExhibitionFollowUps": 0}
    assert ok(booked.as_("alpha").get(f"{BASE}/leads/{lead['id']}"))["follow_up_task_id"] is not None


def test_buyers_and_exhibitors_are_matched_over_graphql(booked):
    pid = booked.participations["alpha"]["id"]
    buyers = """query($p: ID!, $limit: Int!) { exhibitionBuyerMatches(participationId: $p, limit: $limit) {
      score reasons commonCategories registrationId visitor { name email } } }"""
    matches = booked.as_("alpha").graphql(buyers, {"p": pid, "limit": 5})["data"]["exhibitionBuyerMatches"]
    assert [m["visitor"] for m in matches] == [{"name": "Wang Wei", "email": None}, {"name": "Li Na", "email": None}]
    assert matches[0]["commonCategories"] == ["MACHINERY", "SOFTWARE"] and matches[0]["reasons"] == [
        "Needs Machinery, Software and services, which you offer", "High purchase intent"]
    assert len(booked.as_("alpha").graphql(buyers, {"p": pid, "limit": 1})["data"]["exhibitionBuyerMatches"]) == 1
    hidden = booked.as_("beta").graphql(buyers, {"p": pid, "limit": 5})
    assert error(hidden, "exhibitionBuyerMatches")["code"] == "NOT_FOUND"
    bad = booked.as_("alpha").graphql(buyers, {"p": pid, "limit": 0})
    problem = error(bad, "exhibitionBuyerMatches")
    assert problem["code"] == "BAD_USER_INPUT" and list(problem["fields"]) == ["limit"]

    exhibitors = booked.api.graphql("""query($r: ID!) { exhibitionExhibitorMatches(registrationId: $r) {
      exhibitorName participationId commonCategories } }""", {"r": booked.visitors["wang"]["id"]})
    assert exhibitors["data"]["exhibitionExhibitorMatches"] == [
        {"exhibitorName": "Alpha Machines Ltd", "participationId": pid, "commonCategories": ["MACHINERY", "SOFTWARE"]}]

    send = "mutation($e: ID!) { sendExhibitionMatches(editionId: $e) { exhibitors notified buyers } }"
    assert booked.api.graphql(send, {"e": booked.first["id"]})["data"] == {
        "sendExhibitionMatches": {"exhibitors": 1, "notified": 1, "buyers": 2}}   # nobody wants beta's textiles
    assert booked.api.graphql(send, {"e": booked.first["id"]})["data"]["sendExhibitionMatches"]["notified"] == 0


USERS = "{ exhibitionExhibitorUsers { userId user { email } company { name } } }"


def test_exhibitor_users_are_linked_listed_and_unlinked(show, people):
    users = show.api.graphql(USERS)["data"]["exhibitionExhibitorUsers"]
    assert [(u["user"]["email"], u["company"]["name"]) for u in users] == [
        ("alpha@example.com", "Alpha Machines Ltd"), ("beta@example.com", "Beta Machines Ltd")]
    own = show.as_("alpha").graphql(USERS)["data"]["exhibitionExhibitorUsers"]
    assert [u["company"]["name"] for u in own] == ["Alpha Machines Ltd"]

    link = """mutation($u: ID!, $c: ID!) { linkExhibitionExhibitorUser(userId: $u, companyId: $c) { userId company { name } } }"""
    beta_user = users[1]["userId"]
    refused = show.as_("alpha").graphql(link, {"u": beta_user, "c": show.companies["alpha"]["id"]})
    assert error(refused, "linkExhibitionExhibitorUser")["code"] == "FORBIDDEN"
    not_exhibitor = show.api.graphql(link, {"u": str(people.rep.id), "c": show.companies["alpha"]["id"]})
    problem = error(not_exhibitor, "linkExhibitionExhibitorUser")
    assert problem["code"] == "BAD_USER_INPUT" and list(problem["fields"]) == ["userId"]
    moved = show.api.graphql(link, {"u": beta_user, "c": show.companies["alpha"]["id"]})
    assert moved["data"]["linkExhibitionExhibitorUser"] == {"userId": beta_user, "company": {"name": "Alpha Machines Ltd"}}

    unlink = "mutation($u: ID!) { unlinkExhibitionExhibitorUser(userId: $u) }"
    assert show.api.graphql(unlink, {"u": beta_user})["data"] == {"unlinkExhibitionExhibitorUser": True}
    assert [u["user_id"] for u in ok(show.api.get(f"{BASE}/exhibitor-users"))] == [users[0]["userId"]]


def test_a_satisfaction_answer_is_stored_over_graphql(booked):
    submit = """mutation($input: ExhibitionSurveyAnswerCreateInput!) { submitExhibitionSurveyAnswer(input: $input) {
      respondent phase satisfaction comment interactionId } }"""
    answer = booked.api.graphql(submit, {"input": {"editionId": booked.first["id"],
                                                   "registrationId": booked.visitors["wang"]["id"],
                                                   "satisfaction": 4, "comment": "Good buyers' lounge"}})
    assert answer.get("errors") is None, answer
    stored = answer["data"]["submitExhibitionSurveyAnswer"]
    assert (stored["respondent"], stored["phase"], stored["satisfaction"]) == ("VISITOR", "AFTER", 4)
    assert stored["interactionId"] is not None
    assert ok(booked.api.get(f"{BASE}/editions/{booked.first['id']}/metrics"))["visitor_satisfaction"] == 4

    both = booked.api.graphql(submit, {"input": {"editionId": booked.first["id"], "satisfaction": 2,
                                                 "registrationId": booked.visitors["li"]["id"],
                                                 "participationId": booked.participations["alpha"]["id"]}})
    problem = error(both, "submitExhibitionSurveyAnswer")
    assert problem["code"] == "BAD_USER_INPUT" and list(problem["fields"]) == ["registrationId"]
    other = booked.as_("beta").graphql(submit, {"input": {"editionId": booked.first["id"], "satisfaction": 5,
                                                          "participationId": booked.participations["alpha"]["id"]}})
    problem = error(other, "submitExhibitionSurveyAnswer")   # another exhibitor's participation is not beta's to see
    assert problem["code"] == "BAD_USER_INPUT" and list(problem["fields"]) == ["participationId"]
    assert ok(booked.api.get(f"{BASE}/editions/{booked.first['id']}/metrics"))["visitor_satisfaction"] == 4


IMPORT = """mutation($e: ID!, $rows: [ExhibitionRegistrationImportRowInput!]!) {
  importExhibitionVisitorRegistrations(editionId: $e, registrations: $rows) { created existing
    registrations { index created badgeCode registrationId } } }"""


def test_visitors_are_imported_all_or_nothing(booked):
    rows = [{"name": "Sun Yi", "category": "BUYER", "interests": ["MACHINERY"]},
            {"visitorId": booked.visitors["wang"]["visitor_id"]}]
    bad = booked.api.graphql(IMPORT, {"e": booked.second["id"], "rows": [*rows, {"name": "Bad", "email": "not-an-email"}]})
    problem = error(bad, "importExhibitionVisitorRegistrations")
    assert problem["code"] == "BAD_USER_INPUT" and list(problem["fields"]) == ["registrations.2.email"]
    assert ok(booked.api.get(f"{BASE}/registrations?edition_id={booked.second['id']}")) == []

    done = booked.api.graphql(IMPORT, {"e": booked.second["id"], "rows": rows})["data"]["importExhibitionVisitorRegistrations"]
    assert (done["created"], done["existing"]) == (2, 0)
    assert [(r["index"], r["created"]) for r in done["registrations"]] == [(0, True), (1, True)]
    again = booked.api.graphql(IMPORT, {"e": booked.second["id"], "rows": rows[1:]})["data"]
    assert again["importExhibitionVisitorRegistrations"]["existing"] == 1
    listed = ok(booked.api.get(f"{BASE}/registrations?edition_id={booked.second['id']}"))
    assert sorted(r["badge_code"] for r in listed) == sorted(r["badgeCode"] for r in done["registrations"])
    refused = booked.as_("alpha").graphql(IMPORT, {"e": booked.second["id"], "rows": rows})
    assert error(refused, "importExhibitionVisitorRegistrations")["code"] == "FORBIDDEN"
