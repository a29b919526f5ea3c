"""Name search (``q``) with a term of one or two characters reads the names' grams
(``core.models.name_grams``), which the database's triggers keep: these tests pin that the grams follow
every write (the ORM, a bulk insert, a rename, an erasure's new name, a deletion for good) and that a
search finds exactly the rows ``ILIKE '%term%'`` finds, in the list's order, within the searcher's scope."""
from __future__ import annotations

import dataclasses
import uuid

import pytest
from sqlalchemy import delete, insert, select, update

from core.models import Contact, ContactNameGram, Customer, CustomerNameGram
from core import db
from core.services import contacts, customers, duplicates
from core.services.common import PageRequest
from core.services.paging import KeysetRequest
from tests.api.rest.test_customers import create

NAMES = ["杭州青禾科技有限公司", "杭州西湖茶业", "上海杭州路商贸", "王记餐饮", "王王食品", "ACME Trading",
         "acme_trading", "Acme 100%", "Zeta Works", "北京王府井百货", "x"]


def grams_of(sess, model, key, record_id) -> set[str]:
    return set(sess.scalars(select(model.gram).where(key == record_id)))


def expected_grams(name: str) -> set[str]:
    low = name.lower()
    return {low[i:i + n] for n in (1, 2) for i in range(len(low) - n + 1)}


def search(actor, term: str, **filters) -> list[str]:
    page = customers.list_customers(actor, {"q": term, **filters}, page=PageRequest(limit=100))
    return [c.name for c in page.items]


def truth(sess, term: str) -> list[str]:
    """The live customers whose name contains ``term`` (case-insensitive), in the list's order: what the
    search promises, computed here in Python."""
    rows = sess.execute(select(Customer.name, Customer.id).where(Customer.deleted_at.is_(None))).all()
    return [name for name, _ in sorted((r for r in rows if term.lower() in r.name.lower()),
                                       key=lambda r: (r.name, r.id))]


@pytest.fixture
def named(uow, people):
    made = [customers.create(people.admin, {"name": name, "owner_id": str(people.rep.id)}) for name in NAMES]
    uow.flush()
    return made


def test_a_new_customer_and_contact_have_the_grams_of_their_lowered_name(uow, people):
    customer = customers.create(people.admin, {"name": "Acme 杭州"})
    contact = contacts.create(people.admin, {"customer_id": str(customer.id), "name": "王Li"})
    uow.flush()
    assert grams_of(uow, CustomerNameGram, CustomerNameGram.customer_id, customer.id) == expected_grams("Acme 杭州")
    assert "ac" in expected_grams("Acme 杭州") and "杭州" in expected_grams("Acme 杭州")
    assert grams_of(uow, ContactNameGram, ContactNameGram.contact_id, contact.id) == {"王", "l", "i", "王l", "li"}
    names = set(uow.scalars(select(CustomerNameGram.name).where(CustomerNameGram.customer_id == customer.id)))
    assert names == {"Acme 杭州"}   # the name as written, for the index's name order


def test_a_rename_replaces_the_grams_and_an_unrelated_change_keeps_them(uow, people):
    customer = customers.create(people.admin, {"name": "杭州茶业"})
    uow.flush()
    customers.update(people.admin, customer.id, {"name": "苏州丝绸", "version": customer.version})
    uow.flush()
    assert grams_of(uow, CustomerNameGram, CustomerNameGram.customer_id, customer.id) == expected_grams("苏州丝绸")
    assert not customers.list_customers(people.admin, {"q": "杭州"}).items   # the old name is not found
    assert [c.id for c in customers.list_customers(people.admin, {"q": "丝绸"}).items] == [customer.id]
    # an UPDATE of another column, and one through SQL rather than the ORM
    uow.execute(update(Customer).where(Customer.id == customer.id).values(notes="vip"))
    assert grams_of(uow, CustomerNameGram, CustomerNameGram.customer_id, customer.id) == expected_grams("苏州丝绸")
    uow.execute(update(Customer).where(Customer.id == customer.id).values(name="Erased 1"))
    assert grams_of(uow, CustomerNameGram, CustomerNameGram.customer_id, customer.id) == expected_grams("Erased 1")


def test_rows_inserted_in_bulk_and_deleted_for_good(uow, people):
    ids = [uuid.uuid4() for _ in range(3)]
    uow.execute(insert(Customer), [{"id": i, "name": f"王{n}号", "owner_id": people.rep.id}
                                   for n, i in enumerate(ids)])
    uow.execute(insert(Contact), [{"id": i, "customer_id": ids[0], "name": "王五"} for i in (uuid.uuid4(),)])
    assert {uow.scalar(select(CustomerNameGram.customer_id).where(CustomerNameGram.customer_id == i,
                                                                   CustomerNameGram.gram == "王"))
            for i in ids} == set(ids)
    assert uow.scalar(select(ContactNameGram.name).where(ContactNameGram.gram == "王五")) == "王五"
    uow.execute(delete(Contact).where(Contact.customer_id == ids[0]))
    uow.execute(delete(Customer).where(Customer.id.in_(ids)))
    assert uow.scalar(select(CustomerNameGram.gram).where(CustomerNameGram.customer_id.in_(ids))) is None
    assert uow.scalar(select(ContactNameGram.gram).where(ContactNameGram.gram == "王五")) is None


def live_of(sess, customer_id) -> set[bool]:
    return set(sess.scalars(select(CustomerNameGram.live).where(CustomerNameGram.customer_id == customer_id)))


def test_a_customers_grams_follow_it_to_the_bin_and_back(uow, people):
    """The grams say whether their customer is live (an admin's count of a short search reads them alone):
    a delete, a rename in the bin (an erasure's new name), a restore, a merge, UPDATEs through SQL, a row
    inserted already deleted."""
    customer = customers.create(people.admin, {"name": "杭州茶业"})
    uow.flush()
    assert live_of(uow, customer.id) == {True}
    customers.delete(people.admin, customer.id)
    uow.flush()
    assert live_of(uow, customer.id) == {False}
    assert customers.list_customers(people.admin, {"q": "杭州"}).total == 0
    assert [c.id for c in customers.list_customers(people.admin, {"q": "杭州", "deleted": True}).items] == [customer.id]
    uow.execute(update(Customer).where(Customer.id == customer.id).values(name="Erased 9"))
    assert grams_of(uow, CustomerNameGram, CustomerNameGram.customer_id, customer.id) == expected_grams("Erased 9")
    assert live_of(uow, customer.id) == {False}
    customers.restore(people.admin, customer.id)
    uow.flush()
    assert live_of(uow, customer.id) == {True}
    assert customers.list_customers(people.admin, {"q": "9"}).total == 1
    # renamed and deleted by one UPDATE, then restored by another that leaves the name alone
    uow.execute(update(Customer).where(Customer.id == customer.id).values(name="苏州丝绸", deleted_at=db.utcnow()))
    assert live_of(uow, customer.id) == {False}
    assert grams_of(uow, CustomerNameGram, CustomerNameGram.customer_id, customer.id) == expected_grams("苏州丝绸")
    uow.execute(update(Customer).where(Customer.id == customer.id).values(deleted_at=None, notes="back"))
    assert live_of(uow, customer.id) == {True}
    survivor = customers.create(people.admin, {"name": "苏州丝绸有限公司"})
    uow.flush()
    duplicates.merge_customers(people.admin, survivor.id, {"merged_id": str(customer.id)})
    uow.flush()
    assert live_of(uow, customer.id) == {False} and live_of(uow, survivor.id) == {True}
    assert [c.id for c in customers.list_customers(people.admin, {"q": "丝绸"}).items] == [survivor.id]
    gone = uuid.uuid4()
    uow.execute(insert(Customer), [{"id": gone, "name": "王记", "deleted_at": db.utcnow()}])
    assert live_of(uow, gone) == {False}


@pytest.mark.parametrize("paged", ["keyset", "offset"])
def test_an_admins_count_of_a_short_search_reads_the_grams_alone(uow, runtime, people, named, count_queries,
                                                                 monkeypatch, paged):
    """An admin's live search by one or two characters and nothing else counts the live gram rows, not
    the customers they lead to (1 M customers: 2,001 probes of ``customer`` for 杭州); the same total
    as the rows found, below the count limit and past it. Anyone else's count, or one with another
    filter, reads the customers."""
    request = KeysetRequest(first=2) if paged == "keyset" else PageRequest(limit=2)
    gone = customers.create(people.admin, {"name": "王在回收站"})
    uow.flush()
    customers.delete(people.admin, gone.id)
    uow.flush()

    def total(actor, **filters) -> tuple[int, list[str]]:
        with count_queries() as counter:
            found = customers.list_customers(actor, filters, page=request).total
        counts = [s for s in counter.statements if "count(" in s.lower()]
        assert len(counts) == 1, counter.statements
        # the count's own statement, or (an offset page) the subquery the page's statement counts in
        return found, [counts[0].split("count(", 1)[1].split(" AS _total", 1)[0]]

    for term in ("王", "杭州", "ac", "无"):
        found, (count,) = total(people.admin, q=term)
        assert found == len(truth(uow, term)), term
        assert "customer_name_gram" in count and "FROM customer " not in count and "JOIN customer " not in count, count
    _, (count,) = total(people.rep, q="王")
    assert "customer_name_gram" in count and "customer.owner_id" in count   # the rep's scope is on the customer
    for filters in ({"q": "王", "deleted": True}, {"q": "王", "kind": "company"}, {"q": "王王食"}):
        found, (count,) = total(people.admin, **filters)
        assert found == len(customers.list_customers(people.admin, filters, page=PageRequest(limit=100)).items)
        assert "customer.deleted_at" in count, (filters, count)
    monkeypatch.setattr(runtime, "settings", dataclasses.replace(runtime.settings, list_count_limit=1))
    page = customers.list_customers(people.admin, {"q": "王"}, page=request)
    assert (page.total, page.total_capped) == (1, True)


@pytest.mark.parametrize("term", ["杭州", "王", "州", "ac", "AC", "_t", "%", "0%", "x", "王王", " ", "州路", "无"])
def test_a_short_term_finds_what_contains_it_in_name_order(uow, people, named, term):
    assert search(people.admin, term) == truth(uow, term)


def test_every_piece_of_every_name_finds_the_same_rows_as_a_longer_search_would(uow, people, named):
    """Each 1- and 2-character piece of every name (the grams' path) against the same answer computed in
    Python: nothing missing, nothing extra, no row twice."""
    pieces = set().union(*(expected_grams(name) for name in NAMES))
    assert len(pieces) > 80
    for term in sorted(pieces):
        assert search(people.admin, term) == truth(uow, term), term
    assert search(people.admin, "杭州青") == truth(uow, "杭州青")   # three characters: the trigram path


def test_a_short_search_keeps_the_scope_the_bin_and_the_pages(uow, people, named):
    others = customers.create(people.admin, {"name": "杭州他人", "owner_id": str(people.other_rep.id)})
    uow.flush()
    assert "杭州他人" in search(people.admin, "杭州")
    assert "杭州他人" not in search(people.rep, "杭州")              # outside the rep's scope
    assert search(people.rep, "杭州") == [n for n in truth(uow, "杭州") if n != "杭州他人"]
    customers.delete(people.admin, others.id)
    uow.flush()
    assert "杭州他人" not in search(people.admin, "杭州")
    assert search(people.admin, "杭州", deleted=True) == ["杭州他人"]  # the bin is searched the same way
    first = customers.list_customers(people.admin, {"q": "杭"}, page=KeysetRequest(first=2))
    assert first.total == 3 and first.has_next
    rest = customers.list_customers(people.admin, {"q": "杭"}, page=KeysetRequest(first=2, after=first.cursors[-1]))
    assert [c.name for c in first.items + rest.items] == truth(uow, "杭") and not rest.has_next
    by_newest = customers.list_customers(people.admin, {"q": "杭"}, sort="-created_at").items
    assert sorted(c.name for c in by_newest) == sorted(truth(uow, "杭"))


def test_contacts_short_search(uow, people, named):
    for customer, name in zip(named, ["王小明", "李王", "Wang Wei", "wa"]):
        contacts.create(people.admin, {"customer_id": str(customer.id), "name": name})
    uow.flush()
    found = contacts.list_contacts(people.rep, {"q": "王"}, page=PageRequest(limit=50))
    assert [c.name for c in found.items] == ["李王", "王小明"] and found.total == 2
    assert [c.name for c in contacts.list_contacts(people.admin, {"q": "WA"}).items] == ["Wang Wei", "wa"]
    assert contacts.list_contacts(people.admin, {"q": "王明"}).items == []   # grams are contiguous


def test_the_rest_and_graphql_lists_search_by_one_character(api):
    for name in ("王记", "老王", "李记"):
        create(api, name=name)
    assert [c["name"] for c in api.get("/api/v1/customers?q=王").get_json()] == ["王记", "老王"]
    body = api.post("/graphql", json={"query": '{ customers(filter: {q: "记"}) { edges { node { name } } } }'}
                    ).get_json()
    assert [e["node"]["name"] for e in body["data"]["customers"]["edges"]] == ["李记", "王记"], body
