"""The customer lifecycle (生命周期): potential → intent → first purchase → repeat, and lost from any
stage (with a manager's approval) and back through a win-back. Purchases move customers automatically:
the first done purchase to ``first_purchase``, the second to ``repeat``."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from core import db
from core.config import Settings
from core.models import Customer, Interaction, InteractionStatus, LifecycleStage as S
from core.workflow import ANY, AUTOMATIC, IMPORT, MANUAL, State, Transition, Workflow

WORKFLOW = "customer.lifecycle"
PURCHASE_KIND = "purchase"


def lifecycle_workflow(settings: Settings) -> Workflow:
    days = settings.expected_days()

    def expected(stage: S) -> timedelta | None:
        return timedelta(days=days[stage.value]) if stage.value in days else None

    return Workflow(
        name=WORKFLOW, model=Customer, field="stage", initial=S.POTENTIAL.value,
        label_en="Customer lifecycle", label_zh_cn="客户生命周期",
        states=(
            State(S.POTENTIAL.value, "Potential", "潜在客户", expected(S.POTENTIAL)),
            State(S.INTENT.value, "Intent", "意向客户", expected(S.INTENT)),
            State(S.FIRST_PURCHASE.value, "First purchase", "购买客户", expected(S.FIRST_PURCHASE)),
            State(S.REPEAT.value, "Repeat", "历史客户", expected(S.REPEAT)),
            State(S.LOST.value, "Lost", "流失客户", expected(S.LOST)),
        ),
        transitions=(
            Transition(S.POTENTIAL.value, S.INTENT.value),
            Transition(S.INTENT.value, S.POTENTIAL.value, triggers=(MANUAL, IMPORT)),
            Transition(S.POTENTIAL.value, S.FIRST_PURCHASE.value),
            Transition(S.INTENT.value, S.FIRST_PURCHASE.value),
            Transition(S.FIRST_PURCHASE.value, S.REPEAT.value),
            # several purchases recorded at once (an import, a POS batch) may skip first_purchase
            Transition(S.POTENTIAL.value, S.REPEAT.value, triggers=(AUTOMATIC, IMPORT)),
            Transition(S.INTENT.value, S.REPEAT.value, triggers=(AUTOMATIC, IMPORT)),
            # giving a customer up needs a manager: it is how reps' results are judged
            Transition(ANY, S.LOST.value, needs_approval=True, name="lose"),
            Transition(S.LOST.value, S.INTENT.value, name="win back"),
            Transition(S.LOST.value, S.FIRST_PURCHASE.value, triggers=(AUTOMATIC, IMPORT), name="win back"),
            Transition(S.LOST.value, S.REPEAT.value, triggers=(AUTOMATIC, IMPORT), name="win back"),
        ),
    )


def done_purchases(customer_id: Any) -> int:
    return db.session().scalar(
        select(func.count()).select_from(Interaction).where(
            Interaction.customer_id == customer_id, Interaction.kind == PURCHASE_KIND,
            Interaction.status == InteractionStatus.DONE.value, Interaction.deleted_at.is_(None))) or 0


def on_interaction_changed(event: Any, actor: Any) -> None:
    """A done purchase moves its customer along the lifecycle (first purchase, then repeat)."""
    from core.services import workflow

    if event.payload.get("kind", PURCHASE_KIND) != PURCHASE_KIND:
        return
    interaction = db.session().get(Interaction, event.record_id)
    if interaction is None or interaction.kind != PURCHASE_KIND or interaction.status != InteractionStatus.DONE.value:
        return
    customer = db.session().get(Customer, interaction.customer_id)
    count = done_purchases(customer.id)
    target = S.REPEAT.value if count >= 2 else S.FIRST_PURCHASE.value if count == 1 else None
    if target is None or customer.stage == target or (customer.stage == S.REPEAT.value):
        return
    workflow.transition(actor, WORKFLOW, customer, target, trigger=AUTOMATIC, event=event.name,
                        reason=f"{count} purchase{'s' if count > 1 else ''} recorded")
