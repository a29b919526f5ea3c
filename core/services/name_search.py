"""Name search (``q``: the name contains the term, case-insensitive) as the customer and contact lists
run it, on every database: a term of one or two characters is looked up in the name's grams
(``core.models.name_grams``), a longer one is ``ILIKE '%term%'`` (the trigram index on PostgreSQL)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, func

from core.models.name_grams import GRAM_LENGTHS


def name_contains(stmt: Select, model: Any, grams: Any, key: Any, term: str) -> Select:
    """``stmt`` (a select of ``model``) narrowed to the rows whose name contains ``term``. A term of one
    or two characters joins the gram table ``grams`` (``key``: its column holding ``model``'s id) on the
    id and the name: the planner then reads the rows in name order from the gram index, its ``(name, id)``
    being the list's ``(name, id)``, so the default order's page and the capped total read as many index
    entries as they keep, whatever the table's size. Only the gram ``lower(term)`` is asked for: the
    grams are cut from ``lower(name)``, so a gram finds the rows ``ILIKE`` finds."""
    if len(term) > max(GRAM_LENGTHS):
        return stmt.where(model.name.icontains(term, autoescape=True))
    return stmt.join(grams, and_(key == model.id, grams.name == model.name)).where(grams.gram == func.lower(term))
