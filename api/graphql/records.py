"""GraphQL for a record declared once (``core.records.RecordSpec``): its type and inputs
(:func:`record_types`), its six house fields (:func:`record_fields`) and a nested list of it under a parent
type (:func:`nested_records`), all made from the declaration::

    @hookimpl
    def trellis_graphql_types(registry):
        record_types(registry, COURSES, ENROLMENTS)    # TrainingCourse, …CreateInput, …UpdateInput, …Filter

    @hookimpl
    def trellis_graphql_query_fields(registry):
        return record_fields(registry, COURSES, ENROLMENTS).query

    @hookimpl
    def trellis_graphql_type_fields(registry):
        return {"Customer": {"trainingEnrolments": nested_records(
            registry, ENROLMENTS, "customer_id", "The customer's enrolments you may see, newest first.")}}
"""
# no `from __future__ import annotations`: strawberry reads the resolvers' annotations
from typing import Any, Mapping

import strawberry

from api.graphql.crud import CrudFields, crud_fields
from api.graphql.from_schema import crud_inputs, type_from_schema
from api.graphql.ordering import order_by_argument, order_to_service
from api.graphql.pagination import After, Before, First, Last, nested_connection, page_request

__all__ = ["nested_records", "record_fields", "record_types"]


def record_types(registry: Any, *specs: Any, own_type: bool = False, base: type | None = None, prefix: str = "",
                 metadata: Mapping[str, dict] | None = None) -> None:
    """Register, for each declared record, the object type ``<name>`` (from its output schema: field names,
    types, nullability, descriptions, vocabularies as enums) and the inputs ``<name>CreateInput``,
    ``<name>UpdateInput`` and ``<name>Filter``. ``own_type=True`` registers only the inputs, for a record
    whose type the plugin writes itself; ``base`` adds resolvers to the type (as ``type_from_schema``);
    ``prefix`` names nested inputs and ``metadata`` gives fields' strawberry metadata, as ``crud_inputs``."""
    for spec in specs:
        if not own_type:
            type_from_schema(registry, spec.name, spec.out_schema, vocabularies=spec.vocabularies, base=base,
                             prefix=prefix, metadata=metadata)
        crud_inputs(registry, spec.name, create=spec.create_schema, update=spec.update_schema,
                    filter=spec.filter_schema, prefix=prefix, vocabularies=spec.vocabularies, metadata=metadata)


def record_fields(registry: Any, *specs: Any, **overrides: Any) -> CrudFields:
    """The query and mutation fields (``trainingCourse(id:)``, ``trainingCourses(…)``,
    ``createTrainingCourse`` …) of each declared record, served by its service: :func:`crud_fields` with
    the inputs of :func:`record_types` and the spec's sort keys and default ordering. ``overrides`` go to
    ``crud_fields`` (``names``, ``descriptions``, ``default_sort=None`` …) for every spec given."""
    out = CrudFields({}, {})
    for spec in specs:
        arguments = {"create_input": f"{spec.name}CreateInput", "update_input": f"{spec.name}UpdateInput",
                     "filter_input": f"{spec.name}Filter", "sortable": list(spec.sortable),
                     "default_sort": spec.default_sort, **overrides}
        made = crud_fields(registry, spec.name, service=spec.crud_service(), **arguments)
        out.query.update(made.query)
        out.mutation.update(made.mutation)
    return out


def nested_records(registry: Any, spec: Any, by: str, description: str, *, default: int = 10,
                   key: str = "id") -> Any:
    """A field listing, under a parent type, the declared records whose foreign key ``by`` names the parent
    (its attribute ``key``): ``Customer.trainingEnrolments(first:, after:, last:, before:, orderBy:)``, a
    connection of the records the user may see, ``default`` per page. Every parent of a page is read in one
    statement (``spec.pages_for``) and counted in one more when ``totalCount`` is asked
    (``spec.counts_for``). Return it from ``trellis_graphql_type_fields``."""
    Order = order_by_argument(registry, spec.name, list(spec.sortable), spec.default_sort)
    Connection = registry.connection(spec.name)
    name = f"{spec.name}.{by}"

    def resolve(root: strawberry.Parent[object], info: strawberry.Info, first: First = None, after: After = None,
                last: Last = None, before: Before = None, order_by: Order = None) -> Connection:
        user, sort = info.context.user, order_to_service(order_by)
        return nested_connection(
            info.context.loaders, f"{name}.pages", lambda ids, request: spec.pages_for(user, by, ids, request, sort),
            getattr(root, key), page_request(first, after, last, before, default=default),
            count_name=f"{name}.counts", count_batch=lambda ids: spec.counts_for(user, by, ids), sort=sort)

    return strawberry.field(resolver=resolve, description=description)
