"""Organisations' private feed tokens: issued, looked up, revoked; never stored."""

from __future__ import annotations

import uuid

import pendulum
import pytest

from alliance_events import Alliance, DomainError
from alliance_events.app import token_hash
from alliance_events.domain.directory import (
    FeedTokenIssued,
    IssueFeedToken,
    RegisterOrganisation,
    organisations,
)
from alliance_events.testing import FixedClock


@pytest.fixture
def alliance() -> Alliance:
    clock = FixedClock(pendulum.datetime(2023, 3, 22, 17, tz="Europe/Vienna"))
    return Alliance.open("memory:", clock=clock)


class TestFeedTokens:
    def test_an_issued_token_opens_its_organisations_feed(self, alliance: Alliance) -> None:
        """The token returned once finds its organisation; another token finds none."""
        cgr = alliance.register_organisation(name="CGR")
        dath = alliance.register_organisation(name="DATH")
        _, token = alliance.issue_feed_token(cgr)
        _, other = alliance.issue_feed_token(dath)
        assert alliance.organisation_for_token(token) == cgr
        assert alliance.organisation_for_token(other) == dath
        assert alliance.organisation_for_token(token + "x") is None
        assert alliance.organisation_for_token("") is None

    def test_a_token_has_at_least_128_random_bits(self, alliance: Alliance) -> None:
        """Tokens are long, URL-safe, and never the same twice."""
        cgr = alliance.register_organisation(name="CGR")
        tokens = {alliance.issue_feed_token(cgr)[1] for _ in range(20)}
        assert len(tokens) == 20
        assert all(len(t) >= 43 and t.replace("-", "").replace("_", "").isalnum() for t in tokens)

    def test_a_revoked_token_opens_nothing(self, alliance: Alliance) -> None:
        """After revocation the token finds no organisation; a second token still works."""
        cgr = alliance.register_organisation(name="CGR")
        first_id, first = alliance.issue_feed_token(cgr)
        _, second = alliance.issue_feed_token(cgr, label="rotated")
        alliance.revoke_feed_token(cgr, first_id, reason="leaked")
        assert alliance.organisation_for_token(first) is None
        assert alliance.organisation_for_token(second) == cgr
        with pytest.raises(DomainError) as refused:
            alliance.revoke_feed_token(cgr, first_id)
        assert refused.value.rule == "unknown-token"

    def test_the_token_itself_is_never_in_the_log(self, alliance: Alliance) -> None:
        """Only the SHA-256 of the token is stored: no record's data or metadata holds it."""
        cgr = alliance.register_organisation(name="CGR")
        _, token = alliance.issue_feed_token(cgr)
        stored = repr([(r.event, r.metadata) for r in alliance.log.read_all()])
        assert token not in stored
        assert token_hash(token) in stored

    def test_unknown_organisation_is_refused(self, alliance: Alliance) -> None:
        """A token for an organisation that is not registered is refused, nothing appended."""
        head = alliance.log.head()
        with pytest.raises(DomainError) as refused:
            alliance.issue_feed_token(uuid.uuid4())
        assert refused.value.rule == "unknown-organisation"
        assert alliance.log.head() == head

    def test_the_domain_refuses_a_token_in_clear(self) -> None:
        """The domain accepts only a hex SHA-256, so a token can't be stored by mistake."""
        organisation = uuid.uuid4()
        now = pendulum.datetime(2023, 3, 22, tz="UTC")
        state = None
        for event in organisations.decide(
            None, RegisterOrganisation(command_id=uuid.uuid4(), at=now,
                                       organisation_id=organisation, name="CGR")
        ):
            state = organisations.evolve(state, event)
        issue = IssueFeedToken(command_id=uuid.uuid4(), at=now, organisation_id=organisation,
                               token_id=uuid.uuid4(), token_hash="not-a-hash")  # noqa: S106
        with pytest.raises(DomainError) as refused:
            organisations.decide(state, issue)
        assert refused.value.rule == "token-hash"
        good = IssueFeedToken(command_id=uuid.uuid4(), at=now, organisation_id=organisation,
                              token_id=uuid.uuid4(), token_hash=token_hash("secret"))
        assert [type(e) for e in organisations.decide(state, good)] == [FeedTokenIssued]
