"""Tests of alliance_events.timing: wall time plus an IANA zone, explicit about summer time."""

from __future__ import annotations

import datetime as _dt
import zoneinfo

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_events.errors import DomainError
from alliance_events.timing import (
    AllDay,
    AmbiguousTimeError,
    NonexistentTimeError,
    Timed,
    TimingError,
    all_day,
    end_of_day,
    is_named_zone,
    local_date,
    local_datetime,
    names_one_instant,
    timed,
    zone,
)

from .strategies import OVERLAPS, is_ambiguous

VIENNA = "Europe/Vienna"
_VIENNA_ZI = zoneinfo.ZoneInfo(VIENNA)


def _utc(moment: _dt.datetime) -> str:
    return pendulum.instance(moment).in_timezone("UTC").isoformat()


def _kind_of_wall_time(wall: _dt.datetime) -> str:
    """Classify a naive wall time in Vienna with the standard library as the oracle."""
    first = wall.replace(tzinfo=_VIENNA_ZI, fold=0)
    second = wall.replace(tzinfo=_VIENNA_ZI, fold=1)
    if first.utcoffset() == second.utcoffset():
        return "plain"
    round_trip = first.astimezone(_dt.UTC).astimezone(_VIENNA_ZI).replace(tzinfo=None)
    return "overlap" if round_trip == wall else "gap"


class TestZone:
    @pytest.mark.parametrize("name", ["GMT+1", "UTC+01:00", "+01:00", "gmt+1", "UTC+0100"])
    def test_offset_names_are_fixed_offsets_east(self, name: str) -> None:
        """'GMT+1', 'UTC+01:00' and '+01:00' mean one hour east of Greenwich, not POSIX's west."""
        tz = zone(name)
        assert isinstance(tz, pendulum.FixedTimezone)
        assert tz.offset == 3600

    def test_negative_offset_with_minutes(self) -> None:
        """'UTC-03:30' is three and a half hours west."""
        tz = zone("UTC-03:30")
        assert isinstance(tz, pendulum.FixedTimezone)
        assert tz.offset == -(3 * 3600 + 30 * 60)

    def test_iana_name_is_a_named_zone(self) -> None:
        """An IANA name gives that zone, keeping its name."""
        assert zone(VIENNA).name == VIENNA

    @pytest.mark.parametrize("name", ["UTC", "GMT", "Z", " utc "])
    def test_utc_names(self, name: str) -> None:
        """UTC, GMT and Z (any case, spaces around) are UTC."""
        assert zone(name) == pendulum.UTC

    @pytest.mark.parametrize("name", ["Europe/Vieena", "Mars/Olympus", "", "   ", "GMT+15"])
    def test_unknown_or_malformed_zone_is_refused(self, name: str) -> None:
        """An unknown zone, an empty name or an offset beyond +14 is refused with rule 'time'."""
        with pytest.raises(TimingError) as info:
            zone(name)
        assert info.value.rule == "time"
        assert isinstance(info.value, DomainError)

    def test_offset_with_sixty_minutes_is_refused(self) -> None:
        """An offset whose minutes are 60 or more is not an offset."""
        with pytest.raises(TimingError):
            zone("+01:60")


class TestLocalDatetime:
    def test_winter_meeting_in_utc(self) -> None:
        """15:00 in Vienna on 22 March 2023 (winter time, GMT+1) is 14:00 UTC."""
        assert _utc(local_datetime("2023-03-22 15:00", VIENNA)) == "2023-03-22T14:00:00+00:00"

    def test_summer_meeting_in_utc(self) -> None:
        """15:00 in Vienna on 19 April 2023 (summer time, GMT+2) is 13:00 UTC."""
        assert _utc(local_datetime("2023-04-19 15:00", VIENNA)) == "2023-04-19T13:00:00+00:00"

    def test_keeps_the_zone_name(self) -> None:
        """The result is in the named zone, not at a bare offset."""
        moment = local_datetime("2023-04-19 15:00", VIENNA)
        assert moment.timezone_name == VIENNA
        assert is_named_zone(moment)

    @pytest.mark.parametrize("name", ["GMT+1", "UTC+01:00", "+01:00"])
    def test_offset_zone_reads_the_wall_time_at_that_offset(self, name: str) -> None:
        """'15:00 (GMT+1)' from the minutes is 15:00 at +01:00 even in summer."""
        moment = local_datetime("2023-04-19 15:00", name)
        assert moment.isoformat() == "2023-04-19T15:00:00+01:00"
        assert not is_named_zone(moment)

    def test_unknown_zone_is_refused(self) -> None:
        """A wall time in an unknown zone is refused."""
        with pytest.raises(TimingError, match="unknown time zone"):
            local_datetime("2023-03-22 15:00", "Europe/Atlantis")

    @pytest.mark.parametrize("text", ["22 March 2023", "2023-13-01 10:00", "", "15:00"])
    def test_malformed_text_is_refused(self, text: str) -> None:
        """Text that is not an ISO date and time is refused with rule 'time'."""
        with pytest.raises(TimingError) as info:
            local_datetime(text, VIENNA)
        assert info.value.rule == "time"

    def test_text_with_an_offset_is_refused(self) -> None:
        """A wall time must not carry its own offset: zone and wall time come apart."""
        with pytest.raises(TimingError, match="carries an offset"):
            local_datetime("2023-03-22T15:00+01:00", VIENNA)

    def test_naive_datetime_is_a_wall_time(self) -> None:
        """A naive datetime is read as a wall time in the zone given."""
        moment = local_datetime(_dt.datetime(2023, 4, 19, 15), VIENNA)  # noqa: DTZ001
        assert _utc(moment) == "2023-04-19T13:00:00+00:00"

    def test_aware_datetime_is_taken_as_it_is(self) -> None:
        """An aware datetime keeps its own zone, whatever zone is named."""
        given_time = pendulum.datetime(2023, 4, 19, 15, tz="America/New_York")
        moment = local_datetime(given_time, VIENNA)
        assert moment == given_time
        assert moment.timezone_name == "America/New_York"

    def test_gap_is_refused(self) -> None:
        """02:30 on 26 March 2023 never shows on a Vienna clock: refused, not guessed."""
        with pytest.raises(NonexistentTimeError) as info:
            local_datetime("2023-03-26 02:30", VIENNA)
        assert info.value.rule == "nonexistent-time"
        assert "does not exist" in str(info.value)

    def test_gap_earlier(self) -> None:
        """In the gap, 'earlier' gives the instant before the jump: 01:30+01:00."""
        moment = local_datetime("2023-03-26 02:30", VIENNA, disambiguate="earlier")
        assert moment.isoformat() == "2023-03-26T01:30:00+01:00"
        assert moment.timezone_name == VIENNA

    def test_gap_later(self) -> None:
        """In the gap, 'later' gives the instant after the jump: 03:30+02:00."""
        moment = local_datetime("2023-03-26 02:30", VIENNA, disambiguate="later")
        assert moment.isoformat() == "2023-03-26T03:30:00+02:00"
        assert moment.timezone_name == VIENNA

    def test_overlap_is_refused(self) -> None:
        """02:30 on 29 October 2023 shows twice on a Vienna clock: refused, not guessed."""
        with pytest.raises(AmbiguousTimeError) as info:
            local_datetime("2023-10-29 02:30", VIENNA)
        assert info.value.rule == "ambiguous-time"
        assert "+02:00" in str(info.value)
        assert "+01:00" in str(info.value)

    def test_overlap_earlier_is_summer_time(self) -> None:
        """In the overlap, 'earlier' is the first 02:30 (summer time): 00:30 UTC."""
        moment = local_datetime("2023-10-29 02:30", VIENNA, disambiguate="earlier")
        assert _utc(moment) == "2023-10-29T00:30:00+00:00"
        assert (moment.hour, moment.minute, moment.timezone_name) == (2, 30, VIENNA)

    def test_overlap_later_is_winter_time(self) -> None:
        """In the overlap, 'later' is the second 02:30 (winter time): 01:30 UTC."""
        moment = local_datetime("2023-10-29 02:30", VIENNA, disambiguate="later")
        assert _utc(moment) == "2023-10-29T01:30:00+00:00"
        assert (moment.hour, moment.minute, moment.timezone_name) == (2, 30, VIENNA)

    def test_fixed_offsets_have_neither_gaps_nor_overlaps(self) -> None:
        """At a fixed offset, 02:30 on the night of the change is an ordinary time."""
        moment = local_datetime("2023-03-26 02:30", "GMT+1")
        assert moment.isoformat() == "2023-03-26T02:30:00+01:00"

    @given(
        st.datetimes(
            min_value=_dt.datetime(1980, 1, 1),  # noqa: DTZ001 - a wall time
            max_value=_dt.datetime(2037, 12, 31),  # noqa: DTZ001
        ).map(lambda d: d.replace(microsecond=0))
    )
    def test_ordinary_wall_times_round_trip(self, wall: _dt.datetime) -> None:
        """Any Vienna wall time outside a gap or overlap keeps its wall time and zone name."""
        kind = _kind_of_wall_time(wall)
        if kind != "plain":
            with pytest.raises(NonexistentTimeError if kind == "gap" else AmbiguousTimeError):
                local_datetime(wall, VIENNA)
            return
        moment = local_datetime(wall, VIENNA)
        assert moment.replace(tzinfo=None) == wall
        assert moment.timezone_name == VIENNA
        expected = wall.replace(tzinfo=_VIENNA_ZI)
        assert moment.utcoffset() == expected.utcoffset()
        assert _utc(moment) == _utc(expected)

    @given(
        st.sampled_from(OVERLAPS).flatmap(
            lambda overlap: st.tuples(
                st.just(overlap[0]),
                st.integers(0, overlap[2] - 1).map(
                    lambda seconds, start=overlap[1]: _dt.datetime(*start)  # noqa: DTZ001
                    + _dt.timedelta(seconds=seconds)
                ),
            )
        )
    )
    def test_overlap_choices_differ_by_fold_only(
        self, zone_and_wall: tuple[str, _dt.datetime]
    ) -> None:
        """In any overlap exactly one choice has fold=1; both show the wall time."""
        name, wall = zone_and_wall
        with pytest.raises(AmbiguousTimeError):
            local_datetime(wall, name)
        earlier = local_datetime(wall, name, disambiguate="earlier")
        later = local_datetime(wall, name, disambiguate="later")
        assert is_ambiguous(earlier)
        assert sorted((earlier.fold, later.fold)) == [0, 1]
        assert later.fold == 1
        assert earlier.replace(tzinfo=None) == wall == later.replace(tzinfo=None)
        assert earlier.timezone_name == name == later.timezone_name
        assert pendulum.instance(earlier).in_timezone("UTC") < pendulum.instance(
            later
        ).in_timezone("UTC")

    @given(st.integers(1996, 2037), st.integers(0, 59))
    def test_spring_gaps_are_refused_and_bracketed(self, year: int, minute: int) -> None:
        """02:MM on the last Sunday of March is a gap; 'earlier' < 'later', one hour apart."""
        last_day = _dt.date(year, 3, 31)
        sunday = last_day - _dt.timedelta(days=(last_day.weekday() + 1) % 7)
        wall = _dt.datetime(sunday.year, sunday.month, sunday.day, 2, minute)  # noqa: DTZ001
        assert _kind_of_wall_time(wall) == "gap"
        with pytest.raises(NonexistentTimeError):
            local_datetime(wall, VIENNA)
        earlier = local_datetime(wall, VIENNA, disambiguate="earlier")
        later = local_datetime(wall, VIENNA, disambiguate="later")
        assert (earlier.hour, earlier.minute) == (1, minute)
        assert (later.hour, later.minute) == (3, minute)
        assert later - earlier == _dt.timedelta(hours=1)


class TestLocalDate:
    def test_text_and_date(self) -> None:
        """ISO text and a date both give a pendulum Date."""
        assert local_date("2023-05-30") == pendulum.Date(2023, 5, 30)
        assert local_date(_dt.date(2023, 5, 30)) == pendulum.Date(2023, 5, 30)

    def test_datetime_is_not_a_date(self) -> None:
        """A date and time is refused where a date is asked for."""
        with pytest.raises(TimingError):
            local_date(_dt.datetime(2023, 5, 30, 10))  # noqa: DTZ001

    def test_malformed_date_is_refused(self) -> None:
        """Text that is not a date is refused."""
        with pytest.raises(TimingError, match="not a date"):
            local_date("30 May")


class TestTimed:
    def test_end_as_time_of_day_is_on_the_start_date(self) -> None:
        """'16:30' as the end means 16:30 on the start's date, in the same zone."""
        span = timed("2023-03-22 15:00", "16:30")
        assert span.end.isoformat() == "2023-03-22T16:30:00+01:00"
        assert span.end.timezone_name == VIENNA
        assert span.end - span.start == _dt.timedelta(minutes=90)

    def test_end_as_full_date_and_time(self) -> None:
        """An end with its own date may be on a later day."""
        span = timed("2023-05-04 09:00", "2023-05-05 18:00")
        assert span.first_day == pendulum.Date(2023, 5, 4)
        assert span.last_day == pendulum.Date(2023, 5, 5)

    def test_end_before_start_is_refused(self) -> None:
        """An end before the start is refused with rule 'time'."""
        with pytest.raises(TimingError, match="must be after the start") as info:
            timed("2023-03-22 15:00", "14:00")
        assert info.value.rule == "time"

    def test_end_equal_to_start_is_refused(self) -> None:
        """A span of no length is refused."""
        with pytest.raises(TimingError):
            timed("2023-03-22 15:00", "15:00")

    def test_end_at_midnight_as_time_of_day_is_refused(self) -> None:
        """'00:00' as a time of day is midnight at the start of the start's date: refused."""
        with pytest.raises(TimingError):
            timed("2023-05-04 09:00", "00:00")

    def test_spans_the_change_to_summer_time(self) -> None:
        """01:00-04:00 on 26 March 2023 in Vienna lasts two hours, not three."""
        span = timed("2023-03-26 01:00", "04:00")
        assert span.end - span.start == _dt.timedelta(hours=2)

    def test_gap_start_refused_unless_disambiguated(self) -> None:
        """A start in the summer-time gap is refused, or taken as asked."""
        with pytest.raises(NonexistentTimeError):
            timed("2023-03-26 02:30", "04:00")
        span = timed("2023-03-26 02:30", "04:00", disambiguate="later")
        assert span.start.isoformat() == "2023-03-26T03:30:00+02:00"

    def test_last_day_of_a_span_ending_at_midnight(self) -> None:
        """A span ending at midnight ends on the day before."""
        span = timed("2023-05-04 09:00", "2023-05-05 00:00")
        assert span.last_day == pendulum.Date(2023, 5, 4)
        assert span.contains_day(pendulum.Date(2023, 5, 4))
        assert not span.contains_day(pendulum.Date(2023, 5, 5))

    def test_last_day_just_after_midnight(self) -> None:
        """A span ending one minute after midnight ends on that day."""
        span = timed("2023-05-04 09:00", "2023-05-05 00:01")
        assert span.last_day == pendulum.Date(2023, 5, 5)

    def test_contains_day(self) -> None:
        """A one-day span contains its day only."""
        span = timed("2023-03-22 15:00", "16:30")
        assert span.contains_day(pendulum.Date(2023, 3, 22))
        assert not span.contains_day(pendulum.Date(2023, 3, 21))
        assert not span.contains_day(pendulum.Date(2023, 3, 23))

    def test_in_a_fixed_offset(self) -> None:
        """A span in 'GMT+1' stays at +01:00 on both ends."""
        span = timed("2023-03-22 15:00", "16:30", "GMT+1")
        assert span.start.isoformat() == "2023-03-22T15:00:00+01:00"
        assert span.end.isoformat() == "2023-03-22T16:30:00+01:00"

    def test_is_frozen(self) -> None:
        """A Timed value cannot be changed in place."""
        span = timed("2023-03-22 15:00", "16:30")
        with pytest.raises(AttributeError):
            span.start = span.end  # type: ignore[misc]
        assert isinstance(span, Timed)


class TestAllDay:
    def test_two_days(self) -> None:
        """30-31 May is two whole days; iCalendar's exclusive end is 1 June."""
        span = all_day("2023-05-30", "2023-05-31")
        assert span.first_day == pendulum.Date(2023, 5, 30)
        assert span.last_day == pendulum.Date(2023, 5, 31)
        assert span.end_exclusive == pendulum.Date(2023, 6, 1)

    def test_one_day_by_default(self) -> None:
        """Without a last day it is one day, ending (exclusively) the next."""
        span = all_day("2023-05-05")
        assert span.first == span.last == pendulum.Date(2023, 5, 5)
        assert span.end_exclusive == pendulum.Date(2023, 5, 6)

    def test_end_exclusive_across_a_month_and_year_end(self) -> None:
        """The day after 31 December is 1 January of the next year."""
        assert all_day("2023-12-31").end_exclusive == pendulum.Date(2024, 1, 1)

    def test_last_before_first_is_refused(self) -> None:
        """A last day before the first is refused with rule 'time'."""
        with pytest.raises(TimingError, match="must not be before") as info:
            all_day("2023-05-31", "2023-05-30")
        assert info.value.rule == "time"

    def test_contains_day(self) -> None:
        """Its days are first to last inclusive."""
        span = AllDay(first=pendulum.Date(2023, 5, 22), last=pendulum.Date(2023, 5, 26))
        assert span.contains_day(pendulum.Date(2023, 5, 22))
        assert span.contains_day(pendulum.Date(2023, 5, 26))
        assert not span.contains_day(pendulum.Date(2023, 5, 27))
        assert not span.contains_day(pendulum.Date(2023, 5, 21))

    @given(
        st.dates(min_value=_dt.date(1900, 1, 1), max_value=_dt.date(2200, 1, 1)),
        st.integers(0, 400),
    )
    def test_end_exclusive_is_the_day_after_the_last(self, first: _dt.date, length: int) -> None:
        """For any span of whole days, DTEND is the day after the last and outside the span."""
        last = first + _dt.timedelta(days=length)
        span = all_day(first, last)
        assert span.end_exclusive - span.last == _dt.timedelta(days=1)
        assert not span.contains_day(span.end_exclusive)
        assert span.contains_day(span.last)


class TestNotZones:
    @pytest.mark.parametrize(
        "name", ["localtime", "posixrules", "Factory", "right/Europe/Vienna",
                 "posix/Europe/Vienna"],
    )
    def test_files_of_the_zone_database_that_are_no_zones_are_refused(self, name: str) -> None:
        """Names the machine's zone database answers to but that are no IANA zone (the
        machine's own zone, leap-second zones) are refused: stored in a log, they would
        mean another time elsewhere."""
        with pytest.raises(TimingError, match="not an IANA zone"):
            zone(name)


class TestNamesOneInstant:
    @given(
        name=st.sampled_from(sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})),
        wall=st.datetimes(min_value=_dt.datetime(1900, 1, 2),  # noqa: DTZ001 - wall times
                          max_value=_dt.datetime(2200, 12, 30)),  # noqa: DTZ001
        fold=st.sampled_from([0, 1]),
    )
    def test_the_day_cache_answers_as_the_zone_does(
        self, name: str, wall: _dt.datetime, fold: int
    ) -> None:
        """The fast answer (cached per zone and day) is the plain one: a wall time names
        one instant unless its two folds have different offsets (a repeated or skipped
        hour), for any zone and time, near clock changes too."""
        tz = pendulum.timezone(name)
        near = [wall]
        for change in _changes_near(tz, wall):  # the hours around each change nearby
            near.extend(change + _dt.timedelta(minutes=m) for m in range(-90, 91, 15))
        for moment in near:
            aware = pendulum.DateTime(moment.year, moment.month, moment.day, moment.hour,
                                      moment.minute, tzinfo=tz, fold=fold)
            own = _dt.datetime(aware.year, aware.month, aware.day, aware.hour,  # noqa: DTZ001
                               aware.minute)  # its wall time (pendulum moves gap times)
            plain = tz.utcoffset(own) == tz.utcoffset(own.replace(fold=1))
            assert names_one_instant(aware) == plain, (name, moment, fold)


def _changes_near(tz: _dt.tzinfo, wall: _dt.datetime) -> list[_dt.datetime]:
    """The wall times (naive) of the clock changes within 40 days of ``wall``."""
    found = []
    previous = tz.utcoffset(wall - _dt.timedelta(days=40))
    for day in range(-40, 41):
        moment = wall + _dt.timedelta(days=day)
        offset = tz.utcoffset(moment)
        if offset != previous:
            for hour in range(-24, 1):
                probe = moment + _dt.timedelta(hours=hour)
                if tz.utcoffset(probe) == offset:
                    found.append(probe)
                    break
        previous = offset
    return found


class TestEndOfDay:
    def test_santiago_when_the_clocks_skip_midnight(self) -> None:
        """2 Sep 2023 in Santiago ends at 04:00Z, when the clocks jump from 23:59:59 (-04)
        to 01:00 (-03); 1 Apr 2023 (clocks back at 24:00) ends at 04:00Z too, after the
        repeated hour; the deadline and the application agree (one rule, timing's)."""
        from alliance_events.domain.deadlines import DueBy, due_instant

        for day, expected in (((2023, 9, 2), (2023, 9, 3, 4)), ((2023, 4, 1), (2023, 4, 2, 4))):
            end = end_of_day(pendulum.Date(*day), "America/Santiago")
            assert end.in_timezone("UTC") == pendulum.datetime(*expected, tz="UTC")
            assert due_instant(DueBy(day=pendulum.Date(*day), zone="America/Santiago")) == end

    @given(
        name=st.sampled_from(sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})),
        day=st.dates(min_value=_dt.date(1900, 1, 2), max_value=_dt.date(2200, 12, 30)),
    )
    def test_it_is_the_first_instant_of_the_next_day(self, name: str, day: _dt.date) -> None:
        """For any zone and day: at the instant returned the local date is the next day,
        and one second earlier it was still ``day`` (or, at a skipped day, before it)."""
        end = end_of_day(day, name)
        tz = zoneinfo.ZoneInfo(name)
        seconds = end.timestamp()
        assert _dt.datetime.fromtimestamp(seconds, tz).date() > day
        assert _dt.datetime.fromtimestamp(seconds - 1, tz).date() <= day

    def test_many_zones_at_their_clock_changes(self) -> None:
        """Every zone, on the days around each of its clock changes of 2023 and 2024."""
        for name in sorted(zoneinfo.available_timezones() - {"localtime", "Factory"}):
            tz = zoneinfo.ZoneInfo(name)
            day = _dt.date(2023, 1, 1)
            previous = None
            while day < _dt.date(2025, 1, 1):
                offset = _dt.datetime(day.year, day.month, day.day, 12, tzinfo=tz).utcoffset()
                if previous is not None and offset != previous:
                    for near in range(-2, 2):
                        probe = day + _dt.timedelta(days=near)
                        seconds = end_of_day(probe, name).timestamp()
                        assert _dt.datetime.fromtimestamp(seconds, tz).date() > probe, name
                        assert _dt.datetime.fromtimestamp(seconds - 1, tz).date() <= probe
                previous = offset
                day += _dt.timedelta(days=1)
