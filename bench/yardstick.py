"""The yardstick for ``bench/http_side_by_side.py``: the least a Flask app can do to serve Trellis' customer JSON.

Flask 3 + SQLAlchemy 2 (typed ORM) + psycopg 3, one ``customers`` table, one static bearer token. No
plugins, permissions, audit trail, events, validation framework or analytics: only what a hand-written
CRUD endpoint would do — check the token, validate the few fields, one INSERT / one page + count / one
SELECT, and the same JSON fields as Trellis' ``CustomerOut`` (``analytics`` aside, which a Trellis list
leaves out unless expanded).

Endpoints (``Authorization: Bearer <token>`` on each):
  POST /api/v1/customers                     201, the customer
  GET  /api/v1/customers?page=&page_size=     200, a JSON array ordered by name, X-Pagination header
  GET  /api/v1/customers/<uuid>               200, the customer (404 when unknown)

Settings (environment; this is not Trellis, so not ``TRELLIS_*``): ``YARDSTICK_DATABASE_URL``
(``postgresql://…`` or ``sqlite://…``), ``YARDSTICK_TOKEN``. ``create_app(url, token)`` takes them as
arguments. The table is created on start when missing.
"""
from __future__ import annotations

import hmac
import json
import os
import uuid
from datetime import datetime, timezone

from flask import Flask, Response, abort, g, jsonify, request
from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text, Uuid, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

KINDS = ("company", "person")
SIZES = ("micro", "small", "medium", "large", "enterprise")
MAX_PAGE_SIZE = 100


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    version: Mapped[int] = mapped_column(Integer, default=1)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(20), default="company")
    name: Mapped[str] = mapped_column(String(200), index=True)
    industry: Mapped[str | None] = mapped_column(String(80))
    region: Mapped[str | None] = mapped_column(String(80))
    size: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str | None] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(20), default="D")
    level_pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    stage: Mapped[str] = mapped_column(String(20), default="potential")
    notes: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list] = mapped_column(JSON, default=list)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    merged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def _iso(value: datetime | None) -> str | None:
    if value is not None and value.tzinfo is None:   # SQLite keeps no time zone; the values are UTC
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat() if value is not None else None


def dump(c: Customer) -> dict:
    return {"id": str(c.id), "created_at": _iso(c.created_at), "updated_at": _iso(c.updated_at),
            "version": c.version, "deleted_at": _iso(c.deleted_at), "kind": c.kind, "name": c.name,
            "industry": c.industry, "region": c.region, "size": c.size, "source": c.source, "level": c.level,
            "level_pinned": c.level_pinned, "stage": c.stage, "notes": c.notes, "tags": list(c.tags or []),
            "owner_id": str(c.owner_id) if c.owner_id else None,
            "merged_into_id": str(c.merged_into_id) if c.merged_into_id else None,
            "merged_at": _iso(c.merged_at)}


def _invalid(errors: dict) -> Response:
    response = jsonify({"code": 422, "status": "Unprocessable Entity", "errors": {"json": errors}})
    response.status_code = 422
    return response


def _validate(body) -> tuple[dict, dict]:
    if not isinstance(body, dict):
        return {}, {"_schema": ["Invalid input type."]}
    errors, data = {}, {}
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        errors["name"] = ["Missing or not 1 to 200 characters."]
    else:
        data["name"] = name
    for key, limit in (("industry", 80), ("region", 80), ("notes", 20000)):
        value = body.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            errors[key] = [f"Not a string of at most {limit} characters."]
        elif key in body:
            data[key] = value
    if body.get("kind", "company") not in KINDS:
        errors["kind"] = ["Must be one of: " + ", ".join(KINDS) + "."]
    elif "kind" in body:
        data["kind"] = body["kind"]
    if body.get("size") is not None and body["size"] not in SIZES:
        errors["size"] = ["Must be one of: " + ", ".join(SIZES) + "."]
    elif "size" in body:
        data["size"] = body["size"]
    tags = body.get("tags", [])
    if not isinstance(tags, list) or len(tags) > 50 or not all(isinstance(t, str) and 0 < len(t) <= 50 for t in tags):
        errors["tags"] = ["At most 50 strings of 1 to 50 characters."]
    else:
        data["tags"] = sorted(set(tags))
    unknown = set(body) - {"name", "industry", "region", "notes", "kind", "size", "source", "tags"}
    for key in unknown:
        errors[key] = ["Unknown field."]
    if "source" in body:
        data["source"] = body["source"]
    return data, errors


def create_app(database_url: str | None = None, token: str | None = None) -> Flask:
    url = database_url or os.environ["YARDSTICK_DATABASE_URL"]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    secret = (token or os.environ["YARDSTICK_TOKEN"]).encode()
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    app = Flask(__name__)
    app.config["yardstick.engine"] = engine

    @app.before_request
    def authenticate():
        header = request.headers.get("Authorization", "")
        if not (header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), secret)):
            abort(401)
        g.session = Session(engine, expire_on_commit=False)

    @app.teardown_request
    def close(_exc):
        session = g.pop("session", None)
        if session is not None:
            session.close()

    @app.post("/api/v1/customers")
    def create():
        data, errors = _validate(request.get_json(silent=True))
        if errors:
            return _invalid(errors)
        customer = Customer(**data)
        g.session.add(customer)
        g.session.commit()
        return jsonify(dump(customer)), 201

    @app.get("/api/v1/customers")
    def list_customers():
        try:
            page = int(request.args.get("page", 1))
            size = int(request.args.get("page_size", 10))
        except ValueError:
            return _invalid({"page": ["Not a number."]})
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            return _invalid({"page_size": [f"Must be between 1 and {MAX_PAGE_SIZE}."]})
        live = Customer.deleted_at.is_(None) & Customer.merged_into_id.is_(None)
        total = g.session.scalar(select(func.count()).select_from(Customer).where(live))
        rows = g.session.scalars(select(Customer).where(live).order_by(Customer.name, Customer.id)
                                 .offset((page - 1) * size).limit(size))
        response = jsonify([dump(c) for c in rows])
        response.headers["X-Pagination"] = json.dumps({"total": total, "page": page, "page_size": size})
        return response

    @app.get("/api/v1/customers/<uuid:customer_id>")
    def detail(customer_id: uuid.UUID):
        customer = g.session.get(Customer, customer_id)
        if customer is None or customer.deleted_at is not None:
            abort(404)
        return jsonify(dump(customer))

    return app
