"""Property service (物业服务): the Open311 GeoReport v2 API, JSON and XML.

Endpoints (``{fmt}`` is ``json`` or ``xml``), as the spec names them:

- ``GET services.{fmt}`` — the public request kinds as services
- ``GET services/{service_code}.{fmt}`` — a service definition with its attributes
- ``POST requests.{fmt}`` — form-encoded; needs an ``api_key`` created by an admin
- ``GET requests.{fmt}`` — filters ``service_request_id``, ``service_code``, ``start_date``,
  ``end_date``, ``status``; the last 90 days by default, at most 1000 requests
- ``GET requests/{service_request_id}.{fmt}``
- ``GET tokens/{token}.{fmt}``

Reads are public as the spec intends and never show who asked: no name, email or phone, and for a
request about a unit only the building's address. Errors are ``[{"code": …, "description": …}]``
(``<errors><error>…`` in XML) for everything under ``/open311``, a wrong method (405) or an unknown
path or format (404) included. Dates are W3C (``2026-03-02T09:00:00+00:00``).

Every input — path, query and form, names and values — passes :func:`clean` before a view runs: a
character XML 1.0 cannot carry (C0 controls but tab, LF and CR; U+FFFE, U+FFFF; a NUL, which
PostgreSQL also refuses) is a 400, so no request can break the XML feed; the XML writer replaces any
such character a record got some other way.

The blueprint is mounted at ``/open311`` through ``trellis_mounted_blueprints`` — the API under
``/v2``, the GeoReport v2 service discovery document at ``/open311/discovery.{fmt}`` — and its
endpoints are declared public through ``trellis_public_endpoints`` (posting still needs an ``api_key``).
"""
from __future__ import annotations

import math
import re
import secrets
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Response, current_app, jsonify, request
from flask_smorest import Blueprint
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from core import db
from core.db import utcnow
from core.errors import TrellisError, ValidationFailed
from core.models import Contact, Customer
from core.services import contacts, customers
from plugins.property_service import requests as service_requests
from plugins.property_service import services
from plugins.property_service.models import PsBuilding, PsKind, PsRequest, PsUnit
from plugins.property_service.workflows import CLOSED, OPEN, REFERRED, REJECTED, RESOLVED, WAITING

URL_PREFIX = "/open311"
V2 = "/v2"
FMT = "<any(json, xml):fmt>"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]
FORMATS = {"xml": "text/xml", "json": "application/json"}
DEFAULT_DAYS = 90
MAX_RESULTS = 1000
MAX_DESCRIPTION = 4000
ATTRIBUTE = re.compile(r"^attribute\[([^\]]+)\](\[\])?$")
#: What XML 1.0 cannot carry: C0 controls except tab, LF and CR; U+FFFE and U+FFFF; lone surrogates.
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

#: The endpoints declared public through ``trellis_public_endpoints``: reads by the spec, and the
#: POST, which authenticates with the form's ``api_key`` rather than a Trellis session or token.
PUBLIC_ENDPOINTS = ("property_service_open311.services_list", "property_service_open311.service_definition",
                    "property_service_open311.post_request", "property_service_open311.list_requests",
                    "property_service_open311.get_request", "property_service_open311.token",
                    "property_service_open311.discovery", "property_service_open311.unknown")


class Open311Error(Exception):
    def __init__(self, status: int, description: str, *, headers: dict | None = None):
        super().__init__(description)
        self.status, self.description, self.headers = status, description, headers or {}


# --- input -------------------------------------------------------------------------------------------

def clean(name: str, value: str) -> str:
    """The one check every Open311 input passes (path, query and form; names and values): a character
    XML cannot carry is a 400 naming the parameter, never stored, never echoed."""
    if XML_FORBIDDEN.search(value):
        raise Open311Error(400, f"{xml_safe(name)} contains a character that is not allowed (a control "
                                "character other than tab, line feed or carriage return, or U+FFFE/U+FFFF).")
    return value


def check_inputs() -> None:
    """Run :func:`clean` over the whole request (``before_request`` of the blueprint)."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            clean(name, value)
    for source in (request.args, request.form):
        for name, values in source.lists():
            clean("A parameter name", name)
            for value in values:
                clean(name, value)


def xml_safe(value: str) -> str:
    return XML_FORBIDDEN.sub("\ufffd", value)


# --- rendering ---------------------------------------------------------------------------------------

def w3c(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat(timespec="seconds")


def _xml_value(parent: ET.Element, key: str, value: Any) -> None:
    child = ET.SubElement(parent, key)
    if isinstance(value, list):
        item_tag = {"attributes": "attribute", "values": "value", "endpoints": "endpoint",
                    "formats": "format"}.get(key, "item")
        for item in value:
            if isinstance(item, dict):
                _xml_item(child, item_tag, item)
            else:
                _xml_value(child, item_tag, item)
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    elif value is not None:
        child.text = xml_safe(str(value))  # a record written some other way must not break the feed


def _xml_item(parent: ET.Element, tag: str, item: dict) -> None:
    element = ET.SubElement(parent, tag)
    for key, value in item.items():
        _xml_value(element, key, value)


def render(fmt: str, root: str, item: str | None, body: Any, status: int = 200) -> Response:
    """``body`` is a list of dicts (``root`` wraps ``item`` elements in XML) or one dict (``root`` is it)."""
    if fmt == "json":
        response = jsonify(body)
        response.status_code = status
        return response
    top = ET.Element(root)
    if isinstance(body, list):
        for entry in body:
            _xml_item(top, item or "item", entry)
    else:
        for key, value in body.items():
            _xml_value(top, key, value)
    text = ET.tostring(top, encoding="unicode", xml_declaration=False)
    return Response('<?xml version="1.0" encoding="utf-8"?>\n' + text, status=status,
                    content_type="text/xml; charset=utf-8")


def error(fmt: str, status: int, description: str, headers: dict | None = None) -> Response:
    response = render(fmt, "errors", "error", [{"code": status, "description": description}], status)
    response.headers.update(headers or {})
    return response


def _fmt() -> str:
    fmt = (request.view_args or {}).get("fmt")
    if fmt in ("json", "xml"):
        return fmt
    return "xml" if request.path.endswith(".xml") else "json"


# --- mapping records to the spec ---------------------------------------------------------------------

def discovery_out() -> dict:
    """The GeoReport v2 discovery document; ``changeset`` is when a public service last changed."""
    changed = max((k.updated_at for k in services.all_kinds(public_only=True)), default=None)
    changeset = w3c(changed)
    return {
        "changeset": changeset,
        "contact": "The customer-service centre (客户服务中心) of this property-management company.",
        "key_service": "api_key: an administrator creates one (POST /api/v1/property-service/api-keys).",
        "endpoints": [{"specification": SPECIFICATION, "url": request.url_root.rstrip("/") + URL_PREFIX + V2,
                       "changeset": changeset, "type": "production", "formats": list(FORMATS.values())}],
    }


def service_out(kind: PsKind) -> dict:
    return {"service_code": kind.code, "service_name": kind.label_en, "description": kind.description,
            "metadata": bool(kind.attributes), "type": "realtime", "keywords": kind.keywords,
            "group": kind.group}


def definition_out(kind: PsKind) -> dict:
    attributes = []
    for a in sorted(kind.attributes or [], key=lambda a: a.get("order", 1)):
        attributes.append({
            "variable": a.get("variable", True), "code": a["code"], "datatype": a.get("datatype", "string"),
            "required": a.get("required", False), "datatype_description": a.get("datatype_description", ""),
            "order": a.get("order", 1), "description": a.get("description", ""),
            "values": [{"key": v["key"], "name": v["name"]} for v in a.get("values", [])]})
    return {"service_code": kind.code, "attributes": attributes}


def status_of(req: PsRequest) -> str:
    return "open" if req.status in OPEN else "closed"


def status_notes(req: PsRequest) -> str:
    if req.status == REJECTED:
        return req.explanation
    if req.status == REFERRED:
        return f"Referred to {req.referred_to}."
    if req.status in (RESOLVED, CLOSED):
        return req.resolution
    if req.status == WAITING:
        return "Waiting on the requester."
    return ""


def request_out(req: PsRequest, kinds: dict[str, PsKind], places: dict, teams: dict) -> dict:
    """A request as the spec describes it, without the requester's personal data."""
    building = places.get(req.building_id)
    address = req.address_string or (", ".join(p for p in (building.name, building.address) if p) if building else "")
    kind = kinds.get(req.kind)
    return {
        "service_request_id": str(req.id),
        "status": status_of(req),
        "status_notes": status_notes(req),
        "service_name": kind.label_en if kind else req.kind,
        "service_code": req.kind,
        "description": req.description,
        "agency_responsible": teams.get(req.team_id, ""),
        "service_notice": "",
        "requested_datetime": w3c(req.created_at),
        "updated_datetime": w3c(req.updated_at),
        "expected_datetime": w3c(req.resolution_due_at) if req.status in OPEN else None,
        "address": address,
        "address_id": str(req.building_id) if req.building_id else None,
        "zipcode": None,
        "lat": req.lat if req.lat is not None else (building.lat if building else None),
        "long": req.long if req.long is not None else (building.long if building else None),
        "media_url": (req.photos or [None])[0],
    }


def _describe(rows: list[PsRequest]) -> list[dict]:
    from plugins.property_service.models import PsTeam

    sess = db.session()
    kinds = {k.code: k for k in sess.scalars(select(PsKind).where(PsKind.code.in_({r.kind for r in rows})))}
    building_ids = {r.building_id for r in rows if r.building_id}
    places = {b.id: b for b in sess.scalars(select(PsBuilding).where(PsBuilding.id.in_(building_ids)))} \
        if building_ids else {}
    team_ids = {r.team_id for r in rows if r.team_id}
    teams = {t.id: t.name for t in sess.scalars(select(PsTeam).where(PsTeam.id.in_(team_ids)))} if team_ids else {}
    return [request_out(r, kinds, places, teams) for r in rows]


# --- queries -----------------------------------------------------------------------------------------

def _public_requests():
    public_kinds = select(PsKind.code).where(PsKind.public.is_(True), PsKind.deleted_at.is_(None))
    return select(PsRequest).where(PsRequest.deleted_at.is_(None), PsRequest.kind.in_(public_kinds))


def _parse_date(name: str, value: str) -> datetime:
    """A W3C date and time, in UTC; one that has no UTC equivalent (0001-01-01T00:00:00+14:00) is a 400."""
    try:
        parsed = datetime.fromisoformat(clean(name, value).strip().replace(" ", "+"))
    except ValueError:
        raise Open311Error(400, f"{name} must be a W3C date and time (2026-03-02T09:00:00+08:00).") from None
    try:
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    except OverflowError:
        raise Open311Error(400, f"{name} is out of range: it must fall between the years 1 and 9999 "
                                "in UTC.") from None


def list_public(args) -> list[PsRequest]:
    stmt = _public_requests()
    if ids := args.get("service_request_id"):
        wanted = []
        for part in ids.split(","):
            try:
                wanted.append(uuid.UUID(part.strip()))
            except ValueError:
                continue
        stmt = stmt.where(PsRequest.id.in_(wanted))
    else:
        if codes := args.get("service_code"):
            stmt = stmt.where(PsRequest.kind.in_([c.strip() for c in codes.split(",")]))
        start = _parse_date("start_date", args["start_date"]) if args.get("start_date") else None
        end = _parse_date("end_date", args["end_date"]) if args.get("end_date") else None
        if start is None and end is None:
            start = utcnow() - timedelta(days=DEFAULT_DAYS)
        elif start is None:
            try:
                start = end - timedelta(days=DEFAULT_DAYS)
            except OverflowError:  # an end_date in the first 90 days of year 1
                raise Open311Error(400, "end_date is out of range.") from None
        elif end is None:  # a start_date alone: the 90 days from it, as the spec's window says
            try:
                end = start + timedelta(days=DEFAULT_DAYS)
            except OverflowError:  # a start_date in the last 90 days of year 9999: nothing is later
                end = None
        if end is not None and end < start:
            raise Open311Error(400, "end_date must not be before start_date.")
        if end is not None and end - start > timedelta(days=DEFAULT_DAYS):
            raise Open311Error(400, f"The date range may span at most {DEFAULT_DAYS} days.")
        stmt = stmt.where(PsRequest.created_at >= start)
        if end is not None:
            stmt = stmt.where(PsRequest.created_at <= end)
        if statuses := args.get("status"):
            wanted = {s.strip().lower() for s in statuses.split(",")}
            if not wanted <= {"open", "closed"}:
                raise Open311Error(400, "status is 'open' or 'closed' (or both, comma-separated).")
            if wanted == {"open"}:
                stmt = stmt.where(PsRequest.status.in_(OPEN))
            elif wanted == {"closed"}:
                stmt = stmt.where(PsRequest.status.not_in(OPEN))
    stmt = stmt.order_by(PsRequest.created_at.desc(), PsRequest.id).limit(MAX_RESULTS)
    return list(db.session().scalars(stmt))


# --- posting -----------------------------------------------------------------------------------------

def _attributes(form, kind: PsKind) -> dict:
    definitions = {a["code"]: a for a in kind.attributes or []}
    given: dict[str, Any] = {}
    for key in form.keys():
        match = ATTRIBUTE.match(key)
        if not match:
            continue
        code, as_list, values = match.group(1), bool(match.group(2)), form.getlist(key)
        if code in given:
            raise Open311Error(400, f"attribute[{code}] is given twice (as attribute[{code}] and "
                                    f"attribute[{code}][]).")
        if code not in definitions:
            given[code] = values
        elif definitions[code].get("datatype") == "multivaluelist":
            given[code] = values
        elif as_list or len(values) > 1:
            raise Open311Error(400, f"attribute[{code}] takes a single value, not a list "
                                    f"(only multivaluelist attributes take attribute[{code}][]).")
        else:
            given[code] = values[0]
    unknown = set(given) - set(definitions)
    if unknown:
        raise Open311Error(400, f"Unknown attribute(s) for {kind.code}: {', '.join(sorted(unknown))}.")
    for code, definition in definitions.items():
        value = given.get(code)
        if definition.get("required") and definition.get("variable", True) and value in (None, "", []):
            raise Open311Error(400, f"attribute[{code}] is required: {definition.get('description', '')}".strip())
        if value in (None, "", []):
            continue
        keys = {v["key"] for v in definition.get("values", [])}
        if definition.get("datatype") == "singlevaluelist" and value not in keys:
            raise Open311Error(400, f"attribute[{code}] must be one of: {', '.join(sorted(keys))}.")
        if definition.get("datatype") == "multivaluelist":
            value = value if isinstance(value, list) else [value]
            if not set(value) <= keys:
                raise Open311Error(400, f"attribute[{code}] values must be among: {', '.join(sorted(keys))}.")
            given[code] = value
        if definition.get("datatype") == "number":
            try:
                finite = math.isfinite(float(value))
            except (TypeError, ValueError):
                finite = False
            if not finite:
                raise Open311Error(400, f"attribute[{code}] must be a number.")
        if definition.get("datatype") == "datetime":
            _parse_date(f"attribute[{code}]", value)
    return given


def _requester(actor, form) -> Customer:
    """The requester as a person customer: found by email when known, created otherwise."""
    email = (form.get("email") or "").strip().lower()
    first, last = (form.get("first_name") or "").strip(), (form.get("last_name") or "").strip()
    phone = (form.get("phone") or "").strip()
    if email:
        found = db.session().scalar(
            select(Customer).join(Contact, Contact.customer_id == Customer.id)
            .where(Customer.deleted_at.is_(None), Contact.deleted_at.is_(None), Customer.kind == "person",
                   Contact.email == email).order_by(Customer.created_at, Customer.id).limit(1))
        if found is not None:
            return found
    name = " ".join(p for p in (first, last) if p) or (email.split("@")[0] if email else "") or "Open311 requester"
    customer = customers.create(actor, {"kind": "person", "name": name[:200], "notes": "Created by an Open311 request."})
    if email or phone:
        contact = {"customer_id": str(customer.id), "name": name[:120], "is_primary": True}
        if email:
            contact["email"] = email
        if phone:
            contact["phone"] = phone[:40]
        contacts.create(actor, contact)
    return customer


def post(form) -> PsRequest:
    actor = services.user_for_api_key(form.get("api_key"))
    if actor is None:
        raise Open311Error(403, "A valid api_key is required to post a request.")
    code = (form.get("service_code") or "").strip()
    if not code:
        raise Open311Error(400, "service_code is required.")
    kind = services.kind_by_code(code)
    if kind is None or not kind.public:
        raise Open311Error(404, f"No service with the code '{code}'.")
    lat, long, address, address_id = (form.get(k) for k in ("lat", "long", "address_string", "address_id"))
    if not ((lat and long) or address or address_id):
        raise Open311Error(400, "A location is required: lat and long, address_string or address_id.")
    description = form.get("description") or ""
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, f"description may have at most {MAX_DESCRIPTION} characters.")
    data: dict[str, Any] = {"kind": kind.code, "channel": "open311", "description": description or kind.label_en,
                            "attributes": _attributes(form, kind)}
    if lat and long:
        try:
            data["lat"], data["long"] = float(lat), float(long)
        except ValueError:
            raise Open311Error(400, "lat and long must be numbers (WGS84 degrees).") from None
    if address:
        data["address_string"] = address[:300]
    if address_id:
        try:
            place_id = uuid.UUID(address_id)
        except ValueError:
            raise Open311Error(400, "address_id is not known.") from None
        unit = db.session().get(PsUnit, place_id)
        if unit is not None and unit.deleted_at is None:
            data["unit_id"] = str(unit.id)
        elif (building := db.session().get(PsBuilding, place_id)) is not None and building.deleted_at is None:
            data["building_id"] = str(building.id)
        else:
            raise Open311Error(400, "address_id is not known.")
    if media := form.get("media_url"):
        data["photos"] = [media]
    data["requester_id"] = str(_requester(actor, form).id)
    token = secrets.token_hex(12)
    return service_requests.create(actor, data, open311={"open311_token": token})


def _validation_message(exc: ValidationFailed) -> str:
    names = {"photos": "media_url", "photos.0": "media_url", "lat": "lat", "long": "long",
             "address_string": "address_string", "description": "description"}
    parts = [f"{names.get(field, field)}: {' '.join(messages)}" for field, messages in exc.fields.items()]
    return "; ".join(parts) or exc.message


# --- the blueprint -----------------------------------------------------------------------------------

def blueprint() -> Blueprint:
    blp = Blueprint("property_service_open311", "property_service_open311", url_prefix=URL_PREFIX,
                    description="Open311 GeoReport v2 (JSON and XML). Reads are public; posting needs an api_key.")
    blp.before_request(check_inputs)

    @blp.route(f"/discovery.{FMT}")
    def discovery(fmt):
        """GeoReport v2 service discovery: where the endpoint is, its specification and formats"""
        return render(fmt, "discovery", None, discovery_out())

    @blp.route(f"{V2}/services.{FMT}")
    def services_list(fmt):
        """GeoReport v2: the list of services"""
        return render(fmt, "services", "service", [service_out(k) for k in services.all_kinds(public_only=True)])

    @blp.route(f"{V2}/services/<service_code>.{FMT}")
    def service_definition(service_code, fmt):
        """GeoReport v2: a service definition with its attributes"""
        kind = services.kind_by_code(service_code)
        if kind is None or not kind.public:
            raise Open311Error(404, f"No service with the code '{service_code}'.")
        return render(fmt, "service_definition", None, definition_out(kind))

    @blp.route(f"{V2}/requests.{FMT}", methods=["POST"])
    def post_request(fmt):
        """GeoReport v2: post a service request (form-encoded, with api_key)"""
        created = post(request.form)
        return render(fmt, "service_requests", "request", [{
            "service_request_id": str(created.id), "token": created.open311_token, "service_notice": "",
            "account_id": None}], 201)

    @blp.route(f"{V2}/requests.{FMT}")
    def list_requests(fmt):
        """GeoReport v2: service requests (the last 90 days unless dates are given)"""
        return render(fmt, "service_requests", "request", _describe(list_public(request.args)))

    @blp.route(f"{V2}/requests/<service_request_id>.{FMT}")
    def get_request(service_request_id, fmt):
        """GeoReport v2: one service request"""
        try:
            rid = uuid.UUID(service_request_id)
        except ValueError:
            raise Open311Error(404, "No service request with this id.") from None
        row = db.session().scalar(_public_requests().where(PsRequest.id == rid))
        if row is None:
            raise Open311Error(404, "No service request with this id.")
        return render(fmt, "service_requests", "request", _describe([row]))

    @blp.route(f"{V2}/tokens/<token>.{FMT}")
    def token(token, fmt):
        """GeoReport v2: the service request id of a token"""
        row = db.session().scalar(_public_requests().where(PsRequest.open311_token == token))
        if row is None:
            raise Open311Error(404, "No service request with this token.")
        return render(fmt, "service_requests", "request", [{"service_request_id": str(row.id), "token": token}])

    @blp.route("/", defaults={"path": ""}, methods=ANY_METHOD)
    @blp.route("/<path:path>", methods=ANY_METHOD)
    def unknown(path):
        """Anything else under /open311: a 405 for a known path with another method, else a 404 — both
        in the Open311 error format, not Trellis's"""
        adapter = current_app.url_map.bind_to_environ(request.environ)
        allowed = set()
        for method in ("GET", "POST"):
            try:
                endpoint, _ = adapter.match(method=method)
            except HTTPException:
                continue
            if endpoint != request.endpoint:
                allowed |= {method, "HEAD"} if method == "GET" else {method}
        if allowed:
            use = " or ".join(sorted(allowed - {"HEAD"}))
            raise Open311Error(405, f"{request.method} is not allowed here; use {use}.",
                               headers={"Allow": ", ".join(sorted(allowed))})
        suffix = path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
        if suffix and suffix not in FORMATS:
            raise Open311Error(404, f"Unknown format '{xml_safe(suffix)[:20]}': use .json or .xml.")
        raise Open311Error(404, "No such Open311 resource. See /open311/discovery.json.")

    def on_open311_error(exc: Open311Error):
        return error(_fmt(), exc.status, exc.description, exc.headers)

    def on_trellis_error(exc: TrellisError):
        if isinstance(exc, ValidationFailed):
            return error(_fmt(), 400, _validation_message(exc))
        return error(_fmt(), exc.http_status, exc.message)

    def on_http_error(exc: HTTPException):
        return error(_fmt(), exc.code or 500, exc.description or exc.name)

    blp.register_error_handler(Open311Error, on_open311_error)
    blp.register_error_handler(TrellisError, on_trellis_error)
    blp.register_error_handler(HTTPException, on_http_error)
    return blp

