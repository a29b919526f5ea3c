"""The ``Money`` scalar: every amount of money in the schema, core and plugins, as a decimal string.

``"36000.00"`` out (at least two decimal places, never an exponent, never a Float: a float loses cents);
in, a string of digits with an optional sign and decimal part (``"36000"``, ``"-12.5"``) or an integer.
A float or anything else is refused before the resolver runs, as BAD_USER_INPUT naming the field.
Amounts carry no currency: Trellis stores none (every amount of a deployment is in its one currency), so
none is exposed; see docs/graphql.md, "Money".

A resolver returns ``Decimal`` (or an int or float it computed, which is rounded to cents); an argument
or input field typed ``Money`` arrives as ``Decimal``. A plugin annotates with it::

    from api.graphql.money import Money

    @registry.type("Fee")
    class Fee:
        amount: Money

and :mod:`api.graphql.from_schema` types a marshmallow :class:`core.schemas.Money` field with it.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, NewType

import strawberry
from graphql import FloatValueNode, IntValueNode, StringValueNode

__all__ = ["MONEY_SCALAR", "Money", "SCALAR_MAP", "parse_money", "serialize_money"]

_CENTS = Decimal("0.01")
_DECIMAL = re.compile(r"^[+-]?\d+(\.\d+)?$")


def serialize_money(value: Any) -> str:
    """Decimal, int or float → ``"36000.00"``: at least two places, no exponent."""
    if isinstance(value, bool):
        raise ValueError(f"Money cannot represent {value!r}.")
    if isinstance(value, float):
        value = Decimal(repr(value)).quantize(_CENTS)
    elif isinstance(value, (int, str)):
        value = Decimal(value)
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"Money cannot represent {value!r}.")
    if value.as_tuple().exponent > -2:
        value = value.quantize(_CENTS)
    return format(value, "f")


def parse_money(value: Any) -> Decimal:
    """A client's value → Decimal; a float or a string that is not a plain decimal is a ValueError."""
    if isinstance(value, Decimal) and value.is_finite():
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, float):
        raise ValueError(f"Money is a decimal string such as \"36000.00\", not the float {value!r} "
                         "(a float loses cents).")
    if isinstance(value, str) and _DECIMAL.match(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:   # pragma: no cover - the pattern admits only valid decimals
            pass
    raise ValueError(f"Money is a decimal string such as \"36000.00\"; {value!r} is not one.")


def _parse_literal(node: Any, _variables: Any = None) -> Decimal:
    if isinstance(node, FloatValueNode):
        raise ValueError(f"Money is a decimal string such as \"36000.00\", not the float {node.value} "
                         "(a float loses cents); quote it.")
    if isinstance(node, (IntValueNode, StringValueNode)):
        return parse_money(int(node.value) if isinstance(node, IntValueNode) else node.value)
    raise ValueError("Money is a decimal string such as \"36000.00\".")


#: the Python type of a Money field, argument or input field (a Decimal)
Money = NewType("Money", Decimal)

#: how the schema maps it (compose passes it to ``StrawberryConfig(scalar_map=...)``)
MONEY_SCALAR = strawberry.scalar(
    name="Money",
    description=("An amount of money as a decimal string, e.g. \"36000.00\" (at least two decimal places; "
                 "never a float). Input: a decimal string or an integer; a float is refused. Amounts are in "
                 "the deployment's one currency (Trellis stores no currency per amount)."),
    serialize=serialize_money,
    parse_value=parse_money,
    parse_literal=_parse_literal,
)

SCALAR_MAP = {Money: MONEY_SCALAR}
