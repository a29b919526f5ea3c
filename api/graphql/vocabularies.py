"""GraphQL enums for the label vocabularies: one enum per vocabulary of the app's
:class:`core.labels.LabelRegistry`, so the values a plugin declares (``trellis_labels``,
``trellis_interaction_kinds``, ``trellis_roles``, ``trellis_workflows``) become enum values with no
GraphQL code.

Names, derived by rule so a client can predict them and ``labels`` can report them:

- the enum type: the vocabulary's words in PascalCase (``customer_kind`` → ``CustomerKind``); a workflow's
  state vocabulary drops its ``.state`` suffix (``customer.level.state`` → ``CustomerLevel``); a plugin's
  vocabulary starts with the plugin's name, added when the vocabulary name lacks it (``mood`` of plugin
  ``sample`` → ``SampleMood``), and a word repeated right after itself is said once
  (``retail_membership_membership.tier.state`` → ``RetailMembershipTier``). A vocabulary extended by
  plugins (``interaction_kind``, ``role``) belongs to the component that declared it first, the core.
- each value: the stored string in UPPER_SNAKE: camelCase humps and every run of characters GraphQL does
  not allow in a name (``.``, ``-``, spaces …) become one ``_``, letters are upper-cased, and a leading
  digit gets a ``_`` before it (``first_purchase`` → ``FIRST_PURCHASE``, ``task.reminder`` →
  ``TASK_REMINDER``, ``zh-CN`` → ``ZH_CN``, ``A`` → ``A``, ``12m`` → ``_12M``).

Every vocabulary enum also has :data:`UNKNOWN` (``UNKNOWN_VALUE``): what a field answers for a stored value
the app's vocabulary lacks — a role or interaction kind of a plugin since disabled, a level or tier removed
from the configuration — so one such record is not an error that erases its list. It is only an answer:
sent as input, it is refused like any value the enum does not have (:func:`guard_unknown` wires both).

Over the wire a field answers ``FIRST_PURCHASE``; in Python the resolvers keep returning the stored
``"first_purchase"`` and arguments and inputs arrive as members of a :class:`enum.StrEnum` whose values are
the stored strings (``input_to_dict`` turns them into plain strings), so services are unchanged.
"""
from __future__ import annotations

import enum
import re
from typing import TYPE_CHECKING

import strawberry
from graphql import EnumValueNode, GraphQLError

from core.errors import PluginError

if TYPE_CHECKING:
    from core.labels import LabelRegistry

CORE = "core"
STATE_SUFFIX = ".state"
#: the enum value every vocabulary enum answers for a stored value it does not have
UNKNOWN = "UNKNOWN_VALUE"
_UNKNOWN_STORED = "\x00unknown"   # its Python value: no vocabulary can hold it, and no input reaches it
UNKNOWN_DESCRIPTION = ("A stored value this app's vocabulary does not have (a disabled plugin's, or one removed "
                       "from the configuration); REST shows the value itself. An answer only: never accepted "
                       "as input.")

_WORDS = re.compile(r"[0-9A-Za-z]+")
_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_NAME = re.compile(r"[^0-9A-Za-z]+")


def enum_type_name(vocabulary: str, owner: str = CORE) -> str:
    """The GraphQL enum name of ``vocabulary``, declared by ``owner`` (``core`` or a plugin's name)."""
    words = _WORDS.findall(vocabulary)
    if vocabulary.endswith(STATE_SUFFIX) and len(words) > 1:
        words = words[:-1]
    if owner != CORE:
        prefix = [w.lower() for w in _WORDS.findall(owner)]
        if [w.lower() for w in words[:len(prefix)]] != prefix:
            words = prefix + words
    kept: list[str] = []
    for word in words:
        if not kept or kept[-1].lower() != word.lower():
            kept.append(word)
    name = "".join(w[:1].upper() + w[1:] for w in kept) or "Vocabulary"
    return f"_{name}" if name[0].isdigit() else name


def enum_value_name(value: str) -> str:
    """The GraphQL name of the stored value ``value``: UPPER_SNAKE, a valid GraphQL name."""
    name = _NOT_NAME.sub("_", _HUMP.sub("_", value)).strip("_").upper() or "_"
    return f"_{name}" if name[0].isdigit() else name


def vocabulary_description(vocabulary: str, owner: str = CORE) -> str:
    """The description of the enum of ``vocabulary``."""
    if vocabulary.endswith(STATE_SUFFIX):
        what = f"The states of the workflow `{vocabulary[:-len(STATE_SUFFIX)]}`"
    else:
        what = f"The values of the vocabulary `{vocabulary}`"
    source = "" if owner == CORE else f", declared by the plugin `{owner}`"
    return (f"{what}{source}. Each value is the stored value in UPPER_SNAKE and is described by its English "
            f"label; `labels(vocabulary: \"{vocabulary}\")` gives the English and Chinese labels.")


def build_enums(labels: "LabelRegistry") -> dict[str, type[enum.StrEnum]]:
    """Vocabulary name → its strawberry enum (a fresh :class:`enum.StrEnum` per call, so two apps never
    share one). Two vocabularies with one enum name, or two values of a vocabulary with one value name,
    are a :class:`PluginError` naming them."""
    out: dict[str, type[enum.StrEnum]] = {}
    names: dict[str, str] = {}
    for vocabulary, choices in labels.vocabularies().items():
        if not choices:
            continue   # GraphQL has no empty enums; a vocabulary without values has nothing to type
        owner = labels.owner(vocabulary)
        type_name = enum_type_name(vocabulary, owner)
        if type_name in names:
            raise PluginError(
                f"The vocabularies '{names[type_name]}' and '{vocabulary}' would both be the GraphQL enum "
                f"'{type_name}'. Rename one of them (the plugin that declares it: '{owner}').")
        names[type_name] = vocabulary
        members: dict[str, str] = {UNKNOWN: _UNKNOWN_STORED}
        for choice in choices:
            member = enum_value_name(choice.value)
            if member == UNKNOWN:
                raise PluginError(f"The value '{choice.value}' of the vocabulary '{vocabulary}' would be the GraphQL "
                                  f"enum value {UNKNOWN}, which every vocabulary enum reserves. Rename it.")
            if member in members:
                raise PluginError(
                    f"The values '{members[member]}' and '{choice.value}' of the vocabulary '{vocabulary}' would "
                    f"both be the GraphQL enum value {type_name}.{member}. Rename one of them.")
            members[member] = choice.value
        cls = enum.StrEnum(type_name, list(members.items()), module=__name__)
        strawberry.enum(cls, name=type_name, description=vocabulary_description(vocabulary, owner))
        unknown, *values = cls.__strawberry_definition__.values
        values.append(unknown)   # listed last, after the vocabulary's own values
        cls.__strawberry_definition__.values = values
        unknown.description = UNKNOWN_DESCRIPTION
        for value, choice in zip(values, choices):
            value.description = choice.en
        out[vocabulary] = cls
    return out


def guard_unknown(graphql_schema, enum_names) -> None:
    """Make the built schema's vocabulary enums answer :data:`UNKNOWN` for a stored value they lack (instead
    of failing the field) and refuse :data:`UNKNOWN` as input, literal or variable, like a value the enum
    does not have."""
    for name in enum_names:
        gql_type = graphql_schema.type_map[name]
        gql_type.coerce_output_value = _answer_unknown(gql_type.coerce_output_value)
        gql_type.coerce_input_value = _refuse_unknown_value(gql_type, gql_type.coerce_input_value)
        gql_type.coerce_input_literal = _refuse_unknown_literal(gql_type, gql_type.coerce_input_literal)


def _answer_unknown(coerce):
    def coerce_output_value(value):
        try:
            return coerce(value)
        except GraphQLError:
            if isinstance(value, str):
                return UNKNOWN
            raise
    return coerce_output_value


def _refused(gql_type) -> str:
    return (f"Value '{UNKNOWN}' of '{gql_type.name}' is only an answer (a stored value this app does not know); "
            "send one of the enum's other values.")


def _refuse_unknown_value(gql_type, coerce):
    def coerce_input_value(value, hide_suggestions=False):
        if value == UNKNOWN:
            raise GraphQLError(_refused(gql_type))
        return coerce(value, hide_suggestions)
    return coerce_input_value


def _refuse_unknown_literal(gql_type, coerce):
    def coerce_input_literal(node, hide_suggestions=False):
        if isinstance(node, EnumValueNode) and node.value == UNKNOWN:
            raise GraphQLError(_refused(gql_type), node)
        return coerce(node, hide_suggestions)
    return coerce_input_literal
