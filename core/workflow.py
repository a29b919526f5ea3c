"""State machines for records: declared once, enforced by one service, every move kept in history.

A :class:`Workflow` names its states (with en/zh-CN labels and an optional expected duration), the
allowed transitions (some needing a manager's approval, some allowed only to automatic triggers), and
where the state lives on the record. The core declares the customer lifecycle with it; plugins declare
theirs (a service request's status, an exhibitor's application) through the ``trellis_workflows`` hook.
Moves go through :func:`core.services.workflow.transition`, which writes the history row, the audit
entry and the event.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Iterable

from core.errors import PluginError, ValidationFailed
from core.labels import Choice

ANY = "*"

MANUAL = "manual"
AUTOMATIC = "automatic"
IMPORT = "import"
TRIGGERS = (MANUAL, AUTOMATIC, IMPORT)


@dataclass(frozen=True)
class State:
    """One state of a :class:`Workflow`: ``name`` is the stored value (and, UPPER_SNAKE, the GraphQL enum
    value), ``en`` / ``zh_cn`` its labels (served by ``labels``)."""

    name: str
    en: str
    zh_cn: str
    #: How long a record is expected to stay; a longer stay raises one stagnation alert.
    expected: timedelta | None = None


@dataclass(frozen=True)
class Transition:
    """A permitted move. ``source`` may be :data:`ANY`. ``triggers`` says who may fire it:
    people (``manual``), event handlers (``automatic``), imports."""

    source: str
    target: str
    needs_approval: bool = False
    triggers: tuple[str, ...] = (MANUAL, AUTOMATIC, IMPORT)
    name: str = ""


@dataclass(frozen=True)
class Workflow:
    """A state machine over one column of a model, declared by ``trellis_workflows(settings)``: its states
    become a label vocabulary (``<name>.state``) and a GraphQL enum without more code, and
    :func:`core.services.workflow.transition` moves records through it — checking the move is one of
    ``transitions`` for its trigger, asking for approval where a transition ``needs_approval``, writing the
    history row, the audit entry and the ``<record>.<field>_changed`` event. Never assign the column
    directly. ``initial`` is where new records start; a record created further along is held to the same
    rules (``check_start``)."""

    #: Global name, ``<record type>.<aspect>``: ``customer.lifecycle``.
    name: str
    #: The SQLAlchemy model whose rows move through the states.
    model: type
    #: The attribute of the model that holds the state.
    field: str
    states: tuple[State, ...]
    transitions: tuple[Transition, ...]
    initial: str
    label_en: str = ""
    label_zh_cn: str = ""
    #: Settings may override expected durations: ``{"potential": timedelta(days=15)}``.
    expected_overrides: dict[str, timedelta] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = {s.name for s in self.states}
        problems = [t for t in self.transitions
                    if (t.source != ANY and t.source not in names) or t.target not in names]
        if self.initial not in names or problems:
            raise PluginError(f"Workflow '{self.name}' refers to undeclared states: "
                              f"{', '.join(f'{t.source}→{t.target}' for t in problems) or self.initial}.")

    @property
    def record_type(self) -> str:
        return self.model.__table__.name

    def state(self, name: str, *, argument: str | None = None) -> State:
        """The state ``name``; an unknown one is a ValidationFailed naming ``argument`` (the input the name
        came in, ``to``), or the workflow's field when not given."""
        for s in self.states:
            if s.name == name:
                return s
        raise ValidationFailed(fields={argument or self.field: [
            f"Unknown state '{name}'. Known: {', '.join(self.state_names)}."]})

    @property
    def state_names(self) -> list[str]:
        return [s.name for s in self.states]

    def expected(self, state: str) -> timedelta | None:
        return self.expected_overrides.get(state, self.state(state).expected)

    def targets(self, source: str, trigger: str = MANUAL) -> list[str]:
        """The states reachable from ``source`` by this kind of trigger, in declaration order."""
        out = []
        for t in self.transitions:
            if t.source in (source, ANY) and t.target != source and trigger in t.triggers and t.target not in out:
                out.append(t.target)
        return out

    def find(self, source: str, target: str, trigger: str, *, argument: str | None = None) -> Transition:
        """The transition that permits the move, or ValidationFailed naming the allowed targets, under
        ``argument`` (the input the target came in) or else the workflow's field."""
        self.state(target, argument=argument)
        for t in self.transitions:
            if t.source in (source, ANY) and t.target == target and trigger in t.triggers and source != target:
                return t
        allowed = self.targets(source, trigger)
        raise ValidationFailed(
            f"Cannot move from '{source}' to '{target}'.",
            fields={argument or self.field: [f"Cannot move from '{source}' to '{target}'. Allowed: "
                                 f"{', '.join(allowed) if allowed else 'none'}."]},
        )

    def labels(self) -> list[Choice]:
        return [Choice(s.name, s.en, s.zh_cn) for s in self.states]


class WorkflowRegistry:
    def __init__(self) -> None:
        self._by_name: dict[str, tuple[Workflow, str]] = {}

    def add(self, workflow: Workflow, *, owner: str) -> None:
        if workflow.name in self._by_name:
            raise PluginError(
                f"Plugins '{self._by_name[workflow.name][1]}' and '{owner}' both declare the workflow "
                f"'{workflow.name}'. Rename one (prefix it with the plugin name)."
            )
        self._by_name[workflow.name] = (workflow, owner)

    def get(self, name: str) -> Workflow:
        from core.errors import NotFound

        try:
            return self._by_name[name][0]
        except KeyError:
            raise NotFound(f"No workflow named '{name}'.") from None

    def all(self) -> list[Workflow]:
        return [w for w, _ in self._by_name.values()]

    def for_model(self, model: type) -> Iterable[Workflow]:
        return [w for w in self.all() if w.model is model]
