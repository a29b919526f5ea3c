"""Query cost and input size limits, checked before a GraphQL operation executes.

Depth, alias and token limits (strawberry's ``QueryDepthLimiter``, ``MaxAliasesLimiter``,
``MaxTokensLimiter``) bound the *shape* of a document but not the rows it asks for: 30 aliases of
``customers(first: 100) { contacts interactions(first: 10) }`` pass all three and took 14 s. Strawberry
has no cost limit of its own, so :class:`CostLimiter` estimates one:

- every field that returns records costs the number of records it may return, multiplied by the
  number of parents it is asked for: a connection or list field with ``first``/``last`` costs that
  many (the argument's value, from the variables if it is one, else its schema default); a plain list
  without such an argument costs :data:`LIST_SIZE_GUESS`; a single object costs 1; scalars cost
  nothing. Inside a connection, ``edges``/``node``/``pageInfo`` cost nothing more (the connection paid).
- fragments count where they are spread; introspection (``__schema``, ``__type``) counts nothing.

An operation whose estimate is above ``TRELLIS_GRAPHQL_MAX_COST`` is refused before anything runs with
a GraphQL error coded ``BAD_USER_INPUT`` (``extensions.cost`` and ``extensions.maxCost`` give the
numbers). The same extension refuses a variable holding a list longer than :data:`MAX_INPUT_LIST`
items — before graphql-core coerces it item by item (the service would refuse it anyway, later).
"""
from __future__ import annotations

from typing import Any, Iterator

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_composite_type,
    value_from_ast_untyped,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from api.graphql.errors import BAD_USER_INPUT
from core.services.paging import DEFAULT_PAGE_SIZE

#: the size assumed for a list field without ``first``/``last`` (a customer's contacts, a sale's lines)
LIST_SIZE_GUESS = 10
#: the longest list a variable may hold (the largest batch any mutation accepts)
MAX_INPUT_LIST = 5000
_CONNECTION_INNER = {"edges", "node", "pageInfo", "cursor"}


def _unwrap_nonnull(t):
    return t.of_type if isinstance(t, GraphQLNonNull) else t


def _is_connection(t) -> bool:
    return isinstance(t, GraphQLObjectType) and "edges" in t.fields and "pageInfo" in t.fields


def _is_edge(t) -> bool:
    return isinstance(t, GraphQLObjectType) and "node" in t.fields and "cursor" in t.fields


class _Estimator:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode],
                 variables: dict[str, Any]):
        self.schema, self.fragments, self.variables = schema, fragments, variables

    def _page_size(self, node: FieldNode, field_def) -> int | None:
        for name in ("first", "last"):
            arg = next((a for a in node.arguments or () if a.name.value == name), None)
            value = None
            if arg is not None:
                if isinstance(arg.value, VariableNode):
                    value = self.variables.get(arg.value.name.value)
                else:
                    value = value_from_ast_untyped(arg.value)
            elif name in field_def.args:
                default = field_def.args[name].default_value
                value = default if isinstance(default, int) else None
            if isinstance(value, int) and not isinstance(value, bool):
                return max(value, 0)
        return None

    def selections(self, selection_set: SelectionSetNode | None, parent, multiplier: int,
                   seen: frozenset[str] = frozenset()) -> int:
        if selection_set is None or not isinstance(parent, GraphQLObjectType):
            # an interface or union (node(id:), nodes(ids:)): cost the fields against each possible type
            if selection_set is not None and parent is not None:
                return max((self.selections(selection_set, t, multiplier, seen)
                            for t in self.schema.get_possible_types(parent)), default=0)
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, multiplier, seen)
            elif isinstance(selection, InlineFragmentNode):
                target = parent
                if selection.type_condition is not None:
                    target = self.schema.get_type(selection.type_condition.name.value) or parent
                total += self.selections(selection.selection_set, target if isinstance(target, GraphQLObjectType)
                                         else parent, multiplier, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue
                target = self.schema.get_type(fragment.type_condition.name.value)
                total += self.selections(fragment.selection_set, target if isinstance(target, GraphQLObjectType)
                                         else parent, multiplier, seen | {name})
        return total

    def field(self, node: FieldNode, parent: GraphQLObjectType, multiplier: int, seen) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 0
        field_def = parent.fields.get(name)
        if field_def is None:
            return 0
        returned = _unwrap_nonnull(field_def.type)
        named = get_named_type(returned)
        if not is_composite_type(named):
            return 0  # a scalar or an enum
        if name in _CONNECTION_INNER and (_is_connection(parent) or _is_edge(parent)):
            return self.selections(node.selection_set, named, multiplier, seen)
        if isinstance(returned, GraphQLList) or _is_connection(named):
            size = self._page_size(node, field_def)
            if size is None:
                # a root connection without first/last serves the default page (20); nested ones serve 10,
                # the guess for any other list
                root = parent is self.schema.query_type or parent is self.schema.mutation_type
                size = DEFAULT_PAGE_SIZE if root and _is_connection(named) else LIST_SIZE_GUESS
        else:
            size = 1
        count = multiplier * size
        return count + self.selections(node.selection_set, named, count, seen)


def operation_cost(schema: GraphQLSchema, document, variables: dict[str, Any] | None,
                   operation_name: str | None = None) -> int:
    """The estimated number of records ``document``'s operation may load (see the module docstring)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    estimator = _Estimator(schema, fragments, dict(variables or {}))
    cost = 0
    for operation in operations:
        root = schema.get_root_type(operation.operation)
        cost = max(cost, estimator.selections(operation.selection_set, root, 1))
    return cost


def _longest_list(value: Any) -> int:
    if isinstance(value, list):
        return max([len(value)] + [_longest_list(v) for v in value[:MAX_INPUT_LIST + 1]])
    if isinstance(value, dict):
        return max([0] + [_longest_list(v) for v in value.values()])
    return 0


class CostLimiter(SchemaExtension):
    """Refuses an operation whose estimated cost is above ``max_cost`` (or a variable holding an
    overlong list) before it executes."""

    def __init__(self, *, max_cost: int):
        self.max_cost = max_cost

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        error = self._refusal(ctx)
        if error is not None:
            ctx.result = GraphQLExecutionResult(data=None, errors=[error])
        yield

    def _refusal(self, ctx) -> GraphQLError | None:
        longest = _longest_list(ctx.variables or {})
        if longest > MAX_INPUT_LIST:
            return GraphQLError(f"A variable holds a list of {longest} items; at most {MAX_INPUT_LIST} are "
                                "accepted in one request.", extensions={"code": BAD_USER_INPUT})
        if ctx.graphql_document is None:
            return None
        cost = operation_cost(ctx.schema._schema, ctx.graphql_document, ctx.variables, ctx.operation_name)
        if cost > self.max_cost:
            return GraphQLError(
                f"This query may load about {cost} records, more than the {self.max_cost} allowed in one "
                "request: ask for smaller pages (first:), fewer nested lists or fewer aliases, or split it.",
                extensions={"code": BAD_USER_INPUT, "cost": cost, "maxCost": self.max_cost})
        return None
