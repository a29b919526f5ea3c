"""The house CRUD fields of one record, from its service functions: what ``api.rest.crud.crud_blueprint``
is to REST. The core uses it for customers, contacts and interactions; a plugin uses it for its records::

    from api.graphql.crud import CrudService, crud_fields

    def _notes(registry):
        return crud_fields(
            registry, "Note",
            service=CrudService(list=services.list_notes, get=services.get_note, create=services.create_note,
                                update=services.update_note, delete=services.delete_note,
                                restore=services.restore_note),
            create_input="NoteCreateInput", update_input="NoteUpdateInput", filter_input="NoteFilter",
            sortable=list(services.SORTABLE), default_sort="-created_at",
            descriptions={"get": "One note you may see.", "list": "The notes you may see."})

    @hookimpl
    def trellis_graphql_query_fields(registry):
        return _notes(registry).query          # note(id:), notes(first:, after:, last:, before:, filter:, orderBy:)

    @hookimpl
    def trellis_graphql_mutation_fields(registry):
        return _notes(registry).mutation       # createNote, updateNote, deleteNote, restoreNote

The fields only translate, as a hand-written resolver would: ``input_to_dict`` for inputs and filters,
``page_request`` / ``connection`` for the list (so its records are primed for batch loading), the caller
as ``info.context.user``, and a service error's field names as the client wrote them (``filter.stage``,
``orderBy``). Types and inputs are named as registered (``registry.type`` / ``registry.input``); call
``crud_fields`` inside the hooks, since every app builds its own fields. A field the pattern does not fit
(other arguments, another return type) is written by hand next to these: add it to the dict.
"""
import inspect
from typing import Annotated, Any, Mapping, NamedTuple, Optional, Sequence

import strawberry
from strawberry.types.field import StrawberryField

from api.graphql.descriptions import a_type
from api.graphql.inputs import field_names, input_to_dict, label_field_names, snake_case
from api.graphql.ordering import order_by_description, order_by_type, order_to_service
from api.graphql.pagination import After, Before, First, Last, connection, page_request
from core.errors import PluginError
from core.services.common import CrudService

__all__ = ["CrudFields", "CrudService", "DESCRIPTIONS", "OPERATIONS", "crud_fields", "order_by_description"]

#: the operations, in the order their fields are returned (queries, then mutations)
OPERATIONS = ("get", "list", "create", "update", "delete", "restore")
#: descriptions every record's fields carry unless ``descriptions`` says otherwise; ``{type}`` is the type's name,
#: ``{a_type}`` the same with its article (an `Interaction`)
DESCRIPTIONS = {
    "get": "One `{type}` by its id: null, with a NOT_FOUND error, when it does not exist or is not yours to see.",
    "list": "The `{type}` records you may see, a page at a time.",
    "create": "Creates {a_type} and returns it.",
    "update": "Changes {a_type} and returns it. Send the version you read.",
    "delete": "Soft-deletes {a_type} (its restore mutation brings it back); returns the deleted record.",
    "restore": "Brings a soft-deleted `{type}` back; returns it.",
}


class CrudFields(NamedTuple):
    """What ``trellis_graphql_query_fields`` and ``trellis_graphql_mutation_fields`` return."""

    query: dict[str, StrawberryField]
    mutation: dict[str, StrawberryField]


def crud_fields(registry: Any, type_name: str, *, service: CrudService, create_input: str | None = None,
                update_input: str | None = None, filter_input: str | None = None,
                sortable: Sequence[str] | None = None, default_sort: str | None = None,
                names: Mapping[str, str | None] | None = None,
                descriptions: Mapping[str, str | None] | None = None) -> CrudFields:
    """The query and mutation fields of the record ``type_name`` (a type registered with ``registry.type``),
    served by ``service``.

    - ``get`` — ``customer(id: ID!): Customer``: ``service.get(user, id)``.
    - ``list`` — ``customers(first: Int, after: String, last: Int, before: String, filter: CustomerFilter,
      orderBy: [CustomerOrder!]): CustomerConnection``: ``service.list(user, filters, page=…, sort=…)``, ``page`` a
      :class:`core.services.paging.KeysetRequest` (cursors bound to the ordering; 20 rows by default). ``filter`` is there when
      ``filter_input`` is given, ``orderBy`` when ``sortable`` is (the service's sort keys, snake_case, as
      REST lists them: they become the values of the enum ``CustomerOrderField`` of the input
      ``CustomerOrder {field, direction}``, see :mod:`api.graphql.ordering`; the description names
      ``default_sort``, the service's default).
    - ``create`` — ``createCustomer(input: CustomerCreateInput!): Customer``, when ``create_input`` is given.
    - ``update`` — ``updateCustomer(id: ID!, input: CustomerUpdateInput!): Customer``, when ``update_input``
      is given (the input carries the ``version`` read).
    - ``delete`` — ``deleteCustomer(id: ID!): Customer``: soft delete, then returns the deleted record
      (``service.get(user, id, deleted=True)``).
    - ``restore`` — ``restoreCustomer(id: ID!): Customer``.

    ``names`` overrides a field's name by operation (``{"list": "allNotes"}``); ``None`` leaves the field
    out, and so may the service function (``CrudService(..., restore=None)`` with ``{"restore": None}``).
    The defaults are ``note``, ``notes``, ``createNote`` … for ``Note``. ``descriptions`` sets a field's
    description by operation, over :data:`DESCRIPTIONS` (``None`` removes one; ``{type}`` is ``type_name``,
    ``{a_type}`` the same with its article). Every field returns a
    nullable record, so an error (``NOT_FOUND``, ``BAD_USER_INPUT``, ``CONFLICT`` …) nulls only its field.
    """
    names = dict(names or {})
    described = {**DESCRIPTIONS, **(descriptions or {})}
    for what, given in (("names", names), ("descriptions", described)):
        unknown = sorted(set(given) - set(OPERATIONS))
        if unknown:
            raise PluginError(f"Plugin '{registry.owner}': crud_fields('{type_name}') got {what} for "
                              f"{', '.join(map(repr, unknown))}; the operations are {', '.join(OPERATIONS)}.")
    inputs = {"create": create_input, "update": update_input}
    for operation, given in inputs.items():
        if given is None and names.get(operation):
            raise PluginError(f"Plugin '{registry.owner}': crud_fields('{type_name}') names a {operation} "
                              f"field but has no {operation}_input; pass the input's name.")

    registry.node_getter(type_name, service.get)   # node(id:) reads the record as get does
    one = type_name[:1].lower() + type_name[1:]
    defaults = {"get": one, "list": f"{one}s", **{op: f"{op}{type_name}" for op in OPERATIONS[2:]}}
    record = Optional[registry.ref(type_name)]
    makers = {
        "get": lambda: _get(service, record),
        "list": lambda: _list(registry, type_name, service, filter_input, sortable, default_sort),
        "create": lambda: _create(service, record, registry.ref(create_input)),
        "update": lambda: _update(service, record, registry.ref(update_input)),
        "delete": lambda: _delete(service, record),
        "restore": lambda: _restore(service, record),
    }

    out = CrudFields({}, {})
    for operation in OPERATIONS:
        name = names.get(operation, defaults[operation])
        if name is None or (operation in inputs and inputs[operation] is None):
            continue
        if getattr(service, operation) is None:
            raise PluginError(f"Plugin '{registry.owner}': crud_fields('{type_name}') serves '{name}' but the "
                              f"service has no {operation} function; pass it, or names={{'{operation}': None}}.")
        resolver = makers[operation]()
        resolver.__name__ = resolver.__qualname__ = snake_case(name)
        make = strawberry.field if operation in ("get", "list") else strawberry.mutation
        fields = out.query if operation in ("get", "list") else out.mutation
        text = described.get(operation)
        text = text and text.replace("{a_type}", a_type(type_name)).replace("{type}", type_name)
        fields[name] = make(resolver=resolver, description=text)
    return out


# --- the resolvers: annotations are evaluated here, so this module must not use
# --- ``from __future__ import annotations``

def _get(service: CrudService, record: Any):
    def get(info: strawberry.Info, id: strawberry.ID) -> record:
        return service.get(info.context.user, id)

    return get


def _list(registry: Any, type_name: str, service: CrudService, filter_input: str | None,
          sortable: Sequence[str] | None, default_sort: str | None):
    filter_type = registry.ref(filter_input) if filter_input else None
    order_doc = order_by_description(sortable, default_sort) if sortable is not None else None
    order_type = order_by_type(registry, type_name, sortable) if sortable is not None else Optional[str]

    def list_(info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
              before: Before = None, filter: Optional[filter_type] = None,
              order_by: Annotated[order_type, strawberry.argument(description=order_doc)] = None,
              ) -> Optional[registry.connection(type_name)]:
        request = page_request(first, after, last, before)
        with field_names({"sort": "orderBy"}, prefix="filter."):
            page = service.list(info.context.user, input_to_dict(filter), page=request,
                                sort=order_to_service(order_by))
        return connection(info, page)

    # the arguments a record does not have are left out of the signature strawberry reads
    absent = {"filter"} if filter_type is None else set()
    absent |= {"order_by"} if order_doc is None else set()
    signature = inspect.signature(list_)
    list_.__signature__ = signature.replace(
        parameters=[p for p in signature.parameters.values() if p.name not in absent])
    return list_


def _create(service: CrudService, record: Any, input_type: Any):
    def create(info: strawberry.Info, input: input_type) -> record:
        with field_names(label_field_names(type(input))):
            return service.create(info.context.user, input_to_dict(input))

    return create


def _update(service: CrudService, record: Any, input_type: Any):
    def update(info: strawberry.Info, id: strawberry.ID, input: input_type) -> record:
        with field_names(label_field_names(type(input))):
            return service.update(info.context.user, id, input_to_dict(input))

    return update


def _delete(service: CrudService, record: Any):
    def delete(info: strawberry.Info, id: strawberry.ID) -> record:
        service.delete(info.context.user, id)
        return service.get(info.context.user, id, deleted=True)

    return delete


def _restore(service: CrudService, record: Any):
    def restore(info: strawberry.Info, id: strawberry.ID) -> record:
        return service.restore(info.context.user, id)

    return restore
