"""What a merge of two customers (``trellis_merge_customers``, core.services.duplicates) does to the
exhibitions: every participation, exhibitor user, registration (as visitor and as the visitor's company) and
invitation of the duplicate moves to the survivor, audited. A participation, registration or invitation is
unique per edition: when both customers have one for the same edition, the merge is refused (409 naming
the edition) until one of the two is deleted — except an invitation, where the survivor's is kept and
the duplicate's stays behind with it; a deleted row of the duplicate that would clash stays behind too."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core import db
from core.services import audit
from core.services.duplicates import move_customer_rows
from plugins.exhibitions.models import (ExhibitionInvitation, ExhibitorParticipation, ExhibitorUser,
                                        VisitorRegistration)


def merge(actor: Any, survivor, merged) -> dict[str, int]:
    moved = {
        "participations": move_customer_rows(actor, ExhibitorParticipation, "company_id", survivor, merged,
                                             unique_with=("edition_id",), what="participation"),
        "exhibitor_users": move_customer_rows(actor, ExhibitorUser, "company_id", survivor, merged),
        "registrations": move_customer_rows(actor, VisitorRegistration, "visitor_id", survivor, merged,
                                            unique_with=("edition_id",), what="registration"),
        "registrations_as_company": move_customer_rows(actor, VisitorRegistration, "company_id", survivor, merged),
    }
    # invitations: the survivor's stands; the duplicate's for the same edition is retired (deleted, audited)
    sess = db.session()
    invited = set(sess.scalars(select(ExhibitionInvitation.edition_id)
                               .where(ExhibitionInvitation.visitor_id == survivor.id)))
    for twin in sess.scalars(select(ExhibitionInvitation).where(ExhibitionInvitation.visitor_id == merged.id,
                                                                ExhibitionInvitation.edition_id.in_(invited),
                                                                ExhibitionInvitation.deleted_at.is_(None))):
        twin.deleted_at = db.utcnow()
        sess.flush()
        audit.record_change(actor, "deleted", twin, payload={"merged_into": survivor.id,
                                                             "reason": "the survivor was invited to this edition"})
    moved["invitations"] = move_customer_rows(actor, ExhibitionInvitation, "visitor_id", survivor, merged,
                                              unique_with=("edition_id",), what="invitation")
    return {k: v for k, v in moved.items() if v}
