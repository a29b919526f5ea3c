"""The compiled dumper (api/rest/compiled_dump.py) gives marshmallow's output exactly: every response schema
the app's REST views dump with (the core's and the plugins'), on awkward values, and a real list over HTTP."""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest
from marshmallow import Schema, fields

from api.rest.compiled_dump import MARK, compile_dump, is_compiled
from api.testing import rest_list
from core.schemas import CustomerOut, InteractionOut
from core.services import customers, interactions

SHANGHAI = timezone(timedelta(hours=8))


def response_schemas(app) -> dict[str, Schema]:
    """The schema instances flask-smorest dumps each REST response with, by ``endpoint method status``
    (read from the response wrappers' closures: what runs, not what is documented)."""
    found: dict[str, Schema] = {}

    def walk(label: str, function) -> None:
        seen = set()
        while function is not None and id(function) not in seen:
            seen.add(id(function))
            code = getattr(function, "__code__", None)
            if code is not None and function.__closure__ and "schema" in code.co_freevars \
                    and code.co_qualname.startswith("ResponseMixin.response"):
                schema = function.__closure__[code.co_freevars.index("schema")].cell_contents
                if isinstance(schema, Schema):
                    found[f"{label} {dict(zip(code.co_freevars, function.__closure__))['status_code'].cell_contents}"] = schema
            function = getattr(function, "__wrapped__", None)

    for endpoint, view in app.view_functions.items():
        view_class = getattr(view, "view_class", None)
        if view_class is None:
            walk(endpoint, view)
        else:
            for method in view_class.methods or ():
                walk(f"{endpoint} {method}", getattr(view_class, method.lower(), None))
    return found


def plain_copy(schema: Schema) -> Schema:
    """The same schema, built afresh: dumps through marshmallow alone (nested schemas too)."""
    fresh = type(schema)(many=schema.many, only=schema.only, exclude=schema.exclude,
                         load_only=schema.load_only, dump_only=schema.dump_only)
    assert not any(MARK in s.__dict__ for s in schemas_within(fresh))
    return fresh


def schemas_within(schema: Schema) -> list[Schema]:
    out = [schema]
    for field in schema.dump_fields.values():
        for candidate in (field, getattr(field, "inner", None)):
            if isinstance(candidate, fields.Nested) and candidate.schema is not schema:
                out += schemas_within(candidate.schema)
    return out


def sample(schema: Schema, variant: int, depth: int = 0):
    """An object (or, for odd variants, a dict) with a value for every dump field of ``schema``: variant 0
    the usual, 1 None everywhere, 2 empty lists, unicode, other offsets, 3 some attributes absent."""
    values = {}
    for name, field in schema.dump_fields.items():
        key = field.attribute or name
        if variant == 3 and hash(name) % 3 == 0:
            continue
        values[key] = None if variant == 1 else value_for(field, variant, depth)
    return values if variant % 2 else SimpleNamespace(**values)


def value_for(field: fields.Field, variant: int, depth: int):
    if isinstance(field, fields.Nested):
        if depth > 2:
            return None
        one = lambda: sample(field.schema, 0 if variant == 2 else variant, depth + 1)  # noqa: E731
        return [one(), one()] if (field.many or field.schema.many) else one()
    if isinstance(field, fields.List):
        return [] if variant == 2 else [value_for(field.inner, variant, depth), value_for(field.inner, 0, depth)]
    if isinstance(field, fields.UUID):
        return uuid.UUID(int=12345 + variant)
    if isinstance(field, (fields.Email, fields.Url)):
        return "zoë@例子.example"
    if isinstance(field, fields.String):
        return ["plain", "Zoë 客户 \u2028 \"quoted\" \\", "", b"bytes \xc3\xa9".decode()][variant % 4]
    if isinstance(field, fields.AwareDateTime) or isinstance(field, fields.DateTime):
        return [datetime(2026, 12, 5, 1, 2, 3, 456789, tzinfo=timezone.utc),
                datetime(2026, 2, 28, 23, 59, 59, tzinfo=SHANGHAI),
                datetime(1999, 1, 1, 0, 0), datetime(2030, 6, 1, 12, 0, 0, 1, tzinfo=SHANGHAI)][variant % 4]
    if isinstance(field, fields.Date):
        return date(2026, 2, 28)
    if isinstance(field, fields.Decimal):
        return [Decimal("12.50"), Decimal("-0.005"), Decimal("1E+3"), Decimal("123456789.123456789")][variant % 4]
    if isinstance(field, fields.Float):
        return [1.5, 0.1 + 0.2, Decimal("2.25"), 3][variant % 4]
    if isinstance(field, fields.Integer):
        return [7, 0, -3, Decimal("4")][variant % 4]
    if isinstance(field, fields.Boolean):
        return [True, False, 1, 0][variant % 4]
    if isinstance(field, fields.Dict):
        return [{"a": 1, "ü": [None, "x"]}, {}, {"n": None}, {"k": "v"}][variant % 4]
    return ["raw", 1, None, 2.5][variant % 4]


def outcome(schema: Schema, data, many: bool):
    try:
        return repr(schema.dump(data, many=many))  # repr: key order, types (1 vs 1.0, Decimal) and values
    except Exception as error:  # the same failure, if marshmallow fails
        return f"raises {type(error).__name__}"


def test_every_response_schema_dumps_as_marshmallow_does(app):
    schemas = response_schemas(app)
    assert len(schemas) > 100, "the walk found the REST views' response schemas"
    compiled = {label for label, schema in schemas.items() if is_compiled(schema)}
    # the core's and the plugins' record schemas, their lists among them, go the compiled way
    for label in ("customers.Collection GET 200", "customers.Item GET 200", "contacts.Collection GET 200",
                  "interactions.Collection GET 200"):
        assert label in compiled, label
    assert any(label.startswith(("retail", "exhibitions", "property")) for label in compiled)
    assert len(compiled) > len(schemas) * 0.8
    for label, schema in sorted(schemas.items()):
        reference = plain_copy(schema)
        for variant in range(4):
            one = sample(schema, variant)
            assert outcome(schema, one, False) == outcome(reference, one, False), (label, variant)
            page = [sample(schema, v) for v in range(4)]
            assert outcome(schema, page, True) == outcome(reference, page, True), (label, variant)
        assert outcome(schema, None, True) == outcome(reference, None, True), label


class Row(tuple):
    """Has ``__getitem__``: an item marshmallow reads by key first (the compiled code hands it over)."""

    def __getitem__(self, key):
        if isinstance(key, str):
            return {"name": "from a row", "version": 3}[key]
        return super().__getitem__(key)


class Odd(Schema):
    class Meta:
        ordered = True

    plain = fields.String()
    renamed = fields.Integer(data_key="renamedKey", attribute="source_value")
    dotted = fields.String(attribute="inner.name")
    defaulted = fields.String(dump_default="dflt")
    called = fields.Integer(dump_default=lambda: 41)
    method = fields.Method("shout")
    function = fields.Function(lambda obj: "fn")
    money = fields.Decimal(places=2, as_string=True)
    number_text = fields.Integer(as_string=True)
    when = fields.DateTime(format="%Y/%m/%d %H:%M")
    stamp = fields.DateTime(format="timestamp")
    day = fields.Date()
    flags = fields.List(fields.Boolean())
    pairs = fields.List(fields.Nested(lambda: Pair()))
    pair = fields.Nested("Pair", allow_none=True)
    plucked = fields.Pluck("Pair", "left", many=True)
    tags = fields.List(fields.String())
    raw = fields.Raw()

    def shout(self, obj):
        return str(getattr(obj, "plain", "")).upper()


class Pair(Schema):
    left = fields.String()
    right = fields.Float(allow_none=True)


def test_awkward_fields_and_objects_dump_as_marshmallow_does():
    inner = SimpleNamespace(name="inner ü")
    pairs = [SimpleNamespace(left="l", right=1), {"left": "d", "right": Decimal("2.5")}]
    full = SimpleNamespace(plain=b"b\xc3\xbftes", source_value=Decimal("9"), inner=inner, defaulted=None,
                           money=Decimal("1.005"), number_text=12, when=datetime(2026, 1, 2, 3, 4, tzinfo=SHANGHAI),
                           stamp=datetime(2026, 1, 2, tzinfo=timezone.utc), day=date(2026, 1, 2),
                           flags=[1, 0, "true", None], pairs=pairs, pair=pairs[1], plucked=pairs,
                           tags=["x", 1, None], raw={"a": [1]})
    sparse = SimpleNamespace(plain="only")
    as_dict = {"plain": "d", "items": "a key named like a dict method", "pairs": [], "pair": None, "tags": []}
    no_items = {"plain": "d"}  # a missing key: marshmallow falls back to getattr (here a dict method)
    compiled = compile_dump(Odd(many=True))
    assert is_compiled(compiled)
    reference = Odd(many=True)
    for obj in (full, sparse, as_dict, no_items, Row(("t",)), None):
        assert outcome(compiled, obj, False) == outcome(reference, obj, False), obj
    assert outcome(compiled, [full, sparse, as_dict], True) == outcome(reference, [full, sparse, as_dict], True)


class Shadowed:
    """``name`` in the instance's ``__dict__`` under a property of the same name: ``getattr`` returns the
    property's value, so must the compiled dump (it reads ``__dict__`` only where that is the same)."""

    def __init__(self):
        self.__dict__.update(name="from the instance dict", left="plain")

    @property
    def name(self):
        return "from the property"


class Slotted:
    __slots__ = ("name", "left")

    def __init__(self):
        self.name, self.left = "slot", "slot left"


class Looked:
    """Changes attribute lookup itself: read through ``getattr`` only."""

    def __init__(self):
        self.name, self.left = "stored", "stored left"

    def __getattribute__(self, attr):
        value = object.__getattribute__(self, attr)
        return f"looked up {value}" if attr in ("name", "left") else value


class Named(Schema):
    name = fields.String()
    left = fields.String()


def test_objects_whose_instance_dict_is_not_what_getattr_returns_dump_as_marshmallow_does():
    compiled, reference = compile_dump(Named), Named()
    assert is_compiled(compiled)
    for obj in (Shadowed(), Slotted(), Looked(), SimpleNamespace(name="ns"), Shadowed()):
        assert compiled.dump(obj) == reference.dump(obj), type(obj)
    assert compiled.dump(Shadowed())["name"] == "from the property"


def test_a_customer_with_expired_or_unloaded_attributes_dumps_as_marshmallow_does(runtime, people):
    """A SQLAlchemy object keeps a loaded column in ``__dict__`` (read from there); an expired one is not
    there and is loaded by ``getattr``, as marshmallow would."""
    compiled, reference = compile_dump(CustomerOut), CustomerOut()
    with runtime.database.unit_of_work() as sess:
        customer = customers.create(people.admin, {"name": "Loaded 客户", "tags": ["a"]})
        sess.flush()
        expected = reference.dump(customer)
        assert compiled.dump(customer) == expected
        sess.expire(customer, ["name", "notes"])
        assert "name" not in customer.__dict__
        assert compiled.dump(customer) == expected
        sess.expire(customer)
        assert compiled.dump(customer) == reference.dump(customer)


def test_a_schema_that_cannot_be_compiled_dumps_through_marshmallow():
    class OwnAccessor(Schema):
        name = fields.String()

        def get_attribute(self, obj, attr, default):
            return f"<{attr}>"

    schema = compile_dump(OwnAccessor)
    assert not is_compiled(schema)
    assert schema.dump(SimpleNamespace(name="x"))["name"] == "<name>"


def test_a_compiled_instance_given_stays_as_it_was_for_a_nested_copy():
    given = Pair()
    compiled = compile_dump(given)
    assert compiled is not given and is_compiled(compiled) and not is_compiled(given)

    class Holder(Schema):
        only_left = fields.Nested(given, only=("left",))

    assert Holder().dump({"only_left": {"left": "a", "right": 2}}) == {"only_left": {"left": "a"}}


def test_a_customer_list_over_http_is_what_marshmallow_makes_of_the_same_customers(api, runtime, people):
    with runtime.database.unit_of_work():
        customers.create(people.rep, {"name": "Ärger & Söhne 客户", "industry": None, "tags": ["zz", "Ab", "ü"]})
        plain = customers.create(people.rep, {"name": "Plain", "notes": "line\nbreak"})
        interactions.create(people.rep, {"customer_id": str(plain.id), "kind": "purchase", "amount": "12.50",
                                         "occurred_at": "2026-03-01T10:00:00+08:00"})
    for path, schema in (("/api/v1/customers?expand=analytics&sort=name", CustomerOut(many=True)),
                         ("/api/v1/customers?fields=name,tags&sort=name", CustomerOut(many=True,
                                                                                     only=("id", "name", "tags"))),
                         ("/api/v1/interactions", InteractionOut(many=True))):
        body = rest_list(api.get(path))
        ids = [item["id"] for item in body]
        with runtime.database.unit_of_work():
            service = customers if "customers" in path else interactions
            records = [service.get(people.admin, record_id) for record_id in ids]
            expected = json.loads(json.dumps(schema.dump(records), default=str))
        assert body == expected, path
        assert [list(item) for item in body] == [list(item) for item in expected]


@pytest.mark.parametrize("schema_class", [CustomerOut, InteractionOut])
def test_record_schemas_compile(schema_class):
    assert is_compiled(compile_dump(schema_class))
