"""GraphQL: the types and inputs made from the REST schemas, the house CRUD fields, the move, and
`Customer.trainingEnrolments`. Resolvers only translate to the services."""
# no `from __future__ import annotations`: strawberry reads the annotations built from the registry
from typing import Annotated, Optional

import strawberry

from trellis.plugin import (After, Before, CrudService, First, Last, crud_fields, crud_inputs, history_field,
                            nested_connection, order_by_argument, order_to_service, page_request, type_from_schema)
from trellis_training import schemas as s, services

STATUS = {"status": "training_enrolment.status.state"}   # the workflow's states, as a GraphQL enum


def register_types(registry) -> None:
    type_from_schema(registry, "TrainingCourse", s.CourseOut)
    type_from_schema(registry, "TrainingEnrolment", s.EnrolmentOut, vocabularies=STATUS)
    crud_inputs(registry, "TrainingCourse", create=s.CourseCreate, update=s.CourseUpdate, filter=s.CourseFilter)
    crud_inputs(registry, "TrainingEnrolment", create=s.EnrolmentCreate, update=s.EnrolmentUpdate,
                filter=s.EnrolmentFilter, vocabularies=STATUS)


def _crud(registry):
    courses = crud_fields(
        registry, "TrainingCourse", create_input="TrainingCourseCreateInput",
        update_input="TrainingCourseUpdateInput", filter_input="TrainingCourseFilter",
        sortable=list(services.COURSE_SORTABLE), default_sort="starts_on",
        service=CrudService(list=services.list_courses, get=services.get_course, create=services.create_course,
                            update=services.update_course, delete=services.delete_course,
                            restore=services.restore_course))
    enrolments = crud_fields(
        registry, "TrainingEnrolment", create_input="TrainingEnrolmentCreateInput",
        update_input="TrainingEnrolmentUpdateInput", filter_input="TrainingEnrolmentFilter",
        sortable=list(services.ENROLMENT_SORTABLE), default_sort="-created_at",
        service=CrudService(list=services.list_enrolments, get=services.get_enrolment,
                            create=services.create_enrolment, update=services.update_enrolment,
                            delete=services.delete_enrolment, restore=services.restore_enrolment))
    return {**courses.query, **enrolments.query}, {**courses.mutation, **enrolments.mutation}


def query_fields(registry) -> dict:
    return _crud(registry)[0]


def mutation_fields(registry) -> dict:
    Status, Enrolment = registry.vocabulary_enum("training_enrolment.status.state"), registry.ref("TrainingEnrolment")

    def move(info: strawberry.Info, id: strawberry.ID,
             to: Annotated[Status, strawberry.argument(description="The status to move to.")],
             reason: str = "") -> Optional[Enrolment]:
        return services.move_enrolment(info.context.user, id, {"to": str(to), "reason": reason})

    return {**_crud(registry)[1], "moveTrainingEnrolment": strawberry.mutation(
        resolver=move, description="Confirm (a full course refuses), mark attended, or cancel an enrolment.")}


def type_fields(registry) -> dict:
    Order = order_by_argument(registry, "TrainingEnrolment", list(services.ENROLMENT_SORTABLE), "-created_at")
    Connection = registry.connection("TrainingEnrolment")

    def training_enrolments(root: strawberry.Parent[object], info: strawberry.Info, first: First = None,
                            after: After = None, last: Last = None, before: Before = None,
                            order_by: Order = None) -> Connection:
        user, sort = info.context.user, order_to_service(order_by)
        return nested_connection(   # one batch for every customer of the page, not one query each
            info.context.loaders, "training.enrolments_of",
            lambda ids, request: services.enrolment_pages(user, ids, request, sort), root.id,
            page_request(first, after, last, before, default=10), count_name="training.enrolment_counts",
            count_batch=lambda ids: services.enrolment_counts(user, ids), sort=sort)

    return {"Customer": {"trainingEnrolments": strawberry.field(
                resolver=training_enrolments, description="The customer's enrolments you may see, newest first.")},
            "TrainingEnrolment": {"history": history_field(registry, services.WORKFLOW,
                                                           "Every status move of the enrolment, oldest first.")}}
