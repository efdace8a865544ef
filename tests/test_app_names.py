"""The names people type (app.py's ``short_refs`` and ``find_*``): refs, prefixes, titles.

Time-ordered ids share their first digits; a short reference is the end of an id, as
long as it must be to name one thing among all of its kind. The ``find_*`` methods take
those references, a beginning of an id, and the names people use (a meeting's title and
day), and refuse a name that fits several things by listing them.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_events import Alliance, UnknownReferenceError
from alliance_events.app import REFERENCE_LENGTH, short_refs
from alliance_events.testing import FixedClock


def _v7(rng: random.Random, millis: int) -> uuid.UUID:
    """A UUIDv7 made at ``millis`` (random bits from ``rng``): the shape of the ids."""
    value = (millis & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | rng.getrandbits(12) << 64
    return uuid.UUID(int=value | 0b10 << 62 | rng.getrandbits(62))


def _ending(digits: str, start: int) -> uuid.UUID:
    """An id whose hex digits end with ``digits`` (the rest counting from ``start``)."""
    return uuid.UUID(hex=f"{start:0{32 - len(digits)}x}{digits}")


class TestShortRefs:
    def test_the_end_of_time_ordered_ids(self) -> None:
        """Ids made in the same second share their beginning; their refs (ends) differ."""
        rng = random.Random(20230419)
        ids = [_v7(rng, 1_681_909_200_000 + i) for i in range(2_000)]
        assert len({i.hex[:8] for i in ids}) == 1  # the first 8 digits tell nothing apart
        refs = short_refs(ids)
        assert len(set(refs.values())) == len(ids)
        assert all(i.hex.endswith(ref) for i, ref in refs.items())
        assert {len(ref) for ref in refs.values()} <= {6, 7, 8}

    def test_lengthened_only_where_ends_are_shared(self) -> None:
        """Two ids ending alike get refs one digit past what they share; others keep 6."""
        first, second = _ending("1a2c243c6", 1), _ending("3b2c243c6", 2)
        alone = _ending("abcdef", 3)
        refs = short_refs([first, second, alone])
        assert refs == {first: "a2c243c6", second: "b2c243c6", alone: "abcdef"}

    @given(st.sets(st.uuids(), max_size=40))
    def test_unique_ends(self, ids: set[uuid.UUID]) -> None:
        """Every id gets an end of its own digits, at least 6 long, that no other has."""
        refs = short_refs(ids)
        assert set(refs) == ids
        for key, ref in refs.items():
            assert len(ref) >= REFERENCE_LENGTH
            assert key.hex.endswith(ref)
            assert [i for i in ids if i.hex.endswith(ref)] == [key]


# -- find_* -------------------------------------------------------------------------------


@pytest.fixture
def alliance() -> Iterator[Alliance]:
    clock = FixedClock(pendulum.datetime(2023, 3, 1, 9, tz="Europe/Vienna"))
    with Alliance.open("memory:", clock=clock) as opened:
        yield opened


def _informal(alliance: Alliance, day: str, *, meeting_id: uuid.UUID | None = None) -> uuid.UUID:
    return alliance.schedule_meeting(title="Informal Meeting", start=f"{day} 15:00", end="16:30",
                                     meeting_id=meeting_id)


class TestFindMeeting:
    def test_by_title_and_day(self, alliance: Alliance) -> None:
        """'Informal Meeting 2023-04-19' names the one of two on that day (local)."""
        march, april = _informal(alliance, "2023-03-22"), _informal(alliance, "2023-04-19")
        assert alliance.find_meeting("Informal Meeting 2023-04-19") == april
        assert alliance.find_meeting("  informal meeting   2023-03-22 ") == march

    def test_by_a_day_of_several(self, alliance: Alliance) -> None:
        """A title with any of an all-day meeting's days names it; a day alone too."""
        dialogue = alliance.schedule_meeting(title="Dialogue", first_day="2023-05-04",
                                             last_day="2023-05-05")
        assert alliance.find_meeting("Dialogue 2023-05-05") == dialogue
        assert alliance.find_meeting("2023-05-04") == dialogue

    def test_by_ref_and_by_prefix(self, alliance: Alliance) -> None:
        """The ref the tables show names it, and so does a beginning of its id (4+)."""
        march = _informal(alliance, "2023-03-22")
        _informal(alliance, "2023-04-19")
        ref = alliance.references("meeting")[march]
        assert alliance.find_meeting(ref) == march
        assert alliance.find_meeting(ref.upper()) == march
        assert alliance.find_meeting(str(march)[:13]) == march  # with its dash
        assert alliance.find_meeting(str(march)) == march

    def test_refs_resolve_when_ends_are_shared(self, alliance: Alliance) -> None:
        """Meetings whose ids end alike: each ref (lengthened) names its own meeting."""
        ids = [_ending("5c243c6", 1), _ending("6c243c6", 2), _ending("ffc243c6", 3)]
        for index, meeting_id in enumerate(ids):
            _informal(alliance, f"2023-04-{10 + index}", meeting_id=meeting_id)
        refs = alliance.references("meeting")
        assert sorted(refs.values()) == ["5c243c6", "6c243c6", "fc243c6"]
        for meeting_id in ids:
            assert alliance.find_meeting(refs[meeting_id]) == meeting_id
        with pytest.raises(UnknownReferenceError) as info:
            alliance.find_meeting("c243c6")  # what was the ref of the first, alone
        assert info.value.rule == "ambiguous-meeting"

    def test_ambiguous_lists_title_day_and_ref(self, alliance: Alliance) -> None:
        """Two of one title: refused, in one line listing each by day, time and ref."""
        march, april = _informal(alliance, "2023-03-22"), _informal(alliance, "2023-04-19")
        refs = alliance.references("meeting")
        with pytest.raises(UnknownReferenceError, match="more than one meeting") as info:
            alliance.find_meeting("Informal Meeting")
        assert info.value.rule == "ambiguous-meeting"
        message = str(info.value)
        assert "\n" not in message
        assert f"'Informal Meeting' 2023-03-22 15:00 (ref {refs[march]})" in message
        assert f"'Informal Meeting' 2023-04-19 15:00 (ref {refs[april]})" in message
        assert message.index("2023-03-22") < message.index("2023-04-19")

    def test_unknown(self, alliance: Alliance) -> None:
        """No title, day or ref fits: unknown-meeting; a date that is no date too."""
        _informal(alliance, "2023-03-22")
        for name in ("Annual Gala", "Informal Meeting 2023-03-23", "2023-02-30", "0000", ""):
            with pytest.raises(UnknownReferenceError) as info:
                alliance.find_meeting(name)
            assert info.value.rule == "unknown-meeting", name


class TestFindDirectory:
    def test_organisation_and_person_by_ref(self, alliance: Alliance) -> None:
        """Organisations and persons are named by their refs and id beginnings too."""
        ruan = alliance.register_organisation(name="Rural And Urban Aid Nigeria", acronym="RUAN")
        femi = alliance.register_person(name="Femi Adeyemi", organisation=ruan)
        assert alliance.find_organisation(alliance.references("organisation")[ruan]) == ruan
        assert alliance.find_organisation(ruan.hex[:6]) == ruan
        assert alliance.find_person(alliance.references("person")[femi]) == femi

    def test_ambiguous_person_lists_them(self, alliance: Alliance) -> None:
        """Two persons of one name: listed with organisation, e-mail and ref."""
        ruan = alliance.register_organisation(name="Rural And Urban Aid Nigeria", acronym="RUAN")
        first = alliance.register_person(name="Alex Weber", organisation=ruan)
        second = alliance.register_person(name="Alex Weber", email="a.weber@example.net")
        refs = alliance.references("person")
        with pytest.raises(UnknownReferenceError, match="more than one person") as info:
            alliance.find_person("alex weber")
        assert info.value.rule == "ambiguous-person"
        assert f"'Alex Weber' (RUAN, ref {refs[first]})" in str(info.value)
        assert f"'Alex Weber' (a.weber@example.net, ref {refs[second]})" in str(info.value)

    def test_deadline_by_ref(self, alliance: Alliance) -> None:
        """A deadline is named by its ref; two of one title are listed with their days."""
        first = alliance.set_deadline(title="Names", due="2023-05-01")
        alliance.set_deadline(title="Names", due="2023-06-01")
        assert alliance.find_deadline(alliance.references("deadline")[first]) == first
        with pytest.raises(UnknownReferenceError, match="due 2023-06-01") as info:
            alliance.find_deadline("names")
        assert info.value.rule == "ambiguous-deadline"


class TestFindNomination:
    def test_by_person_ref_or_id(self, alliance: Alliance) -> None:
        """A nomination is named by its delegate, its ref among the meeting's, or its id."""
        ruan = alliance.register_organisation(name="Rural And Urban Aid Nigeria", acronym="RUAN")
        femi = alliance.register_person(name="Femi Adeyemi", email="femi@example.org",
                                        organisation=ruan)
        meeting = _informal(alliance, "2023-04-19")
        alliance.open_registration(meeting, opens="2023-03-01", closes="2023-04-18")
        nomination = alliance.nominate(meeting, organisation=ruan, person=femi, role="speaker")
        refs = alliance.nomination_references(meeting)
        for name in ("Femi Adeyemi", "FEMI@example.org", refs[nomination], str(nomination),
                     str(femi), alliance.references("person")[femi]):
            assert alliance.find_nomination(meeting, name) == nomination, name

    def test_a_person_not_nominated(self, alliance: Alliance) -> None:
        """A known person without a nomination: unknown-nomination naming the meeting."""
        alliance.register_person(name="Sami Haider")
        meeting = _informal(alliance, "2023-04-19")
        with pytest.raises(UnknownReferenceError, match="'Informal Meeting'") as info:
            alliance.find_nomination(meeting, "Sami Haider")
        assert info.value.rule == "unknown-nomination"


class TestFeedTokens:
    def test_listed_with_labels_and_dates_and_found_by_ref(self, alliance: Alliance) -> None:
        """Live tokens: id, ref, label, issue time; named by ref or label; revoked go."""
        ruan = alliance.register_organisation(name="RUAN")
        office, _ = alliance.issue_feed_token(ruan, label="office")
        phone, _ = alliance.issue_feed_token(ruan)
        tokens = alliance.feed_tokens(ruan)
        assert [(t.token_id, t.label) for t in tokens] == [(office, "office"), (phone, "")]
        assert tokens[0].issued_at == pendulum.datetime(2023, 3, 1, 8, tz="UTC")
        assert alliance.find_feed_token(ruan, tokens[1].ref) == phone
        assert alliance.find_feed_token(ruan, "OFFICE") == office
        alliance.revoke_feed_token(ruan, office)
        assert [t.token_id for t in alliance.feed_tokens(ruan)] == [phone]
        with pytest.raises(UnknownReferenceError) as info:
            alliance.find_feed_token(ruan, "office")
        assert info.value.rule == "unknown-token"


class TestQueries:
    def test_upcoming_meetings(self, alliance: Alliance) -> None:
        """upcoming: those not ended at the moment looked from (an all-day one: its day)."""
        alliance.schedule_meeting(title="Past", start="2023-02-28 15:00", end="16:00")
        alliance.schedule_meeting(title="Under way", start="2023-03-01 08:00", end="10:00")
        alliance.schedule_meeting(title="Today", first_day="2023-03-01")
        alliance.schedule_meeting(title="Later", first_day="2023-03-02")
        assert [m.title for m in alliance.meetings(upcoming=True)] == [
            "Today", "Under way", "Later"
        ]
        assert [m.title for m in alliance.meetings(upcoming=True, as_of="2023-03-01")] == [
            "Later"
        ]

    def test_history_with_parts(self, alliance: Alliance) -> None:
        """A meeting's history with its sessions' and side events' (theirs too), in order."""
        parent = alliance.schedule_meeting(title="Dialogue", first_day="2023-05-05")
        session = alliance.schedule_meeting(title="Morning", start="2023-05-05 10:00",
                                            end="13:00", parent=parent)
        talk = alliance.schedule_meeting(title="Talk", start="2023-05-05 10:00", end="10:30",
                                         parent=session)
        alliance.cancel_meeting(session, reason="no room")
        entries = alliance.history_with_parts(parent)
        assert [about for about, _ in entries] == [parent, session, talk, session]
        assert [e.position for _, e in entries] == sorted(e.position for _, e in entries)
        assert [about for about, _ in alliance.history_with_parts(session)] == [
            session, talk, session
        ]
        before = alliance.history_with_parts(parent, as_of=2)
        assert [about for about, _ in before] == [parent, session]
