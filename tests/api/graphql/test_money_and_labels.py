"""One way to say each thing (issue #13 item 4): money is the ``Money`` scalar (a decimal string, never a
float, a float refused naming the field), bilingual text is a ``Label {en zhCn}``, open JSON answers
camelCase keys, and every ordering is a typed ``orderBy``."""
from __future__ import annotations

from decimal import Decimal

import pytest

from api.graphql import sdl
from api.graphql.money import parse_money, serialize_money
from core.models import Interaction
from tests.api.graphql.helpers import error, ok, rest_customer, rows

CREATE = """mutation($input: InteractionCreateInput!) { createInteraction(input: $input) { id amount } }"""


def test_money_answers_a_decimal_string_and_takes_one(api):
    customer = rest_customer(api)
    made = ok(api.as_("rep").graphql(CREATE, {"input": {
        "customerId": customer["id"], "kind": "PURCHASE", "status": "DONE", "amount": "36000"}}))["createInteraction"]
    assert made["amount"] == "36000.00"
    # REST reads back what GraphQL wrote
    assert api.as_("rep").get(f"/api/v1/interactions/{made['id']}").get_json()["amount"] == "36000.00"
    literal = ok(api.as_("rep").graphql(
        f'mutation {{ createInteraction(input: {{customerId: "{customer["id"]}", kind: PURCHASE, amount: "12.5"}}) '
        '{ amount } }'))
    assert literal["createInteraction"]["amount"] == "12.50"


@pytest.mark.parametrize("amount", [36000.5, "36,000", "1e3", "abc", True])
def test_money_refuses_floats_and_garbage_naming_the_field_and_writes_nothing(api, runtime, amount):
    customer = rest_customer(api)
    before = rows(runtime, Interaction)
    err = error(api.as_("rep").graphql(CREATE, {"input": {"customerId": customer["id"], "kind": "PURCHASE",
                                                          "amount": amount}}), "BAD_USER_INPUT")
    assert list(err["extensions"]["fields"]) == ["amount"]
    assert "Money" in err["message"]
    literal = error(api.as_("rep").graphql(
        f'mutation {{ createInteraction(input: {{customerId: "{customer["id"]}", kind: PURCHASE, amount: 12.5}}) '
        '{ id } }'), "BAD_USER_INPUT")
    assert list(literal["extensions"]["fields"]) == ["amount"] and "float" in literal["message"]
    assert rows(runtime, Interaction) == before


def test_money_serialises_computed_amounts_to_cents():
    assert serialize_money(Decimal("36000")) == "36000.00"
    assert serialize_money(Decimal("1E+2")) == "100.00"
    assert serialize_money(Decimal("0.125")) == "0.125"      # a stored value keeps its places
    assert serialize_money(1234.5) == "1234.50" and serialize_money(7) == "7.00"
    assert parse_money(" -12.50 ") == Decimal("-12.50") and parse_money(3) == Decimal(3)
    with pytest.raises(ValueError):
        parse_money(1.5)


def test_a_currency_metric_answers_money_and_open_json_is_camel_case(api):
    customer = rest_customer(api)
    ok(api.as_("rep").graphql(CREATE, {"input": {"customerId": customer["id"], "kind": "PURCHASE", "status": "DONE",
                                                 "amount": "100.10", "occurredAt": "2026-01-05T10:00:00Z"}}))
    revenue = ok(api.as_("rep").graphql('{ metric(name: "revenue") { rows { value amount extra } } }'))
    assert revenue["metric"]["rows"] == [{"value": None, "amount": "100.10", "extra": {"purchases": 1}}]
    count = ok(api.as_("rep").graphql('{ metric(name: "customers", groupBy: "ownerId") { rows { group value amount } } }'))
    row = count["metric"]["rows"][0]
    assert list(row["group"]) == ["ownerId"] and row["value"] == 1 and row["amount"] is None
    groupings = ok(api.as_("rep").graphql("{ metrics { name groupBy } }"))["metrics"]
    assert all("_" not in key for metric in groupings for key in metric["groupBy"])


def test_every_bilingual_text_is_a_label(api):
    text = sdl(api.client.application)
    assert "type Label {" in text
    for old in ("labelEn", "labelZhCn", "nameZhCn", "profileZhCn"):
        assert old not in text
    metric = ok(api.as_("rep").graphql('{ metrics { name label { en zhCn } } }'))["metrics"]
    assert {"name": "revenue", "label": {"en": "Revenue", "zhCn": "销售额"}} in metric


def test_open_json_keys_are_camel_case_and_label_pairs_fold():
    from api.graphql.inputs import json_out

    assert json_out({"rfm_segment": "champions", "label_en": "Champions", "label_zh_cn": "冠军客户",
                     "rows": [{"tasks_created": 1}]}) == {
        "rfmSegment": "champions", "label": {"en": "Champions", "zhCn": "冠军客户"}, "rows": [{"tasksCreated": 1}]}
