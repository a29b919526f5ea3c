"""Each root mutation field commits or fails on its own.

GraphQL runs the root fields of a mutation one after another, in document order. Trellis runs each one
inside a SAVEPOINT of the request's unit of work: a field whose resolver fails rolls back to its savepoint
(its record, audit entry and outbox event are gone) and answers null with its error; the fields before
and after it keep what they wrote, and the request commits them. So a response never reports a record
that does not exist, and never hides one that does. Queries do not write; an error in a query (or a
request refused before anything ran) still rolls the whole request back.
"""
from __future__ import annotations

from typing import Any, Callable

from graphql import OperationType
from strawberry.extensions import SchemaExtension

from core import db


class MutationSavepoints(SchemaExtension):
    """A savepoint per root ``Mutation`` field (see the module docstring)."""

    def resolve(self, _next: Callable, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        if info.path.prev is not None or info.operation.operation != OperationType.MUTATION \
                or not db.has_session():
            return _next(root, info, *args, **kwargs)
        savepoint = db.session().begin_nested()
        try:
            result = _next(root, info, *args, **kwargs)
            # write now, inside the savepoint, so a database refusal fails this field and no other
            db.session().flush()
        except BaseException:
            if savepoint.is_active:
                savepoint.rollback()
            raise
        savepoint.commit()
        return result
