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
