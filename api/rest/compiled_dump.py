"""Output schemas serialised by code compiled once per schema, with marshmallow's exact result (issue #16).

marshmallow serialises every field of every record through four calls (``Field.serialize`` →
``Field.get_value`` → ``Schema.get_attribute`` → ``Field._serialize``): for a list of 100 customers that is
1,900 fields and a third of the request's CPU. :func:`compile_dump` reads a schema instance's dump fields
once and generates one Python function that builds an item's dict directly — the attribute read and the
conversion of each plain field written inline — and puts it in place of the instance's ``_serialize``
(the loop over fields that ``Schema.dump`` calls between the ``pre_dump`` and ``post_dump`` hooks, which
keep running as before).

What is inlined (the field's class, or a subclass that does not override these methods):

- the value: ``getattr(obj, name, missing)`` for an object, ``obj[name]`` for a ``dict`` (with
  marshmallow's fall-back to ``getattr`` for a missing key), then ``dump_default`` when missing, and a
  missing value leaves the key out — as ``Field.serialize``. An object's attribute is read from its
  ``__dict__`` when its class keeps the value there as ``getattr`` returns it (a loaded SQLAlchemy
  column, a plain attribute; not under a ``property`` or another data descriptor, nor for a class with
  its own ``__getattribute__``), and through ``getattr`` when it is not there (an expired column): a
  fifth of the time of SQLAlchemy's descriptor, 16 fields a customer in a page of 100. The item code is
  generated once per class of object;
- ``String`` (and ``Email``, ``URL`` …), ``UUID``, ``Integer``/``Float`` (not ``as_string``), ``DateTime``
  in a format marshmallow has a function for (``iso`` by default), ``List`` of those;
- any other field (``Decimal``, ``Boolean``, ``Date``, ``Dict``, ``Nested`` …) gets the same value read and
  its own ``_serialize`` called, so its formatting is marshmallow's own; a ``Nested`` schema (in a
  ``List`` too) is compiled in turn.

What falls back to marshmallow, unchanged:

- a field that overrides ``serialize`` or ``get_value`` (``CustomerAnalyticsField``), reads a dotted
  ``attribute``, or has no attribute at all (``Method``, ``Function``): that field alone, through
  ``field.serialize`` with the schema's accessor;
- an object that is a mapping other than a ``dict``, or has ``__getitem__`` (a SQLAlchemy ``Row``): that
  item alone, through ``Schema._serialize``;
- a whole schema that overrides ``_serialize``, ``get_attribute`` (other than :class:`RecordOut`'s, which
  reads objects with the same ``getattr``) or ``dict_class``.

So the output is the same, key for key and in order (tests/api/rest/test_compiled_dump.py compares both on
every output schema the OpenAPI document registers). :class:`api.rest.crud.Blueprint` compiles every schema
given to ``@blp.response`` (when it first dumps); a plugin's output schema gets it with nothing to do.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

from marshmallow import Schema, fields, missing
from sqlalchemy.orm import QueryableAttribute

from core.schemas import RecordOut

#: set on a compiled schema instance (the generated function, or None: could not be compiled)
MARK = "_trellis_compiled_dump"

#: ``get_attribute`` implementations that read an object's attribute with ``getattr(obj, name, default)``
#: (for a name without a dot, on an object without ``__getitem__``) and a dict's key as marshmallow does
_PLAIN_ACCESSORS = (Schema.get_attribute, RecordOut.get_attribute)


def _overrides(field: fields.Field, name: str, base: type) -> bool:
    return getattr(type(field), name) is not getattr(base, name)


def _conversion(field: fields.Field, value: str, env: dict, tag: str) -> str | None:
    """A Python expression converting ``value`` (an expression) as ``field._serialize`` would, or None when
    the field's own ``_serialize`` must be called."""
    serialize = type(field)._serialize
    if serialize is fields.String._serialize:
        env["_text"] = _ensure_text
        return f"(None if {value} is None else {value} if {value}.__class__ is str else _text({value}))"
    if serialize is fields.UUID._serialize:
        return f"(None if {value} is None else str({value}))"
    if (serialize is fields.Number._serialize and not field.as_string
            and type(field)._format_num is fields.Number._format_num and field.num_type in (int, float)):
        return f"(None if {value} is None else {field.num_type.__name__}({value}))"
    if serialize is fields.DateTime._serialize:
        data_format = field.format or field.DEFAULT_FORMAT
        function = field.SERIALIZATION_FUNCS.get(data_format)
        if function is not None:
            env[f"_fmt{tag}"] = function
            return f"(None if {value} is None else _fmt{tag}({value}))"
    return None


def _ensure_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def _compile_nested(field: fields.Field) -> None:
    """Compile the schema a ``Nested`` field (or a ``List`` of one) dumps with, in place: it is the field's
    own instance (marshmallow builds or copies one per field)."""
    for candidate in (field, getattr(field, "inner", None)):
        if isinstance(candidate, fields.Nested):
            try:
                nested = candidate.schema
            except Exception:  # an unresolvable name: marshmallow will say so when it dumps
                continue
            _compile_in_place(nested)


def _generate(schema: Schema) -> Callable | None:
    cls = type(schema)
    if (cls._serialize is not Schema._serialize or cls.get_attribute not in _PLAIN_ACCESSORS
            or schema.dict_class is not dict):
        return None
    env: dict[str, Any] = {"_missing": missing, "_marshmallow": Schema._serialize.__get__(schema),
                           "_accessor": schema.get_attribute, "_dict": dict}
    bodies: dict[str, list[str]] = {"attr": [], "dict": []}
    sources: list[str] = []   # the attributes an object's fields read: the i-th is "\x00i\x00" in the attr body
    for index, (name, field) in enumerate(schema.dump_fields.items()):
        _compile_nested(field)
        key = field.data_key if field.data_key is not None else name
        env[f"_f{index}"] = field
        env[f"_k{index}"] = key
        source = name if field.attribute is None else field.attribute
        fallback = (_overrides(field, "serialize", fields.Field) or _overrides(field, "get_value", fields.Field)
                    or not field._CHECK_ATTRIBUTE or not isinstance(source, str) or "." in source)
        for mode, lines in bodies.items():
            if fallback:
                lines += [f"v = _f{index}.serialize({name!r}, obj, accessor=_accessor)",
                          "if v is not _missing:",
                          f"    ret[_k{index}] = v"]
                continue
            if mode == "attr":
                lines.append(f"\x00{len(sources)}\x00")   # how it is read: per class of object, below
                sources.append(source)
            else:  # marshmallow's get_value: obj[key], and getattr for a key the dict lacks
                lines.append(f"v = obj[{source!r}] if {source!r} in obj else getattr(obj, {source!r}, _missing)")
            default = field.dump_default
            if default is not missing:
                env[f"_d{index}"] = default
                lines += ["if v is _missing:",
                          f"    v = _d{index}()" if callable(default) else f"    v = _d{index}"]
            expression = _conversion(field, "v", env, str(index))
            if expression is None and type(field)._serialize is fields.List._serialize:
                inner = _conversion(field.inner, "x", env, f"{index}i")
                if inner is not None:
                    expression = f"(None if v is None else [{inner} for x in v])"
            if expression is None:
                expression = f"_f{index}._serialize(v, {name!r}, obj)"
            lines += ["if v is not _missing:", f"    ret[_k{index}] = {expression}"]
    inner, outer = "\n        ", "\n    "
    name = f"<compiled dump of {cls.__module__}.{cls.__qualname__}>"
    attr_body = outer.join(bodies["attr"]) or "pass"
    by_class: dict[type, Callable] = {}

    def specialise(kind: type) -> Callable:
        """The item function for objects of class ``kind``: an attribute that ``kind`` keeps in the
        instance's ``__dict__`` (a loaded SQLAlchemy column, a plain attribute) is read from there, a
        fifth of the time ``getattr`` takes through SQLAlchemy's descriptor; any other through
        ``getattr``."""
        body = attr_body
        for i, source in enumerate(sources):
            body = body.replace(f"\x00{i}\x00", (f"v = _vars.get({source!r}, _missing)\n    if v is _missing:\n"
                                                  f"        v = getattr(obj, {source!r}, _missing)")
                                if _kept_in_instance_dict(kind, source) else f"v = getattr(obj, {source!r}, _missing)")
        code = (f"def _item_of_class(obj):\n    ret = {{}}\n"
                f"    _vars = getattr(obj, '__dict__', _no_vars)\n    {body}\n    return ret\n")
        scope = dict(env, _no_vars={})
        exec(compile(code, f"{name[:-1]}, {kind.__qualname__}>", "exec"), scope)
        by_class[kind] = scope["_item_of_class"]
        return scope["_item_of_class"]

    env["_by_class"], env["_specialise"] = by_class, specialise
    source_code = f"""
def _item(obj):
    if obj.__class__ is _dict:
        ret = {{}}
        {inner.join(bodies["dict"]) or "pass"}
        return ret
    if hasattr(obj, "__getitem__"):
        return _marshmallow(obj)
    function = _by_class.get(obj.__class__)
    if function is None:
        function = _specialise(obj.__class__)
    return function(obj)

def _serialize(obj, *, many=False):
    if many and obj is not None:
        return [_item(d) for d in obj]
    return _item(obj)
"""
    exec(compile(source_code, name, "exec"), env)
    function = env["_serialize"]
    function.source = source_code  # for a reader: what was generated (and attr_body, per class of object)
    function.attr_body = attr_body
    return function


def _kept_in_instance_dict(kind: type, name: str) -> bool:
    """Whether, for an instance of ``kind`` whose ``__dict__`` holds ``name``, that value is what
    ``getattr`` returns: no data descriptor of the class (a ``property``) takes precedence over it, except
    SQLAlchemy's mapped attributes, which keep a loaded value there and return it; and ``kind`` does not
    change attribute lookup itself."""
    if kind.__getattribute__ is not object.__getattribute__:
        return False
    for klass in kind.__mro__:
        if name in vars(klass):
            attribute = vars(klass)[name]
            if isinstance(attribute, QueryableAttribute):
                return True
            descriptor = type(attribute)
            return not (hasattr(descriptor, "__set__") or hasattr(descriptor, "__delete__"))
    return True


def _compile_in_place(schema: Schema) -> bool:
    if MARK in schema.__dict__:
        return schema.__dict__[MARK] is not None
    schema.__dict__[MARK] = None  # a schema nesting itself (directly or not) is compiled once
    function = _generate(schema)
    if function is None:
        return False
    schema.__dict__[MARK] = function
    schema._serialize = function
    return True


#: set on a schema instance whose compilation waits for its first dump (:func:`_defer`)
PENDING = "_trellis_compile_pending"


def _defer(schema: Schema) -> None:
    """Compile ``schema`` when it first dumps, not now: an app registers some 230 response schemas at
    start-up (each test builds apps), and a process dumps few of them; compiling them all took a quarter
    of ``create_app()``. Two threads dumping first at once both get marshmallow's or the compiled output,
    which are the same."""
    if MARK in schema.__dict__ or PENDING in schema.__dict__:
        return

    def first_dump(obj, *, many=False):
        _resolve(schema)
        return schema._serialize(obj, many=many)

    schema.__dict__[PENDING] = True
    schema._serialize = first_dump


def _resolve(schema: Schema) -> None:
    """Compile a schema whose compilation was deferred (nothing for any other)."""
    if schema.__dict__.pop(PENDING, None):
        schema.__dict__.pop("_serialize", None)
        _compile_in_place(schema)


def compile_dump(schema: Schema | type[Schema]) -> Schema:
    """A schema instance whose ``dump`` runs compiled code (see the module's text), the same output as
    ``schema.dump``: for a class, a new instance; for an instance, a copy (the instance given may be nested
    in another schema later, which copies it with other fields). The code is generated when the schema
    first dumps; a schema that cannot be compiled keeps dumping through marshmallow."""
    if isinstance(schema, type):
        schema = schema()
    elif MARK in schema.__dict__ or PENDING in schema.__dict__ or "dump" in schema.__dict__:
        # compiled already, or its dump replaced (api.rest.crud.shaped_list_schema compiles its own)
        return schema
    else:
        schema = copy.copy(schema)
    _defer(schema)
    return schema


def compile_own(schema: Schema) -> Schema:
    """Compile a schema instance the caller made and keeps to itself, in place (no copy), when it first
    dumps."""
    _defer(schema)
    return schema


def is_compiled(schema: Schema) -> bool:
    """Whether ``schema`` dumps through compiled code (compiling it now if that waits for its first dump)."""
    _resolve(schema)
    return schema.__dict__.get(MARK) is not None
