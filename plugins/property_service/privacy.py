"""Where the property service plugin keeps personal data (``trellis_personal_data``): owners' and
residents' occupancies, and their service requests with the description, photos, location and feedback
they gave. Units, buildings and staff are not the person's data; SLA figures and ratings are kept."""
from __future__ import annotations

from core.privacy import PersonalData
from plugins.property_service.models import PsOccupancy, PsRequest


def personal_data() -> list[PersonalData]:
    return [
        PersonalData(PsOccupancy, lambda p: PsOccupancy.customer_id.in_(p.customer_ids),
                     description="Occupancies: which unit the person owns or rents (exported; kept)."),
        PersonalData(PsRequest, lambda p: PsRequest.requester_id.in_(p.customer_ids),
                     fields=("description", "photos", "attributes", "address_string", "lat", "long",
                             "feedback_comment", "resolution", "explanation"),
                     description="Service requests and feedback: texts, photos and location erased; kind, "
                                 "status, SLA clocks and rating kept."),
    ]
