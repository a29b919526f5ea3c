"""Compose one app's GraphQL schema from the core and every enabled plugin.

The order is fixed: every component's types (core first, then plugins in ``PluginSet.enabled_names`` order),
then the fields components add to each other's types, then ``Query`` and ``Mutation`` fields. Each hook
is called through :meth:`core.plugins.PluginSet.call_each`, one result per plugin, so a clash names the
two plugins involved; the registry knows which component is calling it while each hook runs.
"""
from __future__ import annotations

import contextlib
import functools
import sys
import threading
import weakref
from collections import OrderedDict
from typing import Any, Iterator

import strawberry
from strawberry.extensions import (AddValidationRules, MaxAliasesLimiter, MaxTokensLimiter, ParserCache,
                                   QueryDepthLimiter, ValidationCache)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import validate_document

from api.graphql import core_schema, savepoints
from api.graphql.descriptions import derive as derive_descriptions
from api.graphql.errors import TrellisErrors
from api.graphql.limits import CostLimiter
from api.graphql.money import SCALAR_MAP
from api.graphql.registry import CORE, SchemaRegistry
from api.graphql.text_rule import StorableText
from api.graphql.vocabularies import guard_unknown
from core.errors import PluginError
from core.runtime import Runtime


#: How many distinct query documents a process keeps parsed and validated (least recently used go first).
DOCUMENT_CACHE_SIZE = 256


class _SchemaValidationCache(ValidationCache):
    """strawberry's ValidationCache with a cache of its schema's own: strawberry's is one per process,
    whose keys would keep every schema ever built (each test's app) alive."""

    def __init__(self, validated: Any) -> None:
        super().__init__(maxsize=DOCUMENT_CACHE_SIZE)
        self.cached_validate_document = validated


class TrellisSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Strawberry logs every error here; Trellis logs only bugs, in :class:`TrellisErrors` (a
        NOT_FOUND is an answer, not an incident)."""


#: the hooks whose implementations make the schema (with the vocabularies and the limits: :func:`_inputs`)
SCHEMA_HOOKS = ("trellis_graphql_types", "trellis_graphql_type_fields", "trellis_graphql_query_fields",
                "trellis_graphql_mutation_fields")
#: how many schemas :func:`schema_for` keeps (tests build apps with many plugin sets; a server builds one)
KEPT_SCHEMAS = 4
_built: OrderedDict[tuple, TrellisSchema] = OrderedDict()
_built_lock = threading.Lock()


def schema_for(runtime: Runtime) -> TrellisSchema:
    """The schema of ``runtime``'s components: :func:`build_schema`'s, or the one an earlier app of this
    process built from the same inputs (the same hook implementations of the same plugins, in the same
    order, the same vocabularies and limits, Sentry's integration on or off), which is the same schema: building it is a third of
    ``create_app``. Resolvers read the app's runtime from the request's context, never from the schema,
    so apps may share it."""
    key = _inputs(runtime)
    with _built_lock:
        schema = _built.get(key)
        if schema is not None:
            _built.move_to_end(key)
            return schema
    schema = build_schema(runtime)
    with _built_lock:
        _built[key] = schema
        while len(_built) > KEPT_SCHEMAS:
            _built.popitem(last=False)
    return schema


def _inputs(runtime: Runtime) -> tuple[Any, ...]:
    """What :func:`build_schema` reads, as a key: the hook implementations themselves (kept alive by the
    key, so an id is never reused by another plugin's), the vocabularies with their owners, the limits."""
    plugins, labels, settings = runtime.plugins, runtime.labels, runtime.settings
    hooks = tuple((hook, tuple((name, impl) for name, impl in _implementations(plugins, hook)))
                  for hook in SCHEMA_HOOKS)
    vocabularies = tuple((name, labels.owner(name), tuple((c.value, c.en, c.zh_cn) for c in choices))
                         for name, choices in labels.vocabularies().items())
    limits = (settings.graphql_max_depth, settings.graphql_max_aliases, settings.graphql_max_tokens,
              settings.graphql_max_cost)
    return tuple(plugins.enabled_names), hooks, vocabularies, limits, _sentry_extension()


def _sentry_extension() -> bool:
    """Whether Sentry's strawberry integration is on: it adds its extension to every schema made while
    it is (it patches ``strawberry.Schema.__init__``)."""
    sentry = sys.modules.get("sentry_sdk")
    if sentry is None:
        return False
    from sentry_sdk.integrations.strawberry import StrawberryIntegration

    return sentry.get_client().get_integration(StrawberryIntegration) is not None


def _implementations(plugins: Any, hook: str) -> list[tuple[str, Any]]:
    impls = {impl.plugin_name: impl.function for impl in getattr(plugins.pm.hook, hook).get_hookimpls()}
    return [(name, impls[name]) for name in plugins.implementers(hook)]


def build_schema(runtime: Runtime) -> TrellisSchema:
    registry = SchemaRegistry(labels=runtime.labels)
    plugins = runtime.plugins

    core_schema.types(registry)
    plugins.call_each("trellis_graphql_types", registry=registry,
                      around=_attributed("trellis_graphql_types", registry))

    registry.add_type_fields(CORE, core_schema.type_fields(registry))
    for owner, fields in plugins.call_each("trellis_graphql_type_fields", registry=registry,
                                           around=_attributed("trellis_graphql_type_fields", registry)):
        registry.add_type_fields(owner, fields)

    registry.add_root_fields("Query", CORE, core_schema.query_fields(registry))
    for owner, fields in plugins.call_each("trellis_graphql_query_fields", registry=registry,
                                           around=_attributed("trellis_graphql_query_fields", registry)):
        registry.add_root_fields("Query", owner, fields)

    registry.add_root_fields("Mutation", CORE, core_schema.mutation_fields(registry))
    for owner, fields in plugins.call_each("trellis_graphql_mutation_fields", registry=registry,
                                           around=_attributed("trellis_graphql_mutation_fields", registry)):
        registry.add_root_fields("Mutation", owner, fields)

    query, mutation = registry.build_roots()
    savepoints.add_to(mutation)
    settings = runtime.settings
    # The limits' validation rules are made once per schema, so a document's validation, cached by the
    # rules with it, is done once: a client's repeated query is parsed and validated once per process
    # (a sixth of a page of 50 customers with contacts). The cost limit depends on the variables and
    # runs for every operation (api/graphql/limits.py).
    rules = [*QueryDepthLimiter(max_depth=settings.graphql_max_depth).validation_rules,
             *MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases).validation_rules,
             StorableText]
    validated = functools.lru_cache(maxsize=DOCUMENT_CACHE_SIZE)(validate_document)
    try:
        schema = TrellisSchema(
            query=query,
            mutation=mutation,
            config=StrawberryConfig(scalar_map=SCALAR_MAP),   # Money (api/graphql/money.py)
            # every vocabulary's enum, used by a field or not, and every record type, reachable through
            # node(id:) even when no field returns it
            types=[*registry.vocabulary_enums().values(),
                   *(getattr(registry.module, name) for name in registry.node_sources())],
            extensions=[
                TrellisErrors,
                lambda: MaxTokensLimiter(max_token_count=settings.graphql_max_tokens),
                lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
                lambda: AddValidationRules(rules),
                lambda: _SchemaValidationCache(validated),
                lambda: CostLimiter(max_cost=settings.graphql_max_cost),
            ],
        )
    except PluginError:
        raise
    except Exception as exc:
        registry.check_references()   # a reference made by a string annotation, named with its plugin
        raise PluginError(
            f"The GraphQL schema of the enabled plugins ({', '.join(plugins.enabled_names)}) could not be "
            f"built: {exc}. The plugin whose type or field is named above must fix it, or be disabled."
        ) from exc
    guard_unknown(schema._schema, [enum_cls.__strawberry_definition__.name
                                   for enum_cls in registry.vocabulary_enums().values()])
    _apply_nullability(schema, registry)
    derive_descriptions(schema._schema, registry)   # api/graphql/descriptions.py: never over the author's
    # the synthetic module is needed while the schema resolves its lazy references; drop it with the schema
    weakref.finalize(schema, sys.modules.pop, registry.module_name, None)
    schema.trellis_registry = registry
    return schema


def _apply_nullability(schema: TrellisSchema, registry: SchemaRegistry) -> None:
    """The nullability policy (docs/graphql.md), enforced for every component alike:

    1. every ``Query`` and ``Mutation`` field is nullable, so an error in one nulls that field and not
       the whole ``data`` (with the mutation's savepoint, the fields before it keep their records);
    3. a field of a type that returns another record (a ``Node``) or a page of records (a connection) is
       nullable: that read may be refused or find nothing, and must not erase the record holding it.
       An edge's ``node`` stays non-null (an edge exists only for a record)."""
    from graphql import GraphQLNonNull, GraphQLObjectType

    gql = schema._schema
    roots = {t for t in (gql.query_type, gql.mutation_type) if t is not None}
    pages = {f"{name}{suffix}" for name in registry._connections for suffix in ("Connection", "Edge")}
    node_types = set(registry.node_sources())
    for gql_type in gql.type_map.values():
        if not isinstance(gql_type, GraphQLObjectType) or gql_type.name in pages \
                or gql_type.name.startswith("__"):
            continue
        for field in gql_type.fields.values():
            if not isinstance(field.type, GraphQLNonNull):
                continue
            inner = field.type.of_type
            if gql_type in roots or getattr(inner, "name", None) in node_types | pages:
                field.type = inner


def _attributed(hook_name: str, registry: SchemaRegistry):
    """``call_each``'s ``around``: while a plugin's implementation of ``hook_name`` runs, the registry
    knows which plugin is calling it (types registered with ``registry.type`` are not return values, so
    ``call_each`` cannot tell). An exception escaping it is named by ``call_each``."""

    @contextlib.contextmanager
    def owned(name: str) -> Iterator[None]:
        registry.owner = name
        try:
            yield
        finally:
            registry.owner = CORE

    return owned
