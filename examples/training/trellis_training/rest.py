"""REST, under /api/v1/training: the house CRUD endpoints of courses and enrolments, and the move."""
from __future__ import annotations

from flask import request
from flask_login import current_user

from trellis.plugin import CrudService, body_doc, crud_blueprint
from trellis_training import schemas as s, services


def blueprints():
    courses = crud_blueprint(
        "training_courses", "/courses", out_schema=s.CourseOut, create_schema=s.CourseCreate,
        update_schema=s.CourseUpdate, filter_schema=s.CourseFilter, sortable=sorted(services.COURSE_SORTABLE),
        service=CrudService(list=services.list_courses, get=services.get_course, create=services.create_course,
                            update=services.update_course, delete=services.delete_course,
                            restore=services.restore_course),
        description="The school's courses: everyone reads them, the coordinator keeps them.")
    enrolments = crud_blueprint(
        "training_enrolments", "/enrolments", out_schema=s.EnrolmentOut, create_schema=s.EnrolmentCreate,
        update_schema=s.EnrolmentUpdate, filter_schema=s.EnrolmentFilter,
        sortable=sorted(services.ENROLMENT_SORTABLE),
        service=CrudService(list=services.list_enrolments, get=services.get_enrolment,
                            create=services.create_enrolment, update=services.update_enrolment,
                            delete=services.delete_enrolment, restore=services.restore_enrolment),
        description="Customers' enrolments in courses: applied, confirmed, attended or cancelled.")

    @enrolments.route("/<uuid:record_id>/move", methods=["POST"])
    @enrolments.doc(**body_doc(s.Move))
    @enrolments.response(200, s.EnrolmentOut)
    def move(record_id):
        """Move an enrolment: confirm it (a full course refuses), mark it attended, or cancel it"""
        return services.move_enrolment(current_user, record_id, request.get_json(silent=True) or {})

    return [courses, enrolments]
