"""The core's part of the schema, registered (as the component ``core``) before any plugin's, through
the same registry calls a plugin makes."""
from api.graphql import (analytics, analytics_lists, contacts, customers, duplicates, exports, interactions, lifecycle,
                         meta, nodes, people, privacy, users, webhooks)

DOMAINS = (customers, contacts, interactions, users, people, meta, lifecycle, webhooks, analytics, analytics_lists,
           privacy, duplicates, exports, nodes)


def types(registry) -> None:
    for domain in DOMAINS:
        domain.types(registry)


def type_fields(registry) -> dict:
    """Fields some core domains add to others' types (``Customer.stageHistory``, ``Customer.rfm``)."""
    out: dict = {}
    for domain in DOMAINS:
        for type_name, fields in getattr(domain, "type_fields", lambda r: {})(registry).items():
            out.setdefault(type_name, {}).update(fields)
    return out


def query_fields(registry) -> dict:
    out: dict = {}
    for domain in DOMAINS:
        out.update(getattr(domain, "query_fields", lambda r: {})(registry))
    return out


def mutation_fields(registry) -> dict:
    out: dict = {}
    for domain in DOMAINS:
        out.update(getattr(domain, "mutation_fields", lambda r: {})(registry))
    return out
