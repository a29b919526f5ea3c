"""REST for duplicate customers: the candidates and the merge (``core.services.duplicates``)."""
from __future__ import annotations

from flask_login import current_user
from marshmallow import EXCLUDE, fields

from api.rest.crud import LINK_HEADER, Blueprint, KnownArgs, body_doc, json_body, page_request, served, sort_field
from core.schemas import MAX_PAGE_SIZE, CustomerMerge, CustomerOut, DuplicateFilter
from core.services import duplicates
from core.services.duplicates import CustomerDuplicateOut


class DuplicateArgs(DuplicateFilter, KnownArgs):
    class Meta:
        unknown = EXCLUDE

    after = fields.String(metadata={"description": "The page_size pairs after this cursor (`next_cursor` of "
                                                   "X-Pagination, or the Link rel=\"next\" URL), instead of `page`."})
    before = fields.String(metadata={"description": "The page_size pairs before this cursor (`previous_cursor`, "
                                                    "the Link rel=\"prev\" URL), instead of `page`."})
    sort = sort_field(duplicates.SORTABLE)


def add_routes(blp: Blueprint) -> None:
    """``GET /customers/duplicates`` and ``POST /customers/{id}/merge`` on the customers' blueprint."""

    @blp.route("/duplicates")
    @blp.arguments(DuplicateArgs, location="query", as_kwargs=False)
    @blp.response(200, CustomerDuplicateOut(many=True), headers={"Link": LINK_HEADER})
    @blp.paginate(max_page_size=MAX_PAGE_SIZE)
    def duplicate_customers(args, pagination_parameters):
        """Duplicate candidates: pairs of your customers sharing an e-mail, a phone number or a name

        Normalised before comparing: e-mails trimmed and lower-cased, phone numbers as digits with the
        country code (+86 138-0013-8000 is 13800138000), names NFKC (full-width is half-width), case-folded,
        spaces collapsed. Only pairs whose both customers you may see. Admins, managers and reps."""
        args = dict(args)
        after, before, sort = args.pop("after", None), args.pop("before", None), args.pop("sort", None)
        page = (duplicates.page_at(after=after, before=before, size=pagination_parameters.page_size)
                if after or before else page_request(pagination_parameters))
        return served(pagination_parameters,
                      duplicates.find_duplicate_candidates(current_user, args, page=page, sort=sort))

    @blp.route("/<uuid:record_id>/merge", methods=["POST"])
    @blp.doc(**body_doc(CustomerMerge))
    @blp.response(200, CustomerOut)
    def merge_customer(record_id):
        """Merge a duplicate into this customer

        Moves the duplicate's contacts, interactions, tags and every plugin's records here, in one
        transaction; the duplicate is then hidden from lists and reads as merged into this one
        (`merged_into_id`). Returns this customer. 409 when either was merged already or a version is stale;
        422 naming `merged_id` for an unknown duplicate or this customer itself."""
        return duplicates.merge_customers(current_user, record_id, json_body())
