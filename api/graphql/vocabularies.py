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

Over the wire a field answers ``FIRST_PURCHASE``; in Python the resolvers keep returning the stored
``"first_purchase"`` and arguments and inputs arrive as members of a :class:`enum.StrEnum` whose values are
the stored strings (``input_to_dict`` turns them into plain strings), so services are unchanged.
"""
from __future__ import annotations

import enum
import re
from typing import TYPE_CHECKING

import strawberry

from core.errors import PluginError

if TYPE_CHECKING:
    from core.labels import LabelRegistry

CORE = "core"
STATE_SUFFIX = ".state"

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
        members: dict[str, str] = {}
        for choice in choices:
            member = enum_value_name(choice.value)
            if member in members:
                raise PluginError(
                    f"The values '{members[member]}' and '{choice.value}' of the vocabulary '{vocabulary}' would "
                    f"both be the GraphQL enum value {type_name}.{member}. Rename one of them.")
            members[member] = choice.value
        cls = enum.StrEnum(type_name, list(members.items()), module=__name__)
        strawberry.enum(cls, name=type_name, description=vocabulary_description(vocabulary, owner))
        for value, choice in zip(cls.__strawberry_definition__.values, choices):
            value.description = choice.en
        out[vocabulary] = cls
    return out
