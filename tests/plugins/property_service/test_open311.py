"""Open311 GeoReport v2, tested with a small client written from the specification
(http://wiki.open311.org/GeoReport_v2) — it knows the spec's URLs, parameters, field names, status
values, date format and error shape, and nothing of the plugin's code."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest

# The API's base URL: the spec's own, mounted through trellis_mounted_blueprints.
BASE = "/open311/v2"

SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"}
W3C = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d\d:\d\d|Z)$")


class GeoReportClient:
    """What an existing Open311 client does: GET and POST on {base}/{resource}.{format}."""

    def __init__(self, http, base, api_key=None, fmt="json"):
        self.http, self.base, self.api_key, self.fmt = http, base, api_key, fmt

    def _parse(self, response):
        if self.fmt == "json":
            return response.status_code, response.get_json()
        assert response.content_type.startswith("text/xml"), response.content_type
        return response.status_code, ET.fromstring(response.data)

    def services(self):
        return self._parse(self.http.get(f"{self.base}/services.{self.fmt}"))

    def service_definition(self, code):
        return self._parse(self.http.get(f"{self.base}/services/{code}.{self.fmt}"))

    def post_request(self, **params):
        form = {"api_key": self.api_key, **params} if self.api_key else dict(params)
        return self._parse(self.http.post(f"{self.base}/requests.{self.fmt}", data=form,
                                          content_type="application/x-www-form-urlencoded"))

    def requests(self, **query):
        return self._parse(self.http.get(f"{self.base}/requests.{self.fmt}", query_string=query))

    def request(self, service_request_id):
        return self._parse(self.http.get(f"{self.base}/requests/{service_request_id}.{self.fmt}"))

    def token(self, token):
        return self._parse(self.http.get(f"{self.base}/tokens/{token}.{self.fmt}"))


@pytest.fixture
def public_open311():
    """The Open311 endpoints are public through trellis_public_endpoints; nothing to set up."""


@pytest.fixture
def api_key(ps):
    response = ps.as_("admin").post("/api/v1/property-service/api-keys",
                                    json={"name": "city app", "user_id": str(ps.centre.id)})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["key"]


@pytest.fixture
def client311(ps, public_open311, api_key, client):
    return GeoReportClient(client, BASE, api_key)


def post_repair(client311, **extra):
    params = {"service_code": "repair", "lat": "31.2305", "long": "121.4738", "attribute[location_type]": "common",
              "email": "resident@example.org", "first_name": "Mei", "last_name": "Chen", "phone": "13800000000",
              "description": "Street lamp in front of building 3 is out.", "media_url": "https://img.example.org/1.jpg",
              **extra}
    status, body = client311.post_request(**params)
    assert status == 201, body
    return body[0]


def test_services_list_follows_the_spec(client311):
    status, body = client311.services()
    assert status == 200
    codes = {s["service_code"] for s in body}
    assert {"repair", "complaint", "consultation", "suggestion"} <= codes
    for service in body:
        assert SERVICE_FIELDS <= set(service)
        assert service["type"] in ("realtime", "batch", "blackbox") and isinstance(service["metadata"], bool)
    assert next(s for s in body if s["service_code"] == "repair")["metadata"] is True


def test_service_definition_lists_attributes(client311):
    status, body = client311.service_definition("repair")
    assert status == 200 and body["service_code"] == "repair"
    [attribute] = body["attributes"]
    assert {"variable", "code", "datatype", "required", "datatype_description", "order", "description",
            "values"} <= set(attribute)
    assert attribute["datatype"] == "singlevaluelist" and {v["key"] for v in attribute["values"]} == {"unit", "common"}
    status, errors = client311.service_definition("teleportation")
    assert status == 404 and set(errors[0]) == {"code", "description"} and errors[0]["code"] == 404


def test_post_then_read_the_request_and_its_token(client311, ps):
    created = post_repair(client311)
    assert "service_request_id" in created and created["token"]
    status, body = client311.request(created["service_request_id"])
    assert status == 200 and len(body) == 1
    request = body[0]
    assert REQUEST_FIELDS <= set(request)
    assert request["status"] == "open" and request["service_code"] == "repair"
    assert W3C.match(request["requested_datetime"]) and W3C.match(request["expected_datetime"])
    assert request["lat"] == pytest.approx(31.2305) and request["media_url"] == "https://img.example.org/1.jpg"
    status, tokens = client311.token(created["token"])
    assert status == 200 and tokens == [{"service_request_id": created["service_request_id"],
                                         "token": created["token"]}]
    # the requester became a customer with a contact, and the request is on their timeline
    staff_view = ps.as_("centre").get(f"/api/v1/property-service/requests/{created['service_request_id']}").get_json()
    assert staff_view["channel"] == "open311" and staff_view["attributes"] == {"location_type": "common"}
    customer = ps.as_("centre").get(f"/api/v1/customers/{staff_view['requester_id']}").get_json()
    assert customer["name"] == "Mei Chen" and customer["kind"] == "person"
    timeline = ps.as_("centre").get(f"/api/v1/customers/{customer['id']}/timeline").get_json()
    assert [e["kind"] for e in timeline] == ["property_service_request"]


def test_reads_never_expose_the_requesters_personal_data(client311):
    created = post_repair(client311)
    _, body = client311.requests()
    text = repr(body)
    for secret in ("resident@example.org", "Mei", "Chen", "13800000000"):
        assert secret not in text
    assert created["service_request_id"] in text


def test_the_same_email_is_the_same_requester(client311, ps):
    a = post_repair(client311)
    b = post_repair(client311, description="Another lamp.")
    get = ps.as_("centre").get
    ra = get(f"/api/v1/property-service/requests/{a['service_request_id']}").get_json()
    rb = get(f"/api/v1/property-service/requests/{b['service_request_id']}").get_json()
    assert ra["requester_id"] == rb["requester_id"]


def test_status_maps_to_open_and_closed_and_filters(client311, ps):
    a = post_repair(client311)
    b = post_repair(client311, description="Bench broken.")
    rid = a["service_request_id"]
    ps.act(rid, "resolve", resolution="Lamp replaced.")
    _, closed = client311.requests(status="closed")
    _, opened = client311.requests(status="open")
    assert [r["service_request_id"] for r in closed] == [rid]
    assert closed[0]["status_notes"] == "Lamp replaced."
    assert [r["service_request_id"] for r in opened] == [b["service_request_id"]]
    _, both = client311.requests(service_request_id=f"{rid},{b['service_request_id']}")
    assert {r["service_request_id"] for r in both} == {rid, b["service_request_id"]}
    _, none = client311.requests(service_code="complaint")
    assert none == []


def test_date_filters_and_the_default_window(client311, ps):
    created = post_repair(client311)
    now = datetime.now(timezone.utc)
    fmt = "%Y-%m-%dT%H:%M:%S+00:00"
    _, inside = client311.requests(start_date=(now - timedelta(days=1)).strftime(fmt),
                                   end_date=(now + timedelta(days=1)).strftime(fmt))
    assert [r["service_request_id"] for r in inside] == [created["service_request_id"]]
    _, before = client311.requests(end_date=(now - timedelta(days=2)).strftime(fmt))
    assert before == []
    status, errors = client311.requests(start_date="yesterday")
    assert status == 400 and errors[0]["code"] == 400
    # an old request is outside the default 90 days
    ps.new_request(received_at=(now - timedelta(days=120)).isoformat())
    _, default = client311.requests()
    assert len(default) == 1


def test_an_end_date_near_year_one_is_400_not_500(client311):
    status, errors = client311.requests(end_date="0001-01-02T00:00:00Z")
    assert status == 400 and "end_date" in errors[0]["description"]


def test_posting_needs_a_valid_api_key(ps, public_open311, client):
    anonymous = GeoReportClient(client, BASE)
    status, errors = anonymous.post_request(service_code="repair", address_string="Building 3",
                                            **{"attribute[location_type]": "unit"})
    assert status == 403 and errors[0]["code"] == 403
    status, _ = GeoReportClient(client, BASE, "o311_wrong").post_request(service_code="repair",
                                                                          address_string="Building 3")
    assert status == 403


def test_revoked_keys_stop_working(client311, ps, api_key):
    keys = ps.as_("admin").get("/api/v1/property-service/api-keys").get_json()
    assert ps.as_("admin").delete(f"/api/v1/property-service/api-keys/{keys[0]['id']}").status_code == 204
    status, _ = client311.post_request(service_code="consultation", address_string="Building 3")
    assert status == 403
    assert ps.as_("centre").get("/api/v1/property-service/api-keys").status_code == 403


def test_bad_posts_are_400_with_the_spec_error_format(client311):
    cases = [
        {"service_code": "repair", "attribute[location_type]": "unit"},  # no location
        {"service_code": "repair", "lat": "31.2", "long": "121.4"},  # required attribute missing
        {"service_code": "repair", "lat": "31.2", "long": "121.4", "attribute[location_type]": "roof"},
        {"service_code": "consultation", "address_string": "B3", "description": "x" * 4001},
        {"service_code": "consultation", "lat": "north", "long": "121.4"},
        {"service_code": "consultation", "address_string": "B3", "media_url": "not a url"},
        {"lat": "31.2", "long": "121.4"},  # no service_code
    ]
    for params in cases:
        status, errors = client311.post_request(**params)
        assert status == 400, (params, errors)
        assert isinstance(errors, list) and set(errors[0]) == {"code", "description"} and errors[0]["description"]
    status, errors = client311.post_request(service_code="teleportation", address_string="B3")
    assert status == 404


def test_address_id_names_a_unit_and_only_the_building_is_shown(client311, ps):
    status, body = client311.post_request(service_code="repair", address_id=str(ps.unit.id),
                                          **{"attribute[location_type]": "unit"}, description="Tap")
    assert status == 201
    _, [request] = client311.request(body[0]["service_request_id"])
    assert "1203" not in repr(request) and request["address"].startswith("Building 3")
    assert request["address_id"] == str(ps.building.id)
    status, _ = client311.post_request(service_code="repair", address_id="nowhere",
                                       **{"attribute[location_type]": "unit"})
    assert status == 400


def test_xml_format(ps, public_open311, api_key, client):
    xml = GeoReportClient(client, BASE, api_key, fmt="xml")
    status, root = xml.services()
    assert status == 200 and root.tag == "services"
    assert {s.findtext("service_code") for s in root.findall("service")} >= {"repair", "complaint"}
    status, root = xml.service_definition("repair")
    assert root.tag == "service_definition"
    attribute = root.find("attributes/attribute")
    assert attribute.findtext("code") == "location_type" and attribute.findtext("required") == "true"
    assert [v.findtext("key") for v in attribute.findall("values/value")] == ["unit", "common"]
    status, root = xml.post_request(service_code="consultation", address_string="Building 3",
                                    description="Is there broadband?")
    assert status == 201 and root.tag == "service_requests"
    rid = root.find("request").findtext("service_request_id")
    status, root = xml.request(rid)
    request = root.find("request")
    assert request.findtext("status") == "open" and request.findtext("service_code") == "consultation"
    assert W3C.match(request.findtext("requested_datetime"))
    status, root = xml.service_definition("nothing")
    assert status == 404 and root.tag == "errors" and root.find("error").findtext("code") == "404"


def test_private_kinds_are_not_open311_services(client311, ps):
    from plugins.property_service import services

    with ps.runtime.database.unit_of_work():
        kind = services.kind_by_code("complaint")
        services.kinds.update(ps.people.admin, kind.id, {"public": False, "version": kind.version})
    _, body = client311.services()
    assert "complaint" not in {s["service_code"] for s in body}
    ps.new_request(kind="complaint", description="Private matter")
    _, listed = client311.requests()
    assert listed == []


def test_hook_trellis_mounted_blueprints(ps, client):
    # answered at the spec's own path, without a login; the plugin's other endpoints still need one
    assert client.get(f"{BASE}/services.json").status_code == 200
    assert client.get("/api/v1/property-service/open311/v2/services.json").status_code == 404
    assert client.get("/api/v1/property-service/requests").status_code == 401


# --- correctness and hardening (issue 7) ---------------------------------------------------------------

KINDS = "/api/v1/property-service/kinds"


def make_kind(ps, code, attributes):
    response = ps.as_("admin").post(KINDS, json={"code": code, "label_en": code.title(), "label_zh_cn": code,
                                                 "public": True, "attributes": attributes})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_attribute_orders_are_unique_within_a_service(ps, client311):
    # the spec: order is "a positive integer not used by another attribute of the service"
    clash = [{"code": "a", "order": 1}, {"code": "b", "order": 1}]
    response = ps.as_("admin").post(KINDS, json={"code": "lamp", "label_en": "Lamp", "label_zh_cn": "路灯",
                                                 "attributes": clash})
    assert response.status_code == 422 and "attributes" in repr(response.get_json())
    assert ps.as_("admin").get(KINDS, query_string={"public": "true"}).get_json()  # nothing else broke
    # orders left out take the lowest free numbers, so they never collide either
    kind = make_kind(ps, "lamp", [{"code": "a"}, {"code": "b", "order": 1}, {"code": "c"}])
    assert sorted(a["order"] for a in kind["attributes"]) == [1, 2, 3]
    update = ps.as_("admin").patch(f"{KINDS}/{kind['id']}", json={"version": kind["version"], "attributes": clash})
    assert update.status_code == 422
    _, definition = client311.service_definition("lamp")
    orders = [a["order"] for a in definition["attributes"]]
    assert len(set(orders)) == len(orders) == 3


@pytest.mark.unaudited_writes("stores a character no service accepts, to see the feed escape it")
def test_characters_xml_forbids_are_refused_and_never_break_the_xml_feed(ps, client311, client):
    for bad in ("Lamp\x00out", "Lamp\x01out", "Lamp\x1fout", "Lamp\ufffeout", "Lamp\uffffout"):
        status, errors = client311.post_request(service_code="consultation", address_string="B3", description=bad)
        assert status == 400 and "description" in errors[0]["description"], (repr(bad), errors)
    status, errors = client311.post_request(service_code="repair", address_string="B3",
                                            **{"attribute[location_type]": "unit\x02"})
    assert status == 400 and "attribute[location_type]" in errors[0]["description"]
    status, _ = client311.post_request(service_code="consultation", address_string="B3",
                                       description="Tab\there,\r\nnew line")
    assert status == 201
    # a record written some other way with such a character still leaves the feed well-formed XML
    created = post_repair(client311)
    from plugins.property_service.models import PsRequest
    from core import db

    with ps.runtime.database.unit_of_work():
        db.session().get(PsRequest, __import__("uuid").UUID(created["service_request_id"])).description = "bad\x0bchar"
    xml = GeoReportClient(client, BASE, fmt="xml")
    status, root = xml.requests()
    assert status == 200
    assert "bad\ufffdchar" in [r.findtext("description") for r in root.findall("request")]


def test_datetime_and_number_attributes_must_hold_dates_and_numbers(ps, client311):
    make_kind(ps, "noise", [{"code": "since", "datatype": "datetime", "order": 1},
                            {"code": "level", "datatype": "number", "order": 2}])
    for attribute, value in (("since", "not-a-date"), ("since", "2026-13-40T99:00:00Z"), ("level", "nan"),
                             ("level", "inf"), ("level", "-Infinity"), ("level", "loud")):
        status, errors = client311.post_request(service_code="noise", address_string="B3",
                                                **{f"attribute[{attribute}]": value})
        assert status == 400 and f"attribute[{attribute}]" in errors[0]["description"], (value, errors)
    status, body = client311.post_request(service_code="noise", address_string="B3",
                                          **{"attribute[since]": "2026-03-02T22:00:00+08:00",
                                             "attribute[level]": "85.5"})
    assert status == 201, body


def test_a_start_date_alone_returns_90_days_from_it(ps, client311):
    now = datetime.now(timezone.utc)
    old = ps.new_request(received_at=(now - timedelta(days=120)).isoformat())
    ps.new_request(received_at=(now - timedelta(days=10)).isoformat())
    status, body = client311.requests(start_date=(now - timedelta(days=125)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert status == 200 and [r["service_request_id"] for r in body] == [old["id"]]
    status, body = client311.requests(start_date="9999-12-30T00:00:00Z")  # no room for 90 days: still fine
    assert status == 200 and body == []


def test_wrong_methods_and_unknown_formats_answer_open311_errors(client311, client):
    response = client.put(f"{BASE}/requests.json", data={"service_code": "repair"})
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    [error] = response.get_json()
    assert error["code"] == 405 and error["description"]
    response = client.delete(f"{BASE}/services.xml")
    assert response.status_code == 405 and response.content_type.startswith("text/xml")
    assert ET.fromstring(response.data).find("error").findtext("code") == "405"
    for path in ("/services.csv", "/requests.html", "/nothing.json", "/services/repair.yaml"):
        response = client.get(BASE + path)
        assert response.status_code == 404, path
        [error] = response.get_json()
        assert error["code"] == 404 and error["description"], path


def test_malformed_attributes_are_400_not_500(client311):
    for params in ({"attribute[location_type]": ["unit", "common"]},  # a single value, repeated
                   {"attribute[location_type][]": "unit"},  # a list for a single-value attribute
                   {"attribute[location_type][]": ["unit", "common"]}):
        status, errors = client311.post_request(service_code="repair", address_string="B3", **params)
        assert status == 400 and "attribute[location_type]" in errors[0]["description"], (params, errors)


def test_nul_bytes_anywhere_are_400(client311, client):
    response = client.get(f"{BASE}/services/a%00b.json")
    assert response.status_code == 400 and response.get_json()[0]["code"] == 400
    for query in ({"service_code": "rep\x00air"}, {"service_request_id": "\x00"}, {"status": "open\x00"},
                  {"start_date": "2026-03-02T00:00:00\x00Z"}):
        status, errors = client311.requests(**query)
        assert status == 400 and errors[0]["code"] == 400, (query, errors)
    assert client.get(f"{BASE}/requests/a%00b.json").status_code == 400
    assert client.get(f"{BASE}/tokens/a%00b.xml").status_code == 400
    status, _ = client311.post_request(service_code="repair\x00", address_string="B3")
    assert status == 400


def test_dates_at_the_edges_of_the_calendar_are_400(client311):
    for name, value in (("start_date", "0001-01-01T00:00:00+14:00"), ("end_date", "9999-12-31T23:59:59-14:00"),
                        ("start_date", "9999-12-31T23:59:59-14:00"), ("end_date", "0001-01-01T00:00:00+14:00")):
        status, errors = client311.requests(**{name: value})
        assert status == 400, (name, value, errors)
        assert errors[0]["code"] == 400 and name in errors[0]["description"]


def test_the_discovery_document(ps, client):
    # GeoReport v2 "Service Discovery": where the endpoint is, which spec and formats, no login
    response = client.get("/open311/discovery.json")
    assert response.status_code == 200
    body = response.get_json()
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(body)
    [endpoint] = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith(BASE) and endpoint["type"] == "production"
    assert set(endpoint["formats"]) == {"application/json", "text/xml"}
    assert client.get(endpoint["url"].split("localhost", 1)[-1] + "/services.json").status_code == 200
    response = client.get("/open311/discovery.xml")
    assert response.status_code == 200 and response.content_type.startswith("text/xml")
    root = ET.fromstring(response.data)
    assert root.tag == "discovery"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]
