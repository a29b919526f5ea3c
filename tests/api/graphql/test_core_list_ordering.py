"""The core's lists beyond customers, contacts and interactions take a typed ``orderBy`` (issue #13, item 3):
users, teams, API tokens, notifications, approvals, the audit trail, privacy erasures and a webhook's
deliveries. Each orders both ways by its keys, keeps its old default when none is given, and pages by
cursor under any ordering; the loose arguments of ``privacyErasures`` and ``deliveries`` are a
``filter:`` input now."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from core.models import (ApprovalRequest, AuditEntry, Notification, OutboxEvent, WebhookDelivery,
                         WebhookSubscription)
from tests.api.graphql.helpers import error, ok, rest_customer

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)


def at(days: int) -> datetime:
    return T0 + timedelta(days=days)


def listed(api, who: str, query: str, field: str, key: str, variables: dict | None = None) -> list:
    """``key`` of every node of the connection ``field`` (a dotted path) that ``query`` answers."""
    data = ok(api.as_(who).graphql(query, variables))
    for part in field.split("."):
        data = data[part]
    return [edge["node"][key] for edge in data["edges"]]


def pages(api, who: str, query: str, field: str, key: str, variables: dict | None = None) -> list:
    """``key`` of every node, read two at a time with ``after`` until the last page."""
    out, after = [], None
    for _ in range(20):
        data = ok(api.as_(who).graphql(query, {**(variables or {}), "after": after}))
        for part in field.split("."):
            data = data[part]
        assert len(data["edges"]) <= 2
        out += [edge["node"][key] for edge in data["edges"]]
        if not data["pageInfo"]["hasNextPage"]:
            return out
        after = data["pageInfo"]["endCursor"]
    raise AssertionError("paging did not end")


# --- users and teams --------------------------------------------------------------------------------

USERS = "query($o: [UserOrder!]) { users(orderBy: $o) { edges { node { name email } } } }"
BY_NAME = ["Ada Admin", "Mia Manager", "Olga Rep", "Otto Manager", "Ray Rep", "Rita Rep"]


def test_users_order_by_name_and_email_both_ways_and_by_name_by_default(api, people):
    assert listed(api, "admin", USERS, "users", "name") == BY_NAME
    assert listed(api, "admin", USERS, "users", "name", {"o": [{"field": "NAME"}]}) == BY_NAME
    assert listed(api, "admin", USERS, "users", "name",
                  {"o": [{"field": "NAME", "direction": "DESC"}]}) == BY_NAME[::-1]
    by_email = ["admin@example.com", "manager@example.com", "om@example.com", "or@example.com",
                "rep2@example.com", "rep@example.com"]
    assert listed(api, "admin", USERS, "users", "email", {"o": [{"field": "EMAIL"}]}) == by_email
    assert listed(api, "admin", USERS, "users", "email",
                  {"o": [{"field": "EMAIL", "direction": "DESC"}]}) == by_email[::-1]
    # role first, then the name breaks ties within a role
    assert listed(api, "admin", USERS, "users", "name", {"o": [{"field": "ROLE"}, {"field": "NAME"}]}) == [
        "Ada Admin", "Mia Manager", "Otto Manager", "Olga Rep", "Ray Rep", "Rita Rep"]


USER_PAGES = """query($after: String) { users(first: 2, after: $after, orderBy: [{field: NAME, direction: DESC}]) {
    edges { node { name } } pageInfo { hasNextPage endCursor } } }"""


def test_users_page_by_cursor_under_a_descending_ordering_each_once(api, people):
    assert pages(api, "admin", USER_PAGES, "users", "name") == BY_NAME[::-1]


TEAMS = "query($o: [TeamOrder!]) { teams(orderBy: $o) { edges { node { name } } } }"


def test_teams_order_by_name_both_ways_and_by_name_by_default(api, people, runtime):
    from core.services import users

    with runtime.database.unit_of_work():
        users.create_team(None, "North")
    assert listed(api, "admin", TEAMS, "teams", "name") == ["East", "North", "West"]
    assert listed(api, "admin", TEAMS, "teams", "name", {"o": [{"field": "NAME"}]}) == ["East", "North", "West"]
    assert listed(api, "admin", TEAMS, "teams", "name",
                  {"o": [{"field": "NAME", "direction": "DESC"}]}) == ["West", "North", "East"]
    assert listed(api, "admin", TEAMS, "teams", "name",
                  {"o": [{"field": "CREATED_AT", "direction": "DESC"}]})[0] == "North"


# --- API tokens -------------------------------------------------------------------------------------

TOKENS = """query($o: [ApiTokenOrder!]) { apiTokens(orderBy: $o) { edges { node { name } } } }"""


def make_tokens(runtime, owner) -> None:
    from core.services import users

    with runtime.database.unit_of_work() as sess:
        for name, days, expires in (("bravo", 1, 30), ("charlie", 2, 10), ("alpha", 3, 20)):
            row, _plain = users.create_token(owner, name)
            row.created_at, row.expires_at = at(days), at(expires)
        sess.flush()


def test_api_tokens_order_both_ways_and_newest_first_by_default(api, people, runtime):
    make_tokens(runtime, people.rep)
    # the fixture's token "test" was made now: the newest
    assert listed(api, "rep", TOKENS, "apiTokens", "name") == ["test", "alpha", "charlie", "bravo"]
    assert listed(api, "rep", TOKENS, "apiTokens", "name", {"o": [{"field": "CREATED_AT"}]}) == [
        "bravo", "charlie", "alpha", "test"]
    assert listed(api, "rep", TOKENS, "apiTokens", "name", {"o": [{"field": "NAME"}]}) == [
        "alpha", "bravo", "charlie", "test"]
    assert listed(api, "rep", TOKENS, "apiTokens", "name", {"o": [{"field": "NAME", "direction": "DESC"}]}) == [
        "test", "charlie", "bravo", "alpha"]
    # the fixture's token never expires: NULL is the largest value
    assert listed(api, "rep", TOKENS, "apiTokens", "name", {"o": [{"field": "EXPIRES_AT"}]}) == [
        "charlie", "alpha", "bravo", "test"]
    assert listed(api, "rep", TOKENS, "apiTokens", "name",
                  {"o": [{"field": "EXPIRES_AT", "direction": "DESC"}]}) == ["test", "bravo", "alpha", "charlie"]


def test_api_tokens_over_rest_take_the_same_sort(api, people, runtime):
    make_tokens(runtime, people.rep)
    response = api.as_("rep").get("/api/v1/tokens?sort=-name")
    assert response.status_code == 200, response.get_json()
    assert [t["name"] for t in response.get_json()] == ["test", "charlie", "bravo", "alpha"]
    bad = api.as_("rep").get("/api/v1/tokens?sort=token_hash")
    assert bad.status_code == 422 and "sort" in str(bad.get_json())


# --- notifications ----------------------------------------------------------------------------------

NOTIFICATIONS = """query($o: [NotificationOrder!]) { notifications(orderBy: $o) { edges { node { title } } } }"""


def make_notifications(runtime, user) -> None:
    with runtime.database.unit_of_work() as sess:
        for title, days, read, kind in (("first", 1, 5, "task_reminder"), ("second", 2, None, "task_overdue"),
                                        ("third", 3, 4, "task_escalated")):
            sess.add(Notification(user_id=user.id, kind=kind, title=title, created_at=at(days),
                                  read_at=at(read) if read else None))


def test_notifications_order_both_ways_and_newest_first_by_default(api, people, runtime):
    make_notifications(runtime, people.rep)
    assert listed(api, "rep", NOTIFICATIONS, "notifications", "title") == ["third", "second", "first"]
    assert listed(api, "rep", NOTIFICATIONS, "notifications", "title", {"o": [{"field": "CREATED_AT"}]}) == [
        "first", "second", "third"]
    assert listed(api, "rep", NOTIFICATIONS, "notifications", "title",
                  {"o": [{"field": "READ_AT"}]}) == ["third", "first", "second"]   # unread (NULL) last
    assert listed(api, "rep", NOTIFICATIONS, "notifications", "title",
                  {"o": [{"field": "READ_AT", "direction": "DESC"}]}) == ["second", "first", "third"]
    assert listed(api, "rep", NOTIFICATIONS, "notifications", "title",
                  {"o": [{"field": "KIND", "direction": "DESC"}]}) == ["first", "second", "third"]


def test_notifications_over_rest_take_the_same_sort(api, people, runtime):
    make_notifications(runtime, people.rep)
    response = api.as_("rep").get("/api/v1/notifications?sort=read_at")
    assert [n["title"] for n in response.get_json()] == ["third", "first", "second"]


# --- approvals --------------------------------------------------------------------------------------

APPROVALS = """query($o: [ApprovalRequestOrder!]) { approvals(filter: {status: null}, orderBy: $o) {
    edges { node { reason } } } }"""


def make_approvals(runtime, requester) -> None:
    with runtime.database.unit_of_work() as sess:
        for reason, days, status in (("a", 1, "rejected"), ("b", 2, "pending"), ("c", 3, "approved")):
            sess.add(ApprovalRequest(workflow="lifecycle", record_type="customer", record_id=uuid.uuid4(),
                                     to_state="intent", reason=reason, requested_by_id=requester.id,
                                     status=status, created_at=at(days)))


def test_approvals_order_both_ways_and_newest_first_by_default(api, people, runtime):
    make_approvals(runtime, people.rep)
    assert listed(api, "admin", APPROVALS, "approvals", "reason") == ["c", "b", "a"]
    assert listed(api, "admin", APPROVALS, "approvals", "reason", {"o": [{"field": "CREATED_AT"}]}) == ["a", "b", "c"]
    assert listed(api, "admin", APPROVALS, "approvals", "reason", {"o": [{"field": "STATUS"}]}) == ["c", "b", "a"]
    assert listed(api, "admin", APPROVALS, "approvals", "reason",
                  {"o": [{"field": "STATUS", "direction": "DESC"}]}) == ["a", "b", "c"]
    # the default filter still lists the pending ones only
    assert listed(api, "admin", "{ approvals { edges { node { reason } } } }", "approvals", "reason") == ["b"]


def test_approvals_over_rest_take_the_same_sort(api, people, runtime):
    make_approvals(runtime, people.rep)
    response = api.as_("admin").get("/api/v1/approvals?status=&sort=created_at")
    assert [a["reason"] for a in response.get_json()] == ["a", "b", "c"]


# --- the audit trail --------------------------------------------------------------------------------

AUDIT = """query($o: [AuditEntryOrder!]) { auditEntries(filter: {recordType: "probe"}, orderBy: $o) {
    edges { node { action } } } }"""


def make_audit(runtime) -> None:
    with runtime.database.unit_of_work() as sess:
        for action, days in (("probe.b", 1), ("probe.c", 2), ("probe.a", 3)):
            sess.add(AuditEntry(action=action, record_type="probe", record_id=uuid.uuid4(), at=at(days)))


def test_audit_entries_order_both_ways_and_newest_first_by_default(api, people, runtime):
    make_audit(runtime)
    assert listed(api, "admin", AUDIT, "auditEntries", "action") == ["probe.a", "probe.c", "probe.b"]
    assert listed(api, "admin", AUDIT, "auditEntries", "action", {"o": [{"field": "AT"}]}) == [
        "probe.b", "probe.c", "probe.a"]
    assert listed(api, "admin", AUDIT, "auditEntries", "action", {"o": [{"field": "ACTION"}]}) == [
        "probe.a", "probe.b", "probe.c"]
    assert listed(api, "admin", AUDIT, "auditEntries", "action",
                  {"o": [{"field": "ACTION", "direction": "DESC"}]}) == ["probe.c", "probe.b", "probe.a"]


def test_audit_entries_over_rest_take_the_same_sort(api, people, runtime):
    make_audit(runtime)
    response = api.as_("admin").get("/api/v1/audit?record_type=probe&sort=-action")
    assert [e["action"] for e in response.get_json()] == ["probe.c", "probe.b", "probe.a"]


# --- privacy erasures -------------------------------------------------------------------------------

ERASURES = """query($p: String!, $o: [PrivacyErasureOrder!]) { privacyErasures(filter: {person: $p}, orderBy: $o) {
    totalCount edges { node { reason } } } }"""


def make_erasures(api, runtime) -> str:
    customer = rest_customer(api)
    with runtime.database.unit_of_work() as sess:
        for reason, days in (("second", 2), ("first", 1), ("third", 3)):
            sess.add(AuditEntry(action="customer.erased", record_type="customer", record_id=uuid.UUID(customer["id"]),
                                at=at(days), changes={"reason": [None, reason]}))
    return customer["id"]


def test_privacy_erasures_take_a_filter_and_order_both_ways_oldest_first_by_default(api, people, runtime):
    cid = make_erasures(api, runtime)
    assert listed(api, "admin", ERASURES, "privacyErasures", "reason", {"p": cid}) == ["first", "second", "third"]
    assert listed(api, "admin", ERASURES, "privacyErasures", "reason",
                  {"p": cid, "o": [{"field": "AT", "direction": "DESC"}]}) == ["third", "second", "first"]
    assert listed(api, "admin", ERASURES, "privacyErasures", "reason",
                  {"p": cid, "o": [{"field": "AT"}]}) == ["first", "second", "third"]


def test_privacy_erasures_filter_errors_name_the_filter_field(api, people):
    err = error(api.as_("admin").graphql(ERASURES, {"p": "nobody at all"}), "BAD_USER_INPUT")
    assert "filter.person" in err["extensions"]["fields"]
    missing = api.as_("admin").graphql("{ privacyErasures { totalCount } }")
    assert missing["errors"] and "filter" in missing["errors"][0]["message"]


# --- a webhook's deliveries -------------------------------------------------------------------------

DELIVERIES = """query($id: ID!, $f: WebhookDeliveryFilter, $o: [WebhookDeliveryOrder!]) { webhook(id: $id) {
    deliveries(filter: $f, orderBy: $o) { edges { node { eventName status attempts } } } } }"""


def make_deliveries(runtime) -> str:
    with runtime.database.unit_of_work() as sess:
        sub = WebhookSubscription(url="https://example.com/hook", events=["*"], secret="whsec_test")
        sess.add(sub)
        sess.flush()
        for name, days, status, attempts in (("e.one", 1, "delivered", 2), ("e.two", 2, "failed", 5),
                                             ("e.three", 3, "pending", 0), ("e.four", 4, "delivered", 1)):
            event = OutboxEvent(name=name, record_type="probe", record_id=uuid.uuid4(), payload={})
            sess.add(event)
            sess.flush()
            sess.add(WebhookDelivery(subscription_id=sub.id, event_id=event.id, event_name=name, status=status,
                                     attempts=attempts, created_at=at(days)))
        return str(sub.id)


def test_deliveries_order_both_ways_and_newest_first_by_default(api, people, runtime):
    sid = make_deliveries(runtime)
    names = lambda **v: listed(api, "admin", DELIVERIES, "webhook.deliveries", "eventName", {"id": sid, **v})
    assert names() == ["e.four", "e.three", "e.two", "e.one"]
    assert names(o=[{"field": "CREATED_AT"}]) == ["e.one", "e.two", "e.three", "e.four"]
    assert names(o=[{"field": "ATTEMPTS"}]) == ["e.three", "e.four", "e.one", "e.two"]
    assert names(o=[{"field": "ATTEMPTS", "direction": "DESC"}]) == ["e.two", "e.one", "e.four", "e.three"]


def test_deliveries_filter_by_status(api, people, runtime):
    sid = make_deliveries(runtime)
    names = lambda **v: listed(api, "admin", DELIVERIES, "webhook.deliveries", "eventName", {"id": sid, **v})
    assert names(f={"status": "DELIVERED"}) == ["e.four", "e.one"]
    assert names(f={"status": "DELIVERED"}, o=[{"field": "ATTEMPTS", "direction": "DESC"}]) == ["e.one", "e.four"]
    assert names(f={"status": "FAILED"}) == ["e.two"]
    assert names(f={}) == ["e.four", "e.three", "e.two", "e.one"]
    bad = api.as_("admin").graphql(DELIVERIES, {"id": sid, "f": {"status": "LOST"}})
    assert bad["errors"] and "status" in bad["errors"][0]["message"] and "LOST" in bad["errors"][0]["message"]
    unknown = error(api.as_("admin").graphql(DELIVERIES, {"id": sid, "f": {"status": "UNKNOWN_VALUE"}}),
                    "BAD_USER_INPUT")
    assert "filter.status" in unknown["extensions"]["fields"]


DELIVERY_PAGES = """query($id: ID!, $after: String) { webhook(id: $id) {
    deliveries(first: 2, after: $after, orderBy: [{field: STATUS, direction: DESC}]) {
        edges { node { eventName } } pageInfo { hasNextPage endCursor } } } }"""


def test_deliveries_page_by_cursor_under_a_descending_ordering_each_once(api, people, runtime):
    sid = make_deliveries(runtime)
    got = pages(api, "admin", DELIVERY_PAGES, "webhook.deliveries", "eventName", {"id": sid})
    # pending, failed, then the two delivered ones by id: every delivery once
    assert got[:2] == ["e.three", "e.two"] and sorted(got[2:]) == ["e.four", "e.one"]


def test_deliveries_over_rest_take_the_same_sort(api, people, runtime):
    sid = make_deliveries(runtime)
    response = api.as_("admin").get(f"/api/v1/webhooks/{sid}/deliveries?sort=attempts")
    assert response.status_code == 200, response.get_json()
    assert [d["event"] for d in response.get_json()] == ["e.three", "e.four", "e.one", "e.two"]
