"""Retail membership (零售会员): GraphQL types and fields, contributed through the ``trellis_graphql_*`` hooks."""
from __future__ import annotations


def register_types(registry) -> None:
    return None


def type_fields(registry):
    return None


def query_fields(registry):
    return None


def mutation_fields(registry):
    return None
