"""A validation rule: string literals in a GraphQL document must be storable text.

Variables arrive in the JSON body and are vetted with the rest of the request (:mod:`api.input`); a
literal written in the document (``name: "a\\u0000b"``) is decoded by the GraphQL parser, after that
check, so it is checked here, once for every field of every plugin.
"""
from __future__ import annotations

from graphql import GraphQLError, StringValueNode, ValidationRule

from api.input import text_problem


class StorableText(ValidationRule):
    def enter_string_value(self, node: StringValueNode, *_args) -> None:
        problem = text_problem(node.value)
        if problem:
            self.report_error(GraphQLError(f"A string literal is not acceptable text. {problem}", node,
                                           extensions={"code": "BAD_USER_INPUT"}))
