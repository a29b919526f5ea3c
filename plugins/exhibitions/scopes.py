"""Exhibitions (会展): who sees which rows, returned by ``trellis_record_scopes``.

Admins see everything (the core's rule). Organiser staff see every record of the plugin and the
customers taking part in a show (exhibitors, visitors, their companies) or owned by them. Exhibitor
users see their own company, every show and edition, its participations and booths, its leads
and meetings — and no registration: visitor data reaches them only through the services' visitor
cards, limited to the fields the organiser allows. Managers and reps read shows and editions, and the
participations and registrations of customers they can see.
"""
from __future__ import annotations

from sqlalchemy import and_, exists, or_, select, true

from core.models import Customer
from plugins.exhibitions import labels as L
from plugins.exhibitions.models import (
    CheckIn, ExhibitionBooth, ExhibitionEdition, ExhibitionInvitation, ExhibitionLead, ExhibitionMeeting,
    ExhibitionShow, ExhibitorParticipation, ExhibitorUser, SurveyAnswer, VisitorRegistration,
)

CORE_READERS = ("manager", "rep")


def _company(actor):
    return select(ExhibitorUser.company_id).where(ExhibitorUser.user_id == actor.id)


def _own_participations(actor):
    return select(ExhibitorParticipation.id).where(ExhibitorParticipation.company_id.in_(_company(actor)))


def _customers_seen_by_core_rule(actor):
    from core.services.permissions import customer_visibility

    return select(Customer.id).where(customer_visibility(actor))


def customer_scope(actor):
    if actor.role == L.ORGANISER:
        # correlated EXISTS (index lookups), not IN (SELECT …): a single customer read stays cheap
        return or_(Customer.owner_id == actor.id,
                   exists().where(ExhibitorParticipation.company_id == Customer.id),
                   exists().where(VisitorRegistration.visitor_id == Customer.id),
                   exists().where(VisitorRegistration.company_id == Customer.id))
    if actor.role == L.EXHIBITOR:
        return Customer.id.in_(_company(actor))
    return None


def staff_or_readers(actor):
    return true() if actor.role in (L.ORGANISER, *CORE_READERS) else None


def public(actor):
    """Shows and editions (dates, venue, halls) are public to every role: exhibitors apply to them."""
    return true() if actor.role in (L.ORGANISER, L.EXHIBITOR, *CORE_READERS) else None


def booth_scope(actor):
    if actor.role == L.EXHIBITOR:
        # its own booths, and those still free to book (never another exhibitor's)
        return or_(ExhibitionBooth.participation_id.in_(_own_participations(actor)),
                   and_(ExhibitionBooth.status == "available", ExhibitionBooth.participation_id.is_(None)))
    return staff_or_readers(actor)


def participation_scope(actor):
    if actor.role == L.ORGANISER:
        return true()
    if actor.role == L.EXHIBITOR:
        return ExhibitorParticipation.company_id.in_(_company(actor))
    if actor.role in CORE_READERS:
        return ExhibitorParticipation.company_id.in_(_customers_seen_by_core_rule(actor))
    return None


def registration_scope(actor):
    if actor.role == L.ORGANISER:
        return true()
    if actor.role in CORE_READERS:
        return VisitorRegistration.visitor_id.in_(_customers_seen_by_core_rule(actor))
    return None


def exhibitor_user_scope(actor):
    """Organiser staff see every exhibitor user's link; an exhibitor the links of their own company."""
    if actor.role == L.ORGANISER:
        return true()
    if actor.role == L.EXHIBITOR:
        return ExhibitorUser.company_id.in_(_company(actor))
    return None


def organiser_only(actor):
    return true() if actor.role == L.ORGANISER else None


def lead_scope(actor):
    if actor.role == L.ORGANISER:
        return true()
    if actor.role == L.EXHIBITOR:
        return ExhibitionLead.participation_id.in_(_own_participations(actor))
    return None


def survey_scope(actor):
    if actor.role == L.ORGANISER:
        return true()
    if actor.role == L.EXHIBITOR:
        return SurveyAnswer.participation_id.in_(_own_participations(actor))
    return None


def meeting_scope(actor):
    if actor.role == L.ORGANISER:
        return true()
    if actor.role == L.EXHIBITOR:
        return ExhibitionMeeting.participation_id.in_(_own_participations(actor))
    return None


SCOPES = {
    Customer: customer_scope,
    ExhibitionShow: public,
    ExhibitionEdition: public,
    ExhibitionBooth: booth_scope,
    ExhibitorParticipation: participation_scope,
    ExhibitorUser: exhibitor_user_scope,
    VisitorRegistration: registration_scope,
    CheckIn: organiser_only,
    ExhibitionLead: lead_scope,
    ExhibitionMeeting: meeting_scope,
    ExhibitionInvitation: organiser_only,
    SurveyAnswer: survey_scope,
}
