"""GraphQL for interactions (交往记录): the customer timeline (done) and reps' tasks (planned)."""
import datetime as dt
from typing import Optional

import strawberry
from strawberry import UNSET

from api.graphql.crud import CrudFields, CrudService, crud_fields
from api.graphql.loaders import contacts_by_id, customers_by_id, users_by_id
from api.graphql.money import Money
from api.graphql.nodes import NodeSource
from core import models
from core.services import interactions

def types(registry) -> None:
    Kind = registry.vocabulary_enum("interaction_kind")
    Direction = registry.vocabulary_enum("interaction_direction")
    Status = registry.vocabulary_enum("interaction_status")
    ScoreScale = registry.vocabulary_enum("interaction_score_scale")

    @registry.type("Interaction", node=NodeSource(models.Interaction, visible=interactions.visible))
    class Interaction:
        """A touchpoint with a customer: past (the timeline) or planned (a task)."""

        id: strawberry.ID
        customer_id: strawberry.ID = strawberry.field(description="The id of the customer it concerns; `customer` reads it.")
        contact_id: Optional[strawberry.ID] = strawberry.field(description="The id of the contact person involved; `contact` reads it; null when none is named.")
        kind: Kind = strawberry.field(description="What happened: a kind the core or a plugin registers.")
        direction: Direction = strawberry.field(description="Inbound (the customer reached out), outbound (you did) or internal (among colleagues).")
        status: Status = strawberry.field(description="Done (the timeline), planned (a task) or cancelled.")
        subject: str = strawberry.field(description="A one-line summary; empty when none.")
        notes: str = strawberry.field(description="Free-text notes: what was said or agreed; empty when none.")
        occurred_at: Optional[dt.datetime] = strawberry.field(description="When it happened (UTC, ISO 8601); null for a planned interaction not yet done.")
        due_at: Optional[dt.datetime] = strawberry.field(description="When a planned interaction (a task) is due (UTC, ISO 8601); null when it has no due time.")
        amount: Optional[Money] = strawberry.field(description="The money involved (a purchase, quote or refund) as a decimal string with two places, negative for a refund; null when none.")
        assignee_id: Optional[strawberry.ID] = strawberry.field(description="The id of the user who is to do a planned interaction; `assignee` reads it; null when nobody is.")
        created_by_id: Optional[strawberry.ID] = strawberry.field(description="The id of the user who recorded it; `createdBy` reads it; null when the system or a plugin did.")
        source: str = strawberry.field(description="The component that wrote it: core or a plugin's name.")
        reminder_at: Optional[dt.datetime] = strawberry.field(description="When to remind the assignee (预约提示).")
        outcome: str = strawberry.field(description="What came of it (done or cancelled tasks).")
        completed_at: Optional[dt.datetime] = strawberry.field(description="When a task was marked done or cancelled (UTC, ISO 8601); null while it is planned.")
        escalated_at: Optional[dt.datetime] = strawberry.field(description="When a manager last chased it (催办).")
        escalation_count: int = strawberry.field(description="How many times a manager has chased it (催办); 0 when never.")
        score: Optional[int] = strawberry.field(description="A survey answer's score (see scoreScale).")
        score_scale: Optional[ScoreScale] = strawberry.field(description="CSAT (1–5) or NPS (0–10).")
        created_at: dt.datetime
        updated_at: dt.datetime
        version: int
        deleted_at: Optional[dt.datetime]

        @strawberry.field(description="The customer; null when you may do this task (it is assigned to you) "
                                      "but may not read its customer.")
        def customer(self, info: strawberry.Info) -> Optional[registry.ref("Customer")]:
            user = info.context.user
            return info.context.loaders.load("core.customers", lambda ids: customers_by_id(user, ids),
                                             self.customer_id)

        @strawberry.field(description="The contact person involved; null when none is named or you may not see it.")
        def contact(self, info: strawberry.Info) -> Optional[registry.ref("Contact")]:
            user = info.context.user
            return info.context.loaders.load("core.contacts", lambda ids: contacts_by_id(user, ids), self.contact_id)

        @strawberry.field(description="Who is to do it (planned interactions).")
        def assignee(self, info: strawberry.Info) -> Optional[registry.ref("User")]:
            user = info.context.user
            return info.context.loaders.load("core.users", lambda ids: users_by_id(user, ids), self.assignee_id)

        @strawberry.field(description="Who recorded it.")
        def created_by(self, info: strawberry.Info) -> Optional[registry.ref("User")]:
            user = info.context.user
            return info.context.loaders.load("core.users", lambda ids: users_by_id(user, ids), self.created_by_id)

    @registry.input("InteractionCreateInput")
    class InteractionCreateInput:
        customer_id: strawberry.ID
        kind: Kind
        contact_id: Optional[strawberry.ID] = UNSET
        direction: Optional[Direction] = UNSET
        status: Optional[Status] = strawberry.field(
            default=UNSET, description="Default: planned when only dueAt is given, done otherwise.")
        subject: Optional[str] = UNSET
        notes: Optional[str] = UNSET
        occurred_at: Optional[dt.datetime] = UNSET
        due_at: Optional[dt.datetime] = UNSET
        amount: Optional[Money] = UNSET
        assignee_id: Optional[strawberry.ID] = UNSET
        reminder_at: Optional[dt.datetime] = UNSET
        outcome: Optional[str] = UNSET
        score: Optional[int] = UNSET
        score_scale: Optional[ScoreScale] = UNSET

    @registry.input("InteractionUpdateInput")
    class InteractionUpdateInput:
        version: int = strawberry.field(description="The version you read; a stale one is a CONFLICT.")
        kind: Optional[Kind] = UNSET
        contact_id: Optional[strawberry.ID] = UNSET
        direction: Optional[Direction] = UNSET
        status: Optional[Status] = UNSET
        subject: Optional[str] = UNSET
        notes: Optional[str] = UNSET
        occurred_at: Optional[dt.datetime] = UNSET
        due_at: Optional[dt.datetime] = UNSET
        amount: Optional[Money] = UNSET
        assignee_id: Optional[strawberry.ID] = UNSET
        reminder_at: Optional[dt.datetime] = UNSET
        outcome: Optional[str] = UNSET
        score: Optional[int] = UNSET
        score_scale: Optional[ScoreScale] = UNSET

    @registry.input("InteractionFilter")
    class InteractionFilter:
        customer_id: Optional[strawberry.ID] = UNSET
        kind: Optional[Kind] = UNSET
        status: Optional[Status] = UNSET
        assignee_id: Optional[strawberry.ID] = UNSET
        mine: Optional[bool] = strawberry.field(default=UNSET, description="Only tasks assigned to you.")
        overdue: Optional[bool] = strawberry.field(default=UNSET, description="Only planned ones past due.")
        due_before: Optional[dt.datetime] = strawberry.field(default=UNSET, description="Only interactions due before this instant (exclusive; UTC, ISO 8601).")
        due_after: Optional[dt.datetime] = strawberry.field(default=UNSET, description="Only interactions due at or after this instant (UTC, ISO 8601).")
        deleted: Optional[bool] = strawberry.field(default=UNSET, description="List deleted interactions instead.")


def _crud(registry) -> CrudFields:
    return crud_fields(
        registry, "Interaction",
        service=CrudService(interactions.list_interactions, interactions.get, interactions.create,
                            interactions.update, interactions.delete, interactions.restore),
        create_input="InteractionCreateInput", update_input="InteractionUpdateInput",
        filter_input="InteractionFilter", sortable=list(interactions.SORTABLE), default_sort="-occurred_at",
        descriptions={"get": "One interaction you may see.",
                      "list": "Interactions with the customers you may see."})


def query_fields(registry) -> dict:
    return _crud(registry).query


def mutation_fields(registry) -> dict:
    return _crud(registry).mutation
