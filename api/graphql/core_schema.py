"""The core's part of the schema, registered (as the component ``core``) before any plugin's, through
the same registry calls a plugin makes."""
from api.graphql import contacts, customers, interactions, meta, users

DOMAINS = (customers, contacts, interactions, users, meta)


def types(registry) -> None:
    for domain in DOMAINS:
        domain.types(registry)


def query_fields(registry) -> dict:
    out: dict = {}
    for domain in DOMAINS:
        out.update(domain.query_fields(registry))
    return out


def mutation_fields(registry) -> dict:
    out: dict = {}
    for domain in DOMAINS:
        out.update(getattr(domain, "mutation_fields", lambda r: {})(registry))
    return out
