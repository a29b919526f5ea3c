"""Response bodies encoded by orjson, for REST (Flask's JSON provider) and GraphQL alike.

Encoding a page of 100 customers took Python's ``json`` about 290 µs and orjson about 25 (issue #16,
docs/performance.md). The values are the same as Flask's own provider writes: ``datetime``, ``date``,
dataclasses and ``__html__`` objects go through Flask's ``default`` as before (orjson is told to pass
them), ``Decimal`` and ``UUID`` become strings, keys keep their order unless ``sort_keys`` is set. What
differs is the spelling: non-ASCII characters are written as UTF-8, not as ``\\u676d``-style escapes (Chinese
names take 3 bytes instead of 6), and NaN is ``null``. Whatever orjson refuses (an integer past 64 bits,
a lone surrogate in a string that predates the input checks) is encoded by Python's ``json`` instead.
"""
from __future__ import annotations

import json
from typing import Any, Callable

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider

#: orjson hands these to ``default`` (Flask's RFC 822 dates, ``dataclasses.asdict``), as Python's json did;
#: non-string keys are written as strings, as Python's json does for numbers
OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS


def dumps_bytes(obj: Any, default: Callable[[Any], Any] | None = None, *, sort_keys: bool = False,
                newline: bool = False) -> bytes:
    """``obj`` as compact JSON in UTF-8 bytes (orjson; Python's json for what orjson refuses)."""
    option = OPTIONS | (orjson.OPT_SORT_KEYS if sort_keys else 0) | (orjson.OPT_APPEND_NEWLINE if newline else 0)
    try:
        return orjson.dumps(obj, default=default, option=option)
    except orjson.JSONEncodeError:
        # escaped to ASCII, as before: a lone surrogate has no UTF-8
        text = json.dumps(obj, default=default, sort_keys=sort_keys, separators=(",", ":"))
        return (text + "\n" if newline else text).encode()


class OrjsonProvider(DefaultJSONProvider):
    """Flask's JSON provider with orjson writing compact bodies (``jsonify``, flask-smorest's responses,
    ``app.json.dumps``). Pretty-printed output (debug mode, ``compact = False``) and calls passing
    ``json.dumps`` options keep Python's json."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs:
            return super().dumps(obj, **kwargs)
        return dumps_bytes(obj, self.default, sort_keys=self.sort_keys).decode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        if (self.compact is None and self._app.debug) or self.compact is False:
            return super().response(*args, **kwargs)
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(dumps_bytes(obj, self.default, sort_keys=self.sort_keys, newline=True),
                                        mimetype=self.mimetype)
