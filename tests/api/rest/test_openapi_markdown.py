"""OpenAPI descriptions are Markdown (CommonMark): Swagger UI shows reStructuredText literally, so no
description or summary in the served document, plugins included, may carry reST markup."""
from __future__ import annotations

import re

RST = [
    (re.compile(r"``[^`]+``"), "``double backticks`` (Markdown: `single`)"),
    (re.compile(r":[a-z]+(?::[a-z]+)?:`"), ":role:`…` (Markdown: `name`)"),
    (re.compile(r"^\s*\.\. [\w-]+::", re.M), ".. directive::"),
]


def _texts(node, path="$"):
    """Every description and summary in the document, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("description", "summary") and isinstance(value, str):
                yield f"{path}.{key}", value
            else:
                yield from _texts(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _texts(value, f"{path}[{i}]")


def rst_markup(document) -> list[str]:
    return [f"{where}: {why}: {text[:120]!r}" for where, text in _texts(document)
            for pattern, why in RST if pattern.search(text)]


def test_the_checker_finds_rst_markup():
    doc = {"paths": {"/x": {"get": {"description": "send the ``version``", "summary": "ok `version`"}}},
           "components": {"schemas": {"A": {"properties": {"a": {"description": "see :func:`f`"}}},
                                      "B": {"description": "text\n\n.. note:: careful"}}}}
    assert len(rst_markup(doc)) == 3


def test_the_served_openapi_document_has_no_restructuredtext(api):
    document = api.get("/api/v1/openapi.json").get_json()
    assert len(document["paths"]) > 50  # every plugin's paths are in
    found = rst_markup(document)
    assert not found, f"{len(found)} descriptions with reStructuredText:\n" + "\n".join(found)
