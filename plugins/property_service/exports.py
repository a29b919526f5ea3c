"""Property service (物业服务): a request's status history exported as its REST list
(``trellis_export_types``, beside :func:`plugins.property_service.imports.export_types`): the list's SELECT
from the service the REST list uses (scope there), in the fields of its items, the request a required
filter (``request_id``: missing, or one the caller may not see, is a 422 naming it).

A customer's requests (``GET …/customers/<id>/requests``) are the ``property_service.requests`` export
with ``requester_id``; a customer's units (``GET …/customers/<id>/units``) the
``property_service.occupancies`` export with ``customer_id``.
"""
from __future__ import annotations


def export_types() -> list:
    """A service request's status moves."""
    from core.exports import schema_export
    from core.schemas import TransitionOut
    from plugins.property_service import requests
    from plugins.property_service import schemas as s

    return [schema_export("property_service.request_history", "One service request's status moves (filter "
                          "request_id, required).", requests.filtered_history, TransitionOut,
                          filters=s.PropertyRequestHistoryFilter,
                          route="/property-service/requests/{record_id}/history")]
