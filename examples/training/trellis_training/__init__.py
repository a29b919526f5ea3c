"""Training school (培训): courses, customers' enrolments in them (applied → confirmed → attended, or
cancelled) and attendance on the customer's timeline. The example plugin of docs/plugins.md: it imports
nothing of Trellis but `trellis.plugin`."""
from __future__ import annotations

import datetime
from pathlib import Path

import click
from sqlalchemy import select, true

from trellis.plugin import (AUTOMATIC, MANUAL, Choice, Customer, Job, Metric, PersonalData, PluginSetting, State,
                            Transition, ValidationFailed, Workflow, create_demo_user, hookimpl,
                            move_customer_rows, session, with_unit_of_work)
from trellis_training import graphql, rest, services
from trellis_training.models import TrainingCourse, TrainingEnrolment

name = "training"      # the prefix of everything the plugin declares: tables, metrics, roles, GraphQL types …
version = "0.1.0"


@hookimpl
def trellis_models():
    return [TrainingCourse, TrainingEnrolment]


@hookimpl
def trellis_migrations():
    return Path(__file__).parent / "migrations" / "versions"


@hookimpl
def trellis_workflows(settings):
    def move(source, target, triggers=(MANUAL,)):
        return Transition(source, target, triggers=triggers)

    return [Workflow(
        name=services.WORKFLOW, model=TrainingEnrolment, field="status", initial="applied",
        label_en="Enrolment status", label_zh_cn="报名状态",
        states=(State("applied", "Applied", "已申请"), State("confirmed", "Confirmed", "已确认"),
                State("attended", "Attended", "已参加"), State("cancelled", "Cancelled", "已取消")),
        transitions=(move("applied", "confirmed"), move("confirmed", "attended"),
                     move("applied", "cancelled", (MANUAL, AUTOMATIC)), move("confirmed", "cancelled")))]


@hookimpl
def trellis_roles():
    return [Choice(services.COORDINATOR, "Training coordinator", "培训协调员")]


@hookimpl
def trellis_record_scopes():
    return {TrainingCourse: lambda actor: true(), TrainingEnrolment: services.enrolment_scope,
            Customer: services.customer_scope}


@hookimpl
def trellis_interaction_kinds():
    return [Choice("training_attended", "Attended a training course", "参加培训课程")]


@hookimpl
def trellis_rest_blueprints():
    return rest.blueprints()


@hookimpl
def trellis_graphql_types(registry):
    graphql.register_types(registry)


@hookimpl
def trellis_graphql_type_fields(registry):
    return graphql.type_fields(registry)


@hookimpl
def trellis_graphql_query_fields(registry):
    return graphql.query_fields(registry)


@hookimpl
def trellis_graphql_mutation_fields(registry):
    return graphql.mutation_fields(registry)


@hookimpl
def trellis_metrics():
    return [Metric("training_enrolments", "Enrolments", "报名人次", services.enrolments_metric,
                   description="Enrolments made in the period.", group_by=("status", "period:month")),
            Metric("training_fill_rate", "Course fill rate", "课程满员率", services.fill_rate_metric, unit="share",
                   description="Share of the places taken (confirmed or attended).", group_by=("course",))]


@hookimpl
def trellis_settings():
    return [PluginSetting("training_grace_days", 1, "Days after a course starts before its unconfirmed "
                                                    "applications are cancelled.")]


@hookimpl
def trellis_scheduled_jobs():
    return [Job("training.expire_applications", services.expire_applications,
                "Cancel applications left unconfirmed after their course started.")]


@hookimpl
def trellis_cli_commands():
    @click.command("training-courses")
    @with_unit_of_work
    def courses():
        """List the live courses with their places taken."""
        rows = session().scalars(select(TrainingCourse).where(TrainingCourse.deleted_at.is_(None))
                                 .order_by(TrainingCourse.starts_on, TrainingCourse.code)).all()
        taken = services.places_taken([c.id for c in rows])
        for c in rows:
            click.echo(f"{c.code}\t{c.starts_on}\t{taken[c.id]}/{c.capacity}\t{c.name}")

    return [courses]


@hookimpl
def trellis_demo_data(admin, rng, progress):
    customers = session().scalars(select(Customer).where(Customer.deleted_at.is_(None))
                                  .order_by(Customer.created_at, Customer.id).limit(40)).all()
    progress.expect(5 + 2 * len(customers))
    coordinator = create_demo_user(admin, {"email": "coordinator@training.demo", "name": "培训协调员",
                                           "role": services.COORDINATOR, "password": "coordinator-demo-1"})
    today = datetime.date.today()
    courses = [services.COURSES.create(coordinator, {
        "code": f"TR-10{i}", "name": name, "capacity": rng.randint(8, 15), "price": str(600 + 200 * i),
        "starts_on": (today + datetime.timedelta(days=14 * (i - 1))).isoformat()})
        for i, name in enumerate(["客户服务基础", "大客户销售", "谈判技巧", "数据分析入门"], start=1)]
    progress(5)
    for customer in customers:
        enrolment = services.ENROLMENTS.create(admin, {"course_id": str(rng.choice(courses).id),
                                                      "customer_id": str(customer.id)})
        for to in rng.choice([[], ["confirmed"], ["confirmed", "attended"], ["cancelled"]]):
            try:
                services.move_enrolment(coordinator, enrolment.id, {"to": to})
            except ValidationFailed:
                break   # the course is full: the application waits
        progress(2)


@hookimpl
def trellis_personal_data():
    return [PersonalData(TrainingEnrolment, lambda person: TrainingEnrolment.customer_id.in_(person.customer_ids),
                         fields=("note",), description="Enrolments in courses: the school's note is erased.")]


@hookimpl
def trellis_merge_customers(survivor, merged, actor):
    moved = move_customer_rows(actor, TrainingEnrolment, "customer_id", survivor, merged)
    return {"enrolments": moved} if moved else None
