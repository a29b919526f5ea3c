"""The plugin manager: discovery, the enable list, dependency checks and per-plugin hook calls.

Plugins are found through the ``trellis.plugins`` entry-point group (the built-in ones too), filtered by
``TRELLIS_PLUGINS``, checked for their ``requires`` and for misspelt hooks, then registered with pluggy.
Every start-up problem raises :class:`core.errors.PluginError` naming the plugin and what to do.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Collection, ContextManager, Iterable, Iterator

import pluggy

from core import hookspecs
from core.errors import PluginError

ENTRY_POINT_GROUP = "trellis.plugins"
CORE_NAME = "core"


def type_prefix(plugin_name: str) -> str:
    """The prefix of a plugin's PascalCase names — its GraphQL types and its OpenAPI schemas: the first
    word of its name, singular, capitalised (``exhibitions`` → ``Exhibition``, ``retail_membership`` →
    ``Retail``, ``property_service`` → ``Property``, ``training`` → ``Training``)."""
    word = plugin_name.replace("-", "_").split("_")[0]
    word = word[:-1] if word.endswith("s") and len(word) > 1 else word
    return word[:1].upper() + word[1:]


def name_stem(plugin_name: str) -> str:
    """The prefix of a plugin's snake_case names (tables, metrics, blueprints, loaders …): its name with
    ``-`` as ``_``."""
    return plugin_name.replace("-", "_")


@dataclass
class PluginInfo:
    name: str
    version: str
    source: str
    enabled: bool
    obj: Any = field(repr=False, default=None)
    requires: tuple[str, ...] = ()
    description: str = ""


def discover() -> list[PluginInfo]:
    """Every installed plugin (enabled or not), from the entry points."""
    found: list[PluginInfo] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception as exc:  # a broken third-party package must say who it is
            dist = ep.dist.name if ep.dist else "?"
            raise PluginError(
                f"Plugin '{ep.name}' (entry point '{ep.value}' of package '{dist}') failed to import: {exc!r}. "
                f"Fix or uninstall the package, or leave '{ep.name}' out of TRELLIS_PLUGINS."
            ) from exc
        found.append(_info(obj, default_name=ep.name,
                           source=f"{ep.dist.name} {ep.dist.version}" if ep.dist else ep.value))
    return found


def _info(obj: Any, *, default_name: str, source: str) -> PluginInfo:
    name = getattr(obj, "name", None) or default_name
    return PluginInfo(
        name=name,
        version=str(getattr(obj, "version", "0")),
        source=source,
        enabled=False,
        obj=obj,
        requires=tuple(getattr(obj, "requires", ()) or ()),
        description=(getattr(obj, "__doc__", "") or "").strip().splitlines()[0] if getattr(obj, "__doc__", None) else "",
    )


@contextlib.contextmanager
def naming_the_plugin(plugin_name: str, doing: str) -> Iterator[None]:
    """Turn an exception escaping a plugin's code into one :class:`PluginError` that names the plugin,
    what it was doing (a hook, usually) and the cause; the original stays chained as ``__cause__`` (the
    CLI prints it with ``--debug``). A ``PluginError`` passes through as it is (it names its plugin), and
    so does the core's own code."""
    try:
        yield
    except PluginError:
        raise
    except Exception as exc:
        if plugin_name == CORE_NAME:
            raise
        raise PluginError(f"Plugin '{plugin_name}' failed in {doing}: {type(exc).__name__}: {exc}. "
                          "Fix the plugin or disable it (TRELLIS_PLUGINS).") from exc


class PluginSet:
    """The plugins of one app: the pluggy manager plus what was found and what is enabled."""

    def __init__(self, *, enabled_names: list[str] | None, extra: Iterable[Any] = (),
                 installed: list[PluginInfo] | None = None):
        from core import core_plugin

        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        installed = list(discover() if installed is None else installed)
        installed += [_info(obj, default_name=getattr(obj, "__name__", "plugin"), source="passed to create_app")
                      for obj in extra]
        by_name: dict[str, PluginInfo] = {}
        for info in installed:
            if info.name == CORE_NAME:
                raise PluginError(f"A plugin from '{info.source}' calls itself '{CORE_NAME}', a reserved name. Rename it.")
            if info.name in by_name:
                raise PluginError(
                    f"Two plugins are named '{info.name}' ({by_name[info.name].source} and {info.source}). "
                    "Uninstall one of them."
                )
            by_name[info.name] = info

        if enabled_names is None:
            wanted = list(by_name)
        else:
            unknown = [n for n in enabled_names if n not in by_name]
            if unknown:
                raise PluginError(
                    f"TRELLIS_PLUGINS names unknown plugin(s): {', '.join(unknown)}. "
                    f"Installed: {', '.join(sorted(by_name)) or 'none'}. Install the package or fix the name."
                )
            wanted = list(dict.fromkeys(enabled_names))
        for name in wanted:
            missing = [r for r in by_name[name].requires if r not in wanted]
            if missing:
                raise PluginError(
                    f"Plugin '{name}' requires {', '.join(repr(m) for m in missing)}, which "
                    f"{'is' if len(missing) == 1 else 'are'} not enabled. Add it to TRELLIS_PLUGINS "
                    f"(or install it), or disable '{name}'."
                )

        self.installed = [by_name[n] for n in by_name]
        self.pm.register(core_plugin, name=CORE_NAME)
        for name in wanted:
            info = by_name[name]
            info.enabled = True
            try:
                self.pm.register(info.obj, name=name)
            except ValueError as exc:
                raise PluginError(f"Plugin '{name}' could not be registered: {exc}") from exc
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            plugin_name = self.pm.get_name(exc.plugin) if exc.plugin is not None else "?"
            raise PluginError(
                f"Plugin '{plugin_name}' implements a hook Trellis does not know: {exc}. "
                "Check the spelling against core/hookspecs.py (hooks are prefixed 'trellis_')."
            ) from exc

    @property
    def enabled(self) -> list[PluginInfo]:
        return [p for p in self.installed if p.enabled]

    @property
    def enabled_names(self) -> list[str]:
        return [CORE_NAME] + [p.name for p in self.enabled]

    def is_enabled(self, name: str) -> bool:
        return name == CORE_NAME or any(p.name == name and p.enabled for p in self.installed)

    def call_each(self, hook_name: str, *, only: Collection[str] | None = None,
                  around: Callable[[str], ContextManager[Any]] | None = None,
                  **kwargs: Any) -> list[tuple[str, Any]]:
        """Call one hook on every plugin that implements it, core first, and return
        ``[(plugin_name, result)]`` so a clash can name both plugins. ``None`` results are dropped.

        ``only`` limits the call to the named plugins; ``around(plugin_name)`` is a context manager entered
        around each plugin's call (to attribute what the plugin registers, or to record that it ran)."""
        caller = getattr(self.pm.hook, hook_name)
        order = {name: i for i, name in enumerate(self.enabled_names)}
        results = []
        for impl in sorted(caller.get_hookimpls(), key=lambda i: order.get(i.plugin_name, len(order))):
            if only is not None and impl.plugin_name not in only:
                continue
            args = {name: kwargs[name] for name in impl.argnames}
            with around(impl.plugin_name) if around is not None else contextlib.nullcontext(), \
                    naming_the_plugin(impl.plugin_name, hook_name):
                result = impl.function(**args)
            if result is not None:
                results.append((impl.plugin_name, result))
        return results

    def implementers(self, hook_name: str) -> list[str]:
        """The plugins implementing a hook, in the order ``call_each`` calls them (core first)."""
        order = {name: i for i, name in enumerate(self.enabled_names)}
        names = [impl.plugin_name for impl in getattr(self.pm.hook, hook_name).get_hookimpls()]
        return sorted(names, key=lambda n: order.get(n, len(order)))
