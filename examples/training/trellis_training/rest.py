"""REST, under /api/v1/training: the declared records' house endpoints, and the move."""
from __future__ import annotations

from flask import request
from flask_login import current_user

from trellis.plugin import body_doc, record_blueprint
from trellis_training.services import COURSES, ENROLMENTS, TrainingMove, move_enrolment


def blueprints():
    courses = record_blueprint(COURSES, "training_courses", "/courses",
                               description="The school's courses: everyone reads them, the coordinator keeps them.")
    enrolments = record_blueprint(ENROLMENTS, "training_enrolments", "/enrolments",
                                  description="Customers' enrolments in courses: applied, confirmed, attended or "
                                              "cancelled.")

    @enrolments.route("/<uuid:record_id>/move", methods=["POST"])
    @enrolments.doc(**body_doc(TrainingMove))
    @enrolments.response(200, ENROLMENTS.out_schema)
    def move(record_id):
        """Move an enrolment: confirm it (a full course refuses), mark it attended, or cancel it"""
        return move_enrolment(current_user, record_id, request.get_json(silent=True) or {})

    return [courses, enrolments]
