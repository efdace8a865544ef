"""Who a feed is for: the public, one member organisation, or the secretariat."""

from __future__ import annotations

import uuid
from typing import Literal

import attrs

__all__ = ["Audience", "AudienceKind"]

AudienceKind = Literal["public", "organisation", "secretariat"]


def _check_organisation(
    instance: Audience, attribute: attrs.Attribute[uuid.UUID | None], value: uuid.UUID | None
) -> None:
    if (instance.kind == "organisation") != (value is not None):
        raise ValueError(
            f"an audience of kind {instance.kind!r} "
            + ("needs" if instance.kind == "organisation" else "takes no")
            + f" {attribute.name} (got {value!r})"
        )


@attrs.frozen
class Audience:
    """The readers of a feed, which decide what it shows.

    * ``public``: meetings and public deadlines, no personal data at all;
    * ``organisation``: what the public sees, plus that organisation's own delegation
      (names, roles, statuses) and deadlines;
    * ``secretariat``: everything, every delegation.

    >>> Audience.public().key
    'public'
    >>> Audience.organisation(uuid.UUID(int=1)).key
    'organisation:00000000-0000-0000-0000-000000000001'
    """

    kind: AudienceKind = attrs.field(
        validator=attrs.validators.in_(("public", "organisation", "secretariat"))
    )
    organisation_id: uuid.UUID | None = attrs.field(default=None, validator=_check_organisation)

    @classmethod
    def public(cls) -> Audience:
        """Return the public audience."""
        return cls("public")

    @classmethod
    def organisation(cls, organisation_id: uuid.UUID) -> Audience:
        """Return the audience of one member organisation."""
        return cls("organisation", organisation_id)

    @classmethod
    def secretariat(cls) -> Audience:
        """Return the secretariat's audience."""
        return cls("secretariat")

    @property
    def key(self) -> str:
        """A stable short key: ``public``, ``organisation:<uuid>`` or ``secretariat``."""
        if self.organisation_id is None:
            return self.kind
        return f"{self.kind}:{self.organisation_id}"
