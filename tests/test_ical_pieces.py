"""A feed in pieces (``alliance_events.ical._pieces``): validators and gzip from its parts.

The feed's ETag and gzip body are derived from per-block pieces so that a change costs
what it touched. These tests hold that derivation to the bytes: whatever changes came
before, the pieces are those the bytes alone cut into (so the ETag is a function of the
exact bytes), their gzip member decompresses (Python's gzip, zlib) to exactly the bytes,
and the combined CRC-32 is zlib's.
"""

from __future__ import annotations

import contextlib
import gzip
import uuid
import zlib
from typing import Any

import pendulum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alliance_events import Alliance
from alliance_events.errors import DomainError
from alliance_events.ical import Audience, Feed, FeedRenderer, _pieces
from alliance_events.ical._pieces import (
    Blocks,
    Piece,
    Pieces,
    _piece_shift,
    _shift_of,
    crc32_combine,
    etag_of,
    split_feed,
)
from alliance_events.testing import FixedClock

from .feed_histories import random_command

HEAD = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
END = b"END:VCALENDAR\r\n"


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """One VEVENT in two ends a block (one in 64 in use): many blocks in small feeds."""
    monkeypatch.setattr(_pieces, "_BLOCK_MASK", 1)


def vevent(uid: str, text: str) -> bytes:
    return f"BEGIN:VEVENT\r\nUID:{uid}\r\nSUMMARY:{text}\r\nEND:VEVENT\r\n".encode()


def check(pieces: Pieces, body: bytes) -> None:
    """The pieces are the bytes' own, and every derived value is the bytes'."""
    assert pieces.body() == body
    assert [p.raw for p in pieces.pieces] == split_feed(body)
    assert pieces.etag == etag_of(body)
    assert pieces.length == len(body)
    assert pieces.crc == zlib.crc32(body)
    zipped = b"".join(pieces.gzip_chunks())
    assert gzip.decompress(zipped) == body
    assert zlib.decompress(zipped, wbits=31) == body  # one member, nothing after it


class TestCrc32Combine:
    @given(a=st.binary(max_size=3000), b=st.binary(max_size=3000))
    def test_equals_the_crc_of_the_concatenation(self, a: bytes, b: bytes) -> None:
        """crc32_combine(crc(a), crc(b), len(b)) is crc(a + b), as zlib's is."""
        assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)

    @given(length=st.integers(0, 1 << 21))
    def test_a_piece_shift_through_zlib_is_the_polynomial_one(self, length: int) -> None:
        """A piece's shift (x**(8n), through zlib's CRC of n zero bytes while n is short)
        is the one the polynomial products give."""
        assert _piece_shift(length) == _shift_of(length)

    def test_long_lengths(self) -> None:
        """Lengths past 2**32 bytes combine too (a shift by x**(8n) for any n)."""
        zeros = bytes(1 << 20)
        crc = zlib.crc32(b"head")
        for _ in range(3):  # head + 3 MiB of zeros, combined
            crc = crc32_combine(crc, zlib.crc32(zeros), len(zeros))
        assert crc == zlib.crc32(b"head" + zeros * 3)


class TestSplit:
    @pytest.mark.parametrize("body", [b"", b"A", END, HEAD + END, b"junk" + vevent("x", "y"),
                                      HEAD + vevent("u", "s")])
    def test_any_bytes_cut_and_join_back(self, body: bytes) -> None:
        """Any bytes (a feed or not) cut into pieces that join back into them."""
        check(Pieces.of(body), body)


item_ops = st.lists(
    st.tuples(st.booleans(), st.integers(0, 40), st.text(max_size=30), st.booleans()),
    max_size=60)


class TestBlocks:
    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(ops=item_ops)
    def test_random_changes_keep_the_pieces_of_the_bytes(
        self, small_blocks: None, ops: list[tuple[bool, int, str, bool]]
    ) -> None:
        """Items added, changed (in place, or taken out and put back) and removed in any
        order: after each change the blocks are those the bytes cut into, and gzip, CRC
        and ETag are the bytes'."""
        blocks = Blocks()
        shown: dict[int, bytes] = {}
        for add, key, text, in_place in ops:
            order = (key, str(uuid.UUID(int=key)))
            body = vevent(str(uuid.UUID(int=key)), text.replace("\r", ""))
            if key in shown and add and in_place:
                blocks.replace(order, body)
                shown[key] = body
            else:
                if key in shown:
                    blocks.remove(order)
                    del shown[key]
                if add:
                    shown[key] = body
                    blocks.add(order, str(uuid.UUID(int=key)), body)
            built, (crc, length, _) = blocks.pieces()
            head, end = Piece(HEAD), Piece(END)
            crc = crc32_combine(crc32_combine(head.crc, crc, length), end.crc, len(END))
            body = HEAD + b"".join(shown[k] for k in sorted(shown)) + END
            check(Pieces([head, *built, end], crc=crc), body)
            assert len(blocks) == len(shown)
            assert list(blocks.bodies()) == [shown[k] for k in sorted(shown)]
            fresh = Blocks.of(((k, str(uuid.UUID(int=k))), str(uuid.UUID(int=k)), shown[k])
                               for k in sorted(shown))
            assert [p.raw for p in fresh.pieces()[0]] == [p.raw for p in built]


class TestRenderedFeeds:
    @settings(max_examples=40, deadline=None, suppress_health_check=[
        HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(data=st.data())
    def test_random_histories(self, small_blocks: None, data: st.DataObject) -> None:
        """After each random command, each audience's incremental feed has the pieces,
        ETag, CRC and gzip of its own bytes, the same as a cold render's."""
        clock = FixedClock(pendulum.datetime(2023, 3, 1, 9, tz="UTC"))
        renderer = FeedRenderer(grace=pendulum.duration(days=2))
        now = pendulum.datetime(2023, 3, 1, 12, tz="UTC")
        with Alliance.open("memory:", clock=clock) as a:
            organisations = [a.register_organisation(name=f"Org {i}", acronym=f"O{i}")
                             for i in range(2)]
            people: dict[str, Any] = {"organisations": organisations, "persons": [
                a.register_person(name=f"Person {i}", organisation=organisations[i % 2])
                for i in range(3)]}
            audiences = [Audience.public(), Audience.organisation(organisations[0])]
            meetings: list[uuid.UUID] = []
            deadlines: list[uuid.UUID] = []
            for _ in range(data.draw(st.integers(1, 25))):
                days = 0
                with contextlib.suppress(DomainError):
                    days = random_command(a, data, people, meetings, deadlines)
                now = now.add(days=days)
                clock.advance(hours=7)
                for audience in audiences:
                    feed = renderer.render(a.state, audience, now=now)
                    cold = FeedRenderer(grace=pendulum.duration(days=2)).render(
                        a.state, audience, now=now)
                    check(feed.pieces, cold.body)
                    assert feed.etag == cold.etag


class TestFeed:
    def test_a_feed_from_bytes(self) -> None:
        """Feed(body=...) (a scripted feed) has its pieces and validators too."""
        body = HEAD + vevent("a", "b") + END
        feed = Feed(body, last_modified=pendulum.datetime(2024, 1, 1, tz="UTC"), item_count=1)
        assert feed.body == body
        check(feed.pieces, body)
        assert feed == Feed(body, last_modified=feed.last_modified, item_count=1)
        with pytest.raises(TypeError, match="body or its pieces"):
            Feed(last_modified=feed.last_modified, item_count=0)
