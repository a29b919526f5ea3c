"""Per-request batch loading, so a list of N records costs a fixed number of SQL statements.

GraphQL resolves ``customers { edges { node { contacts { name } } } }`` one customer at a time. Asked
naively, each ``contacts`` is a query: 1 + N. Trellis serves GraphQL with the synchronous Flask view,
so instead of asyncio DataLoaders it batches *siblings*:

1. A resolver that returns a list of records **primes** them: ``info.context.loaders.prime(records)``
   (:func:`api.graphql.pagination.connection` does it for you, and every batch a loader fetches is primed
   too). Priming remembers which keys belong together: the records' ids, and for database records the
   values of each foreign key column (all the ``customer_id`` values, all the ``owner_id`` values …).
2. A field resolver asks for **one** key::

       info.context.loaders.load("contacts", batch_fn, root.id)

   The first time a key is missing, the loader calls ``batch_fn`` **once** with that key and every
   primed sibling of it not loaded yet by this loader, caches all results, and answers from the cache
   for the siblings that follow.

``batch_fn(keys: list) -> Mapping[key, value]`` is any function; a key it leaves out gets ``default``.
``name`` identifies the loader within the request: use one name per batch function and argument set
(``f"{plugin}.interactions:{limit}"``), prefixed with your plugin's name and ``.`` — or ``core.`` for a
batch of the core's records (``"core.users"`` with :func:`users_by_id`). The app checks a name the first
time a request uses it (:class:`LoaderNames`): a plugin's batch function under a name without its prefix
fails that request with a :class:`core.errors.PluginError` naming the plugin, logged. (A cache belongs to a
name *and* the batch function's code, so two plugins choosing the same name still never read each other's
values; a lambda written once in a resolver is the same function on every call.) A plugin adding
``Customer.membership`` writes::

    def membership(root: strawberry.Parent[Customer], info: strawberry.Info) -> registry.ref("Membership") | None:
        return info.context.loaders.load("retail_membership.by_customer", services.memberships_of, root.id)

The loaders live in the request's context (``info.context.loaders``) and die with it, so nothing is ever
cached across requests or users. Batch functions run with the acting user's permissions: pass
``info.context.user`` to the service, which checks them.
"""
from __future__ import annotations

import functools
import re
import types
import uuid
from collections import defaultdict
from typing import Any, Callable, Hashable, Iterable, Mapping

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from core import db

BatchFn = Callable[[list], Mapping[Any, Any]]


class LoaderNames:
    """The check of loader names for one app, run the first time a request uses a name: a plugin's batch
    function (one defined in the plugin's package, found by its ``__module__``; through ``partial``,
    bound methods and ``__wrapped__``) is used under ``<plugin>.…`` or ``core.…``; a batch function of
    another package under an enabled component's name and ``.``; the core's own (``core.*``, ``api.*``)
    as it likes. Each (name's first part, module) is checked once per app."""

    def __init__(self, runtime: Any) -> None:
        from core.plugins import CORE_NAME, name_stem

        self._core = CORE_NAME
        self._stems = {name_stem(n): n for n in runtime.plugins.enabled_names}
        #: a plugin object that is a module (``plugins.exhibitions``, ``trellis_training``) → its name
        self._packages = {info.obj.__name__: info.name for info in runtime.plugins.enabled
                          if isinstance(info.obj, types.ModuleType)}
        self._checked: set[tuple[str, str]] = set()

    def _owner_of(self, module: str) -> str | None:
        best = None
        for package, plugin in self._packages.items():
            if (module == package or module.startswith(package + ".")) and (best is None or len(package) > len(best[0])):
                best = (package, plugin)
        return best[1] if best else None

    def __call__(self, name: str, batch: BatchFn) -> None:
        from core.errors import PluginError
        from core.plugins import name_stem

        fn = _unwrapped(batch)
        module = getattr(fn, "__module__", None) or ""
        head = re.match(r"[^.:]*", name).group()
        if (head, module) in self._checked:
            return
        owner = self._owner_of(module)
        where = f"{module}.{getattr(fn, '__qualname__', '?')}"
        if owner is not None:
            stem = name_stem(owner)
            if not name.startswith((f"{stem}.", f"{self._core}.")):
                raise PluginError(
                    f"Plugin '{owner}' loads '{name}' with the batch function {where}; a DataLoader name starts "
                    f"with '{stem}.' (or 'core.' for a batch of the core's records). Name it '{stem}.{name}' so "
                    "every loader says whose it is.")
        elif not module.startswith(("core.", "api.")) and not (head in self._stems and name.startswith(head + ".")):
            raise PluginError(
                f"The DataLoader '{name}' (batch function {where}) does not start with the name of an enabled "
                f"component and '.' ({', '.join(sorted(s + '.' for s in self._stems))}). Prefix it with the "
                "plugin's name: '<plugin>.<what>'.")
        self._checked.add((head, module))


def _unwrapped(batch: Any) -> Any:
    """The function a batch function stands for: through ``partial``, bound methods and ``__wrapped__``."""
    for _ in range(10):
        if isinstance(batch, functools.partial):
            batch = batch.func
        elif getattr(batch, "__wrapped__", None) is not None:
            batch = batch.__wrapped__
        elif getattr(batch, "__func__", None) is not None:
            batch = batch.__func__
        else:
            break
    return batch


class Loaders:
    """The batch loaders of one GraphQL request; ``names`` (a :class:`LoaderNames`) checks each name the
    first time it is used."""

    def __init__(self, names: Callable[[str, BatchFn], None] | None = None) -> None:
        self._names = names
        self._sets: list[list[Hashable]] = []
        self._sets_of: dict[Hashable, list[int]] = defaultdict(list)
        self._cache: dict[tuple[str, Any], dict[Hashable, Any]] = {}
        #: how many times a batch function ran (tests and debugging)
        self.batches = 0

    def prime(self, items: Iterable[Any]) -> None:
        """Remember ``items`` as siblings: database records by their id and by each foreign key value,
        other objects by their ``id`` attribute, plain values as they are."""
        by_class: dict[type, list[Any]] = defaultdict(list)
        keys: list[Hashable] = []
        for item in items:
            if item is None:
                continue
            if _key_columns(type(item)) is not None:
                by_class[type(item)].append(item)
            else:
                keys.append(getattr(item, "id", item))
        self._add_set(keys)
        for cls, records in by_class.items():
            for attribute in _key_columns(cls):
                self._add_set(getattr(r, attribute) for r in records)

    def load(self, name: str, batch: BatchFn, key: Hashable, default: Any = None) -> Any:
        """The value for ``key`` from the loader ``name``, fetching it and its unloaded siblings in one
        call of ``batch`` when it is not cached yet. A ``None`` key answers ``default`` without a call."""
        if key is None:
            return default
        ident = (name, _identity(batch))
        cache = self._cache.get(ident)
        if cache is None:
            if self._names is not None:
                self._names(name, batch)
            cache = self._cache[ident] = {}
        if key in cache:
            return cache[key]
        wanted = [key]
        seen = {key}
        for index in self._sets_of.get(key, ()):
            for sibling in self._sets[index]:
                if sibling not in seen and sibling not in cache:
                    seen.add(sibling)
                    wanted.append(sibling)
        self.batches += 1
        found = batch(wanted) or {}
        for k in wanted:
            cache[k] = found.get(k, default)
        self.prime(_records_in(found.values()))
        return cache[key]

    def _add_set(self, keys: Iterable[Hashable]) -> None:
        unique = list(dict.fromkeys(k for k in keys if k is not None))
        if not unique:
            return
        index = len(self._sets)
        self._sets.append(unique)
        for k in unique:
            self._sets_of[k].append(index)


def _identity(batch: BatchFn) -> Any:
    """What tells batch functions apart: their code, so a lambda made afresh in every resolver call is
    the same function, while two plugins' functions never share a cache even under one loader name."""
    while isinstance(batch, functools.partial):
        batch = batch.func
    batch = getattr(batch, "__func__", batch)
    return getattr(batch, "__code__", batch)


_KEY_COLUMNS: dict[type, tuple[str, ...] | None] = {}


def _key_columns(cls: type) -> tuple[str, ...] | None:
    """``("id", "customer_id", …)``: the attributes of a mapped class whose values prime siblings, or
    None for a class that is not mapped."""
    if cls not in _KEY_COLUMNS:
        mapper = sa_inspect(cls, raiseerr=False)
        if mapper is None or not hasattr(mapper, "columns"):
            _KEY_COLUMNS[cls] = None
        else:
            names = []
            for column in mapper.columns:
                if column.primary_key or column.foreign_keys:
                    prop = mapper.get_property_by_column(column)
                    names.append(prop.key)
            _KEY_COLUMNS[cls] = tuple(dict.fromkeys(names))
    return _KEY_COLUMNS[cls]


def _records_in(values: Iterable[Any]) -> list[Any]:
    out = []
    for value in values:
        items = getattr(value, "items", None)   # a nested list's page (core.services.paging.KeysetPage)
        if isinstance(items, list):
            value = items
        if isinstance(value, (list, tuple)):
            out.extend(v for v in value if _key_columns(type(v)) is not None)
        elif value is not None and _key_columns(type(value)) is not None:
            out.append(value)
    return out


# --- the core's batch functions ------------------------------------------------------------------------
# Each takes the acting user first (bind it with a lambda) and a list of keys.

def customers_by_id(actor: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    from core.services import customers

    return customers.get_many(actor, ids)


def contacts_by_id(actor: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    from core.models import Contact
    from core.services import contacts

    rows = db.session().scalars(contacts.visible(actor).where(Contact.id.in_(ids))).all()
    return {row.id: row for row in rows}


def users_by_id(actor: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """Users named by a record the actor may see (its owner, assignee, author)."""
    from core.models import User

    rows = db.session().scalars(select(User).where(User.id.in_(ids))).all()
    return {row.id: row for row in rows}
