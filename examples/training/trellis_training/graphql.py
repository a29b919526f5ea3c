"""GraphQL: the declared records' types, inputs and house fields, the move, and
`Customer.trainingEnrolments`. Resolvers only translate to the services."""
# no `from __future__ import annotations`: strawberry reads the annotations built from the registry
from typing import Annotated, Optional

import strawberry

from trellis.plugin import history_field, nested_records, record_fields, record_types
from trellis_training.services import COURSES, ENROLMENTS, WORKFLOW, move_enrolment


def register_types(registry) -> None:
    record_types(registry, COURSES, ENROLMENTS)   # TrainingCourse, its Create/Update inputs and Filter, …


def query_fields(registry) -> dict:
    return record_fields(registry, COURSES, ENROLMENTS).query   # trainingCourse(id:), trainingCourses(…), …


def mutation_fields(registry) -> dict:
    Status, Enrolment = registry.vocabulary_enum(f"{WORKFLOW}.state"), registry.ref("TrainingEnrolment")

    def move(info: strawberry.Info, id: strawberry.ID,
             to: Annotated[Status, strawberry.argument(description="The status to move to.")],
             reason: str = "") -> Optional[Enrolment]:
        return move_enrolment(info.context.user, id, {"to": str(to), "reason": reason})

    return {**record_fields(registry, COURSES, ENROLMENTS).mutation, "moveTrainingEnrolment": strawberry.mutation(
        resolver=move, description="Confirm (a full course refuses), mark attended, or cancel an enrolment.")}


def type_fields(registry) -> dict:
    return {"Customer": {"trainingEnrolments": nested_records(   # one batch for every customer of the page
                registry, ENROLMENTS, "customer_id", "The customer's enrolments you may see, newest first.")},
            "TrainingEnrolment": {"history": history_field(registry, WORKFLOW,
                                                           "Every status move of the enrolment, oldest first.")}}
