"""Where the exhibitions plugin keeps personal data (``trellis_personal_data``): a visitor's registrations
(with the email and phone they gave), gate scans, the leads and meetings exhibitors recorded about them,
invitations and survey answers. Exhibitors are companies; their participations are not personal data."""
from __future__ import annotations

from sqlalchemy import select

from core.privacy import PersonalData
from plugins.exhibitions.models import (
    CheckIn, ExhibitionInvitation, ExhibitionLead, ExhibitionMeeting, SurveyAnswer, VisitorRegistration,
)


def _registrations(person):
    return select(VisitorRegistration.id).where(VisitorRegistration.visitor_id.in_(person.customer_ids))


def personal_data() -> list[PersonalData]:
    return [
        PersonalData(VisitorRegistration, lambda p: VisitorRegistration.visitor_id.in_(p.customer_ids),
                     fields=("company_name", "job_title", "email", "phone", "email_key", "phone_key"), email="email",
                     customer="visitor_id",
                     description="Registrations: contact details erased; category, interests, intent, badge kept."),
        PersonalData(CheckIn, lambda p: CheckIn.registration_id.in_(_registrations(p)),
                     description="Gate scans (exported; times and gates kept for attendance figures)."),
        PersonalData(ExhibitionLead, lambda p: ExhibitionLead.registration_id.in_(_registrations(p)),
                     fields=("notes", "tags"), description="Leads exhibitors captured: their notes and tags."),
        PersonalData(ExhibitionMeeting, lambda p: ExhibitionMeeting.registration_id.in_(_registrations(p)),
                     fields=("notes",), description="Meetings with exhibitors: notes erased."),
        PersonalData(ExhibitionInvitation, lambda p: ExhibitionInvitation.visitor_id.in_(p.customer_ids),
                     fields=("reason",), description="Invitations: why the visitor was picked."),
        PersonalData(SurveyAnswer, lambda p: SurveyAnswer.registration_id.in_(_registrations(p)),
                     fields=("comment",), description="Survey answers: the comment erased, the score kept."),
    ]
