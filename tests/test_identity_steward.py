"""Explanations, online matching, search and the steward's decisions, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from demo.population import Person, Population
from identity.index import relink, successors_of, write_records
from identity.match import Grade
from identity.online import SearchQuery, place, search
from identity.steward import decide, explain, review_queue, unlink
from store.tables import IdentityModel, IdentityReview, SourceLink


def _row(source: str, local_id: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {k: None for k in ("first_name", "middle_name", "last_name", "dob", "sex", "ssn",
                                              "ssn_last4", "ssn_quality", "name_quality", "dob_quality", "cin",
                                              "student_id", "updated")}
    return {**base, "source": source, "local_id": local_id, "synced_at": datetime.now(UTC), **fields}


async def _add(sessions: Any, *rows: dict[str, Any]) -> None:
    async with sessions.begin() as session:
        await write_records(session, list(rows))


async def _client_of(sessions: Any, key: tuple[str, str]) -> str:
    async with sessions() as session:
        return (await session.execute(select(SourceLink.client_id).where(
            SourceLink.source == key[0], SourceLink.local_id == key[1]))).scalar_one()


async def _truth_client(sessions: Any, person: Person) -> str:
    key = ("benefits", person.benefits_id) if person.benefits_id else ("hmis", person.hmis_id)
    return await _client_of(sessions, key)


def _adult(population: Population) -> Person:
    return next(p for p in population.people if p.benefits_id and p.hmis_id and p.relationship == "HEAD")


async def test_every_link_says_why_and_the_client_explains_itself(indexed: Any) -> None:
    sessions, *_ = indexed
    await relink(sessions)
    async with sessions() as session:
        links = list((await session.execute(select(SourceLink))).scalars())
        assert (await session.execute(select(func.count()).select_from(IdentityModel))).scalar_one() == 1
    sizes: dict[str, int] = {}
    for ln in links:
        sizes[ln.client_id] = sizes.get(ln.client_id, 0) + 1
    joined = [ln for ln in links if sizes[ln.client_id] > 1]
    assert joined, "the city has people known to several agencies"
    for ln in joined:
        assert ln.via_source and ln.via_local_id, "a joined record names the record it was matched with"
        assert (ln.how == "rule" and ln.rule in ("cin", "ssn", "student-id")) or (ln.how == "score"
                                                                                   and ln.score >= 16)
    client = next(c for c, n in sizes.items() if n > 1)
    explained = await explain(sessions, client)
    assert {(e.record.source, e.record.local_id) for e in explained.links} == {
        (ln.source, ln.local_id) for ln in links if ln.client_id == client}
    scored = [e for e in explained.links if e.how == "score"]
    for e in scored:  # per-field weights (each rounded to 0.01) add up to the link's score, a crosswise turn's too
        weights = [f.weight for f in e.fields if f.weight is not None]
        assert weights and abs(sum(weights) - e.score) < 0.06
        assert {f.field for f in e.fields} >= {"first", "last", "dob"}


async def test_a_new_record_of_a_known_person_joins_online_and_a_stranger_stands_alone(
        indexed: Any, population: Population) -> None:
    sessions, *_ = indexed
    await relink(sessions)
    person = _adult(population)
    await _add(sessions,
               _row("clinic", "C-1", first_name=person.first_name, last_name=person.last_name, dob=person.dob,
                    sex=person.sex),
               _row("clinic", "C-2", first_name="Zebulon", last_name="Quintanilla-Okafor", dob=date(1961, 2, 3),
                    sex="M"))
    report = await place(sessions, [("clinic", "C-1"), ("clinic", "C-2")])
    assert (report.placed, report.joined, report.new_clients) == (2, 1, 1)
    assert await _client_of(sessions, ("clinic", "C-1")) == await _truth_client(sessions, person)
    stranger = await _client_of(sessions, ("clinic", "C-2"))
    async with sessions() as session:
        assert (await session.execute(select(func.count()).select_from(SourceLink).where(
            SourceLink.client_id == stranger))).scalar_one() == 1
    # placing again changes nothing
    again = await place(sessions, [("clinic", "C-1"), ("clinic", "C-2")])
    assert (again.joined, again.new_clients, again.moved, again.review) == (0, 0, 0, 0)


async def test_online_a_changed_surname_joins_by_the_home_the_agencies_hold_and_not_without_it(
        indexed: Any, population: Population) -> None:
    sessions, *_ = indexed
    await relink(sessions)
    person = _adult(population)  # the benefits agency holds their address (synced into the index)
    same = {"first_name": person.first_name, "dob": person.dob, "sex": person.sex}
    await _add(sessions, _row("clinic", "C-5", **same, last_name="Quintanilla", address=person.address.upper(),
                              zip=person.zip),
               _row("clinic", "C-6", **same, last_name="Okonkwo"))  # a namesake born that day, or them: unknown
    report = await place(sessions, [("clinic", "C-5"), ("clinic", "C-6")])
    assert await _client_of(sessions, ("clinic", "C-5")) == await _truth_client(sessions, person)
    assert await _client_of(sessions, ("clinic", "C-6")) != await _truth_client(sessions, person)
    assert report.joined == 1
    async with sessions() as session:  # the explanation shows what joined it
        link = (await session.execute(select(SourceLink).where(SourceLink.source == "clinic",
                                                               SourceLink.local_id == "C-5"))).scalar_one()
    explained = await explain(sessions, link.client_id)
    fields = {f.field: f for e in explained.links if e.record.local_id == "C-5" for f in e.fields}
    assert fields["addr"].agreement == "same" and fields["addr"].weight is not None and fields["addr"].weight > 5
    assert fields["last"].agreement == "disagree"


async def test_doubt_goes_to_review_and_the_stewards_decision_survives_relinking(
        indexed: Any, population: Population) -> None:
    sessions, *_ = indexed
    await relink(sessions)
    person = _adult(population)
    await _add(sessions, _row("clinic", "C-9", first_name=person.first_name, last_name=person.last_name))  # no DOB
    report = await place(sessions, [("clinic", "C-9")])
    assert report.review >= 1 and report.joined == 0
    items, _more = await review_queue(sessions, first=50)
    item = next(i for i in items if ("clinic", "C-9") in ((i.a.source, i.a.local_id), (i.b.source, i.b.local_id)))
    assert item.grade in ("probable", "possible")
    fields = {f.field: f for f in item.fields}
    assert fields["last"].agreement == "same" and fields["first"].agreement == "same"
    assert fields["dob"].agreement == "missing" and fields["dob"].weight is None
    other = (item.b.source, item.b.local_id) if item.a.source == "clinic" else (item.a.source, item.a.local_id)

    result = await decide(sessions, ("clinic", "C-9"), other, "same", reason="met the client; same person",
                          by="steward-7", review_id=item.id)
    target = await _client_of(sessions, other)
    assert await _client_of(sessions, ("clinic", "C-9")) == target and result.clients_after == [target]
    assert item.id not in [i.id for i in (await review_queue(sessions, first=50))[0]]
    async with sessions() as session:
        resolved = await session.get(IdentityReview, item.id)
        assert (resolved.status, resolved.resolved_by) == ("resolved", "steward-7")
    await relink(sessions)  # the algorithm never undoes it
    assert await _client_of(sessions, ("clinic", "C-9")) == await _client_of(sessions, other)
    manual = next(e for e in (await explain(sessions, target)).links if e.how == "manual")
    assert manual.decided_by == "steward-7"
    with pytest.raises(Exception, match="no longer open"):
        await decide(sessions, ("clinic", "C-9"), other, "same", reason="again", by="steward-7", review_id=item.id)


async def test_unlink_takes_a_record_out_for_good(indexed: Any, population: Population) -> None:
    sessions, *_ = indexed
    await relink(sessions)
    person = _adult(population)
    key = ("hmis", person.hmis_id)
    before = await _client_of(sessions, key)
    result = await unlink(sessions, key, reason="two people, checked documents", by="steward-7")
    after = await _client_of(sessions, key)
    assert after != before and result.clients_after == [after]
    assert (after, "split") in await successors_of(sessions, before)
    await relink(sessions)
    assert await _client_of(sessions, key) != await _client_of(sessions, ("benefits", person.benefits_id))
    with pytest.raises(Exception, match="reason"):
        await unlink(sessions, ("benefits", person.benefits_id), reason="  ", by="steward-7")


@pytest.mark.parametrize("out", ["benefits", "hmis"])
async def test_the_record_a_steward_takes_out_leaves_the_client_id_with_the_records_left(
        indexed: Any, population: Population, out: str) -> None:
    """The client id carries consents and casework: unlinking one record of a two-record client gives the record
    taken out a new id, whichever record it is (ids used to go to the smaller record key on a tie)."""
    sessions, *_ = indexed
    await relink(sessions)
    person = _adult(population)
    keys = {"benefits": ("benefits", person.benefits_id), "hmis": ("hmis", person.hmis_id)}
    taken, left = keys[out], next(k for name, k in keys.items() if name != out)
    client = await _client_of(sessions, taken)
    async with sessions() as session:
        assert (await session.execute(select(func.count()).select_from(SourceLink).where(
            SourceLink.client_id == client))).scalar_one() == 2
    result = await unlink(sessions, taken, reason="two people, checked documents", by="steward-7")
    assert await _client_of(sessions, left) == client
    moved = await _client_of(sessions, taken)
    assert moved != client and result.clients_before == [client] and result.clients_after == [moved]
    assert (moved, "split") in await successors_of(sessions, client)


async def test_a_changed_record_that_no_longer_fits_its_client_splits_off(
        indexed: Any, population: Population) -> None:
    sessions, *_ = indexed
    await relink(sessions)
    person = _adult(population)
    key = ("hmis", person.hmis_id)
    before = await _client_of(sessions, key)
    await _add(sessions, _row("hmis", person.hmis_id, first_name="Ottoline", last_name="Vandersteen",
                              dob=date(1950, 12, 30), sex="F"))
    report = await place(sessions, [key])
    after = await _client_of(sessions, key)
    assert report.moved == 1 and after != before
    assert (after, "split") in await successors_of(sessions, before)


async def test_search_puts_the_person_first_and_partial_input_is_never_certain(
        indexed: Any, population: Population) -> None:
    sessions, *_ = indexed
    await relink(sessions)
    person = _adult(population)
    expected = await _truth_client(sessions, person)
    found = await search(sessions, SearchQuery(first_name=person.first_name.upper(), last_name=person.last_name,
                                               dob=person.dob))
    assert found and found[0].client_id == expected and found[0].grade is Grade.CERTAIN
    partial = await search(sessions, SearchQuery(last_name=person.last_name, dob=person.dob))
    assert expected in [m.client_id for m in partial]
    assert all(m.grade is not Grade.CERTAIN for m in partial if not m.why.startswith("rule:"))
    nobody = await search(sessions, SearchQuery(first_name="Zebulon", last_name="Quintanilla-Okafor",
                                                dob=date(1961, 2, 3)))
    assert nobody == []
    assert not SearchQuery(last_name="Smith").usable() and SearchQuery(cin="AB12345C").usable()


async def test_the_review_queue_pages_by_score_without_repeating_an_item(
        indexed: Any, population: Population) -> None:
    sessions, *_ = indexed
    await relink(sessions)
    heads = [p for p in population.people if p.benefits_id and p.relationship == "HEAD"][:3]
    await _add(sessions, *[_row("clinic", f"P-{n}", first_name=p.first_name, last_name=p.last_name)
                           for n, p in enumerate(heads)])  # names without a DOB: each one in doubt
    assert (await place(sessions, [("clinic", f"P-{n}") for n in range(len(heads))])).review >= 3
    everything, _ = await review_queue(sessions, first=100)
    seen, after, more = [], None, True
    while more:
        page, more = await review_queue(sessions, first=1, after=after)
        seen += [i.id for i in page]
        after = page[-1].id
    assert seen == [i.id for i in everything] and len(seen) >= 3
    assert [i.score for i in everything] == sorted((i.score for i in everything), reverse=True)


async def test_a_record_a_steward_kept_apart_from_one_record_of_a_client_never_joins_that_client_online(
        indexed: Any, population: Population) -> None:
    """A steward's `different` holds for the clients, as a relink obeys it: placing the record again (a sync saw it
    change) does not join it to the same client through another of that client's records."""
    sessions, *_ = indexed
    await relink(sessions)
    person = _adult(population)
    fields = {"first_name": person.first_name, "last_name": person.last_name, "dob": person.dob, "sex": person.sex}
    await _add(sessions, _row("clinic", "C-5", **fields))
    await place(sessions, [("clinic", "C-5")])
    theirs = await _truth_client(sessions, person)
    assert await _client_of(sessions, ("clinic", "C-5")) == theirs  # one person, by every field
    await decide(sessions, ("clinic", "C-5"), ("benefits", person.benefits_id), "different",
                 reason="met them both: a namesake born the same day", by="steward-7")
    apart = await _client_of(sessions, ("clinic", "C-5"))
    assert apart != theirs and await _client_of(sessions, ("hmis", person.hmis_id)) == theirs

    await _add(sessions, _row("clinic", "C-5", **fields, updated=datetime.now(UTC)))  # the clinic's record changed
    await place(sessions, [("clinic", "C-5")])
    assert await _client_of(sessions, ("clinic", "C-5")) == apart  # not back with the benefits record's client
    queue, _more = await review_queue(sessions, first=100)
    assert not [i for i in queue if ("clinic", "C-5") in ((i.a.source, i.a.local_id), (i.b.source, i.b.local_id))
                and theirs in (i.a.client_id, i.b.client_id)]  # nor asked about again


async def test_a_record_whose_cin_changed_leaves_a_client_holding_another_cin_online_and_the_pair_is_asked_about(
        indexed: Any) -> None:
    """Two different CINs are never one client, online as in a relink: a record whose CIN changed does not stay
    in its client through a shared SSN, and the steward is asked, told that the identifiers differ."""
    sessions, *_ = indexed
    await relink(sessions)
    who = {"first_name": "Ottoline", "last_name": "Vandersteen", "dob": date(1950, 12, 30), "sex": "F",
           "ssn": "912345678", "ssn_quality": 1}
    await _add(sessions, _row("clinic", "M-1", **who, cin="AB12345C"), _row("clinic", "M-2", **who),
               _row("clinic", "R-1", **who, cin="AB12345C"))
    await place(sessions, [("clinic", "M-1"), ("clinic", "M-2"), ("clinic", "R-1")])
    client = await _client_of(sessions, ("clinic", "M-1"))
    assert await _client_of(sessions, ("clinic", "R-1")) == client == await _client_of(sessions, ("clinic", "M-2"))

    await _add(sessions, _row("clinic", "R-1", **who, cin="XY54321Z", updated=datetime.now(UTC)))
    await place(sessions, [("clinic", "R-1")])
    assert await _client_of(sessions, ("clinic", "R-1")) != client
    async with sessions() as session:
        items = list((await session.execute(select(IdentityReview).where(
            IdentityReview.status == "open", IdentityReview.source_a == "clinic",
            IdentityReview.source_b == "clinic"))).scalars())
    assert [(i.reason, "R-1" in (i.local_a, i.local_b)) for i in items] == [("ids-differ", True)]
    await relink(sessions)  # the batch path agrees
    assert await _client_of(sessions, ("clinic", "R-1")) != await _client_of(sessions, ("clinic", "M-1"))


async def test_two_clients_a_steward_kept_apart_are_not_asked_about_again_when_a_new_record_joins_one(
        indexed: Any) -> None:
    """A decision between one record of each holds for the clients: a new record of one of them is not put to a
    steward again beside the other (a second steward's 'same' on that question would undo the first's 'different')."""
    sessions, *_ = indexed
    await relink(sessions)
    who = {"first_name": "Ottoline", "last_name": "Vandersteen", "dob": date(1950, 12, 30), "sex": "F"}
    await _add(sessions, _row("clinic", "K-1", **who, cin="AB12345C"),
               _row("clinic", "D-1", first_name="Ottoline", last_name="Vandersteen"))  # known by name only
    await place(sessions, [("clinic", "K-1"), ("clinic", "D-1")])

    def about(items: list[IdentityReview], *ids: str) -> list[IdentityReview]:
        return [i for i in items if {i.local_a, i.local_b} == set(ids)]

    async def open_items() -> list[IdentityReview]:
        async with sessions() as session:
            return list((await session.execute(select(IdentityReview).where(IdentityReview.status == "open")))
                        .scalars())

    (item,) = about(await open_items(), "K-1", "D-1")
    await decide(sessions, ("clinic", "K-1"), ("clinic", "D-1"), "different", reason="two people, met both",
                 by="steward-7", review_id=item.id)
    await _add(sessions, _row("clinic", "K-2", **who, cin="AB12345C"))  # another record of K-1's person
    report = await place(sessions, [("clinic", "K-2")])
    assert await _client_of(sessions, ("clinic", "K-2")) == await _client_of(sessions, ("clinic", "K-1"))
    assert about(await open_items(), "K-2", "D-1") == [] and report.review == 0


async def test_a_question_the_online_matcher_answered_leaves_the_queue(indexed: Any, population: Population) -> None:
    """A record known by name only waits for a steward beside its person's records; once the agency adds its date
    of birth and it joins them, the question is withdrawn, not left asking whether one client's records match."""
    sessions, *_ = indexed
    await relink(sessions)
    person = _adult(population)
    await _add(sessions, _row("clinic", "C-9", first_name=person.first_name, last_name=person.last_name))
    assert (await place(sessions, [("clinic", "C-9")])).review >= 1
    await _add(sessions, _row("clinic", "C-9", first_name=person.first_name, last_name=person.last_name,
                              dob=person.dob, sex=person.sex, updated=datetime.now(UTC)))
    await place(sessions, [("clinic", "C-9")])
    assert await _client_of(sessions, ("clinic", "C-9")) == await _truth_client(sessions, person)
    queue, _more = await review_queue(sessions, first=100)
    assert not [i for i in queue if "C-9" in (i.a.local_id, i.b.local_id) and i.a.client_id == i.b.client_id]
    async with sessions() as session:
        withdrawn = (await session.execute(select(func.count()).select_from(IdentityReview).where(
            IdentityReview.status == "withdrawn", (IdentityReview.local_a == "C-9") | (IdentityReview.local_b == "C-9"))
        )).scalar_one()
    assert withdrawn >= 1


async def test_a_stewards_same_holds_online_when_one_of_the_two_records_changes(indexed: Any) -> None:
    """Z-9 is the same person as A-2, a steward said. A-2's CIN is corrected (it had been keyed from A-1's case) and
    A-2 is placed again: Z-9 goes with it, as a relink would put them, not left behind with A-1."""
    sessions, *_ = indexed
    await relink(sessions)
    who = {"first_name": "Ottoline", "last_name": "Vandersteen", "dob": date(1950, 12, 30), "sex": "F"}
    await _add(sessions, _row("clinic", "A-1", **who, cin="AB12345C"), _row("clinic", "A-2", **who, cin="AB12345C"),
               _row("clinic", "Z-9", first_name="Otto", last_name="Vandersteen"))
    await place(sessions, [("clinic", "A-1"), ("clinic", "A-2"), ("clinic", "Z-9")])
    await decide(sessions, ("clinic", "Z-9"), ("clinic", "A-2"), "same", reason="met them", by="steward-7")
    assert await _client_of(sessions, ("clinic", "Z-9")) == await _client_of(sessions, ("clinic", "A-2"))

    await _add(sessions, _row("clinic", "A-2", **who, cin="XY54321Z", updated=datetime.now(UTC)))
    report = await place(sessions, [("clinic", "A-2")])
    a1, a2, z9 = [await _client_of(sessions, ("clinic", k)) for k in ("A-1", "A-2", "Z-9")]
    assert z9 == a2 != a1 and report.relinked >= 1  # two CINs: A-1 on its own; the steward's pair together
    await relink(sessions)  # the batch path agrees
    assert [await _client_of(sessions, ("clinic", k)) for k in ("A-2", "Z-9")] == [a2, a2]


async def test_a_record_a_steward_joined_before_it_was_placed_joins_its_partner_when_placed(indexed: Any) -> None:
    sessions, *_ = indexed
    await relink(sessions)
    who = {"first_name": "Ottoline", "last_name": "Vandersteen", "dob": date(1950, 12, 30), "sex": "F"}
    await _add(sessions, _row("clinic", "K-1", **who, cin="AB12345C"))
    await place(sessions, [("clinic", "K-1")])
    await _add(sessions, _row("clinic", "N-1", first_name="Ottoline", last_name="Vandersteen"))  # synced, not placed
    await decide(sessions, ("clinic", "N-1"), ("clinic", "K-1"), "same", reason="same person, met", by="steward-7")
    await place(sessions, [("clinic", "N-1")])
    assert await _client_of(sessions, ("clinic", "N-1")) == await _client_of(sessions, ("clinic", "K-1"))
