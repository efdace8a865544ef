"""``init``, ``organisation``, ``person`` and ``token``: the log and who is who."""

from __future__ import annotations

import hmac
from pathlib import Path

import click
import pendulum
from rich.table import Table

from alliance_events import DEFAULT_ZONE, UnknownReferenceError
from alliance_events.app import FeedTokenView, token_hash
from alliance_events.cli._common import (
    command_id_option,
    console,
    csv_option,
    db_url,
    emit_csv,
    emit_json,
    json_option,
    main,
    one_format,
    open_alliance,
    recorded_as,
    settings,
)
from alliance_events.cli._tables import day_text, tokens_csv, tokens_table

__all__ = ["init", "organisation", "person", "token"]


@main.command()
@click.pass_context
def init(context: click.Context) -> None:
    """Create the event log at --db (nothing happens to one that exists)."""
    db = settings(context).db
    url = db_url(db)
    path = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    existed = path is not None and path.exists()
    with open_alliance(context) as alliance:
        head = alliance.log.head()
    where = str(path.resolve()) if path is not None else db
    if existed or head:
        click.echo(f"the event log at {where} exists already ({head} events)")
    else:
        click.echo(f"created the event log at {where}")


# -- organisations --------------------------------------------------------------------


@main.group()
def organisation() -> None:
    """Organisations: members and partners."""


@organisation.command("add")
@click.argument("name")
@click.option("--acronym", default="",
              help="A short name (RUAN); it names the organisation on the command line too.")
@click.option("--not-member", is_flag=True, help="A partner, not a member of the alliance.")
@json_option
@command_id_option
@click.pass_context
def organisation_add(
    context: click.Context, *, name: str, acronym: str, not_member: bool, as_json: bool
) -> None:
    """Register an organisation called NAME."""
    with open_alliance(context, quiet=as_json) as alliance:
        organisation_id = alliance.register_organisation(
            name=name, acronym=acronym, member=not not_member, **recorded_as(context)
        )
        ref = alliance.references("organisation")[organisation_id]
    if as_json:
        emit_json({"organisation_id": organisation_id, "name": name, "acronym": acronym})
    else:
        click.echo(f"registered organisation {name!r} (ref {ref})")


@organisation.command("list")
@json_option
@csv_option
@click.pass_context
def organisation_list(context: click.Context, *, as_json: bool, as_csv: bool) -> None:
    """List the organisations."""
    one_format(as_json=as_json, as_csv=as_csv)
    with open_alliance(context, read_only=True, quiet=as_json or as_csv) as alliance:
        found = sorted(alliance.state.organisations.values(), key=lambda o: o.name.casefold())
        refs = alliance.references("organisation")
    rows = [
        {
            "organisation_id": o.organisation_id, "name": o.name, "acronym": o.acronym,
            "member": o.member, "feed_tokens": len(o.feed_tokens),
        }
        for o in found
    ]
    if as_json:
        emit_json(rows)
        return
    if as_csv:
        emit_csv(
            ["organisation_id", "ref", "name", "acronym", "member", "feed_tokens"],
            [[o.organisation_id, refs[o.organisation_id], o.name, o.acronym, o.member,
              len(o.feed_tokens)] for o in found],
        )
        return
    table = Table(title="Organisations", title_justify="left")
    table.add_column("name", overflow="fold")
    table.add_column("acronym", overflow="fold")
    for column in ("member", "tokens", "ref"):
        table.add_column(column, no_wrap=True)
    for o in found:
        table.add_row(
            o.name, o.acronym, "yes" if o.member else "no", str(len(o.feed_tokens)),
            refs[o.organisation_id],
        )
    console().print(table)


@organisation.command("focal-point")
@click.argument("organisation_name", metavar="ORGANISATION")
@click.argument("person_name", metavar="PERSON", required=False)
@click.option("--none", "nobody", is_flag=True,
              help="The organisation has no focal point any more.")
@command_id_option
@click.pass_context
def organisation_focal_point(
    context: click.Context, *, organisation_name: str, person_name: str | None, nobody: bool
) -> None:
    """Name PERSON the focal point of ORGANISATION: the alliance's e-mails go to them.

    PERSON must be a person of ORGANISATION with an e-mail address for reminders to
    reach them (`alliance-events notify preview` shows who gets what).
    """
    if nobody == (person_name is not None):
        raise click.UsageError("give a PERSON, or --none")
    with open_alliance(context) as alliance:
        organisation_id = alliance.find_organisation(organisation_name)
        person_id = None if person_name is None else alliance.find_person(person_name)
        alliance.appoint_focal_point(organisation_id, person_id, **recorded_as(context))
        state = alliance.state
        name = state.organisation_name(organisation_id)
        person = None if person_id is None else state.persons[person_id]
    if person is None:
        click.echo(f"{name} has no focal point now")
        return
    click.echo(f"{person.name} is the focal point of {name}")
    if not person.email:
        click.echo(f"note: {person.name} has no e-mail address: no e-mail can reach them",
                   err=True)


# -- persons --------------------------------------------------------------------------


@main.group()
def person() -> None:
    """Persons (their names and e-mail addresses are personal data)."""


@person.command("add")
@click.argument("name")
@click.option("--email", default="", help="Their e-mail address.")
@click.option("--organisation", "organisation_name", default=None,
              help="The organisation they belong to (id, name or acronym).")
@json_option
@command_id_option
@click.pass_context
def person_add(
    context: click.Context, *, name: str, email: str, organisation_name: str | None, as_json: bool
) -> None:
    """Register a person called NAME."""
    with open_alliance(context, quiet=as_json) as alliance:
        organisation_id = (
            None if organisation_name is None else alliance.find_organisation(organisation_name)
        )
        person_id = alliance.register_person(
            name=name, email=email, organisation=organisation_id, **recorded_as(context)
        )
        ref = alliance.references("person")[person_id]
    if as_json:
        emit_json({"person_id": person_id, "name": name, "organisation_id": organisation_id})
    else:
        click.echo(f"registered {name} (ref {ref})")


@person.command("list")
@click.option("--organisation", "organisation_name", default=None,
              help="Only the persons of this organisation.")
@json_option
@csv_option
@click.pass_context
def person_list(
    context: click.Context, *, organisation_name: str | None, as_json: bool, as_csv: bool
) -> None:
    """List the persons."""
    one_format(as_json=as_json, as_csv=as_csv)
    with open_alliance(context, read_only=True, quiet=as_json or as_csv) as alliance:
        wanted = (
            None if organisation_name is None else alliance.find_organisation(organisation_name)
        )
        state = alliance.state
        people = [
            (p, state.organisation_name(p.organisation_id))
            for p in sorted(state.persons.values(), key=lambda p: p.name.casefold())
            if wanted is None or p.organisation_id == wanted
        ]
        refs = alliance.references("person")
    if as_json:
        emit_json([
            {"person_id": p.person_id, "name": p.name, "email": p.email,
             "organisation_id": p.organisation_id, "organisation": organisation}
            for p, organisation in people
        ])
        return
    if as_csv:
        emit_csv(
            ["person_id", "ref", "name", "email", "organisation_id", "organisation"],
            [[p.person_id, refs[p.person_id], p.name, p.email, p.organisation_id, organisation]
             for p, organisation in people],
        )
        return
    table = Table(title="Persons", title_justify="left")
    for column in ("name", "e-mail", "organisation"):
        table.add_column(column, overflow="fold")
    table.add_column("ref", no_wrap=True)
    for p, organisation in people:
        table.add_row(p.name, p.email, organisation, refs[p.person_id])
    console().print(table)


@person.command("forget")
@click.argument("person_name", metavar="PERSON")
@click.option("--reason", default="", help="Why (kept in the log: do not name the person).")
@click.option("--report", "full", is_flag=True, help="List everything that named them.")
@click.option("--dry-run", is_flag=True, help="Say what would be affected; erase nothing.")
@json_option
@command_id_option
@click.pass_context
def person_forget(
    context: click.Context, *, person_name: str, reason: str, full: bool, dry_run: bool,
    as_json: bool,
) -> None:
    """Forget PERSON (GDPR Article 17): their name and e-mail are erased everywhere.

    Their key is deleted from the key store beside the log: every replay, feed, history
    and table then shows them as erased, on this log and any copy read after it. The
    log itself is not rewritten (its checksums still verify). Backups taken before hold
    the key: see docs/how-to/forget-a-person.md.
    """
    with open_alliance(context, quiet=as_json) as alliance:
        person_id = alliance.find_person(person_name)
        name = alliance.state.persons[person_id].name
        report = alliance.forget_person(person_id, reason=reason, dry_run=dry_run,
                                        **recorded_as(context))
        postgres = db_url(settings(context).db).startswith(("postgresql:", "postgres:"))
    if as_json:
        emit_json({"person_id": person_id, "dry_run": dry_run, "already": report.already,
                   "key_deleted": report.key_deleted, "records": list(report.records),
                   "mentions": list(report.mentions), "feeds": list(report.feeds)})
        return
    if dry_run:
        click.echo(f"would forget {name}: {len(report.records)} records of theirs, "
                   f"{len(report.mentions)} mentions, feeds: {', '.join(report.feeds)}")
    elif report.already:
        click.echo(f"person {person_id} was forgotten already"
                   + ("; their key was still there and is deleted now"
                      if report.key_deleted else ""))
    else:
        click.echo(f"forgot {name}: their name and e-mail are erased from "
                   f"{len(report.records)} records; {len(report.mentions)} mentions now show "
                   f"them as erased; feeds changed: {', '.join(report.feeds)}")
    if full or dry_run:
        click.echo(f"records (positions): {', '.join(map(str, report.records)) or 'none'}")
        for mention in report.mentions:
            click.echo(f"  {mention}")
    if postgres and not dry_run:
        click.echo("note: PostgreSQL's WAL archives and base backups taken before still hold "
                   "the key: see docs/how-to/forget-a-person.md", err=True)


@person.command("seal")
@click.pass_context
def person_seal(context: click.Context) -> None:
    """Seal the personal data of a log written before it was sealed (once, in place).

    Until then those persons cannot be forgotten (`person forget` says which records
    hold plaintext). Rewrites those records' data sealed, marks them, computes their
    streams' checksums again, and compacts the file: take a backup first, and delete the
    backups that hold plaintext once it is done (SQLite and PostgreSQL).
    """
    with open_alliance(context) as alliance:
        report = alliance.seal_personal_data()
    if not report.records:
        click.echo("nothing to seal: every record's personal data is sealed")
        return
    click.echo(f"sealed {len(report.records)} records of {len(report.persons)} persons in "
               f"place; {report.streams_rechained} streams' checksums computed again")


@person.command("retention")
@click.option("--years", type=click.IntRange(1, 100), required=True,
              help="Erase delegates this many years after the last meeting they were "
                   "nominated to.")
@click.option("--apply", "apply_it", is_flag=True,
              help="Erase them (without it: only say whom it would erase).")
@json_option
@click.pass_context
def person_retention(context: click.Context, *, years: int, apply_it: bool,
                     as_json: bool) -> None:
    """Say which delegates the retention policy erases; with --apply, erase them.

    Off unless run: the alliance decides its period (the policy is this command, run by
    hand or from cron). Focal points and current officers are kept, and said so.
    """
    with open_alliance(context, quiet=as_json) as alliance:
        found = alliance.retention(years=years)
        state = alliance.state
        rows = [(c, state.persons[c.person_id].name) for c in found]
        if apply_it:
            for candidate, _ in rows:
                if not candidate.kept:
                    # One command per person (each with an id of its own), by the actor.
                    alliance.forget_person(
                        candidate.person_id,
                        reason=f"retention: {years} years after the last meeting",
                        actor=settings(context).actor)
    if as_json:
        emit_json([{"person_id": c.person_id, "last_meeting": c.last_meeting,
                    "kept": c.kept, "erased": apply_it and not c.kept} for c, _ in rows])
        return
    erased = [(c, n) for c, n in rows if not c.kept]
    verb = "erased" if apply_it else "would erase"
    click.echo(f"{verb} {len(erased)} delegates whose last meeting ended more than "
               f"{years} years ago")
    for candidate, name in rows:
        said = f"kept: {candidate.kept}" if candidate.kept else verb
        click.echo(f"  {name} (last meeting {day_text(candidate.last_meeting)}): {said}")
    if erased and not apply_it:
        click.echo("run again with --apply to erase them")


# -- feed tokens ----------------------------------------------------------------------


@main.group()
def token() -> None:
    """Organisations' private feed addresses."""


@token.command("issue")
@click.argument("organisation_name", metavar="ORGANISATION")
@click.option("--label", default="", help="A note on what the address is for.")
@json_option
@command_id_option
@click.pass_context
def token_issue(
    context: click.Context, *, organisation_name: str, label: str, as_json: bool
) -> None:
    """Give ORGANISATION a private feed address; print its token and URLs, this once.

    The URLs start with the feed address set by `alliance-events settings feed-address`
    (the one `serve` offers); without it, only the paths are printed.
    """
    with open_alliance(context, quiet=as_json) as alliance:
        organisation_id = alliance.find_organisation(organisation_name)
        token_id, secret = alliance.issue_feed_token(
            organisation_id, label=label, **recorded_as(context)
        )
        links = alliance.feed_links(secret)
    feed = f"/o/{secret}/calendar.ics" if links is None else links.https
    page = f"/o/{secret}/" if links is None else links.page
    if as_json:
        emit_json(
            {"organisation_id": organisation_id, "token_id": token_id, "token": secret,
             "feed_url": feed, "page_url": page,
             "webcal_url": None if links is None else links.webcal,
             "google_url": None if links is None else links.google}
        )
    else:
        click.echo(f"token: {secret}")
        click.echo(f"page:  {page}")
        click.echo(f"feed:  {feed}")
        click.echo(f"id:    {token_id}")
    if links is None:
        click.echo(
            "note: no feed address is set: these are paths on the feed server; set its "
            "public address with `alliance-events settings feed-address https://…`",
            err=True,
        )
    click.echo(
        "warning: the token is shown only this once: the log keeps its SHA-256, not the "
        "token. Send it to the organisation now; issue another if it is lost.",
        err=True,
    )


@token.command("revoke")
@click.argument("organisation_name", metavar="ORGANISATION")
@click.option("--token-id", "--id", "token_ref", default=None, metavar="REF",
              help="The token's ref (as `token list` shows it), label, or id.")
@click.option("--token", "secret", default=None, help="The token itself.")
@click.option("--reason", default="", help="Why (shown in the history).")
@command_id_option
@click.pass_context
def token_revoke(
    context: click.Context,
    *,
    organisation_name: str,
    token_ref: str | None,
    secret: str | None,
    reason: str,
) -> None:
    """Stop a private feed address of ORGANISATION from working.

    Name the token by --token-id (its ref, label or id: see `token list`) or by
    --token; without either, the organisation's only live token is revoked.
    """
    if token_ref is not None and secret is not None:
        raise click.UsageError("give --token-id or --token, not both")
    with open_alliance(context) as alliance:
        organisation_id = alliance.find_organisation(organisation_name)
        found = alliance.state.organisations[organisation_id]
        tokens = alliance.feed_tokens(organisation_id)
        if secret is not None:
            wanted = token_hash(secret)
            matches = [
                i for i, h in found.feed_tokens.items() if hmac.compare_digest(h, wanted)
            ]
            if not matches:
                raise UnknownReferenceError(
                    "unknown-token", f"that token is not a live token of {found.name!r}"
                )
            token_id = matches[0]
        elif token_ref is not None:
            token_id = alliance.find_feed_token(organisation_id, token_ref)
        elif len(tokens) == 1:
            token_id = tokens[0].token_id
        else:
            listed = "; ".join(_token_text(t) for t in tokens) or "none"
            raise UnknownReferenceError(
                "ambiguous-token" if tokens else "unknown-token",
                f"{found.name!r} has {len(tokens)} live feed tokens ({listed}): name one by "
                "--token-id REF",
            )
        token = next(t for t in tokens if t.token_id == token_id)
        alliance.revoke_feed_token(
            organisation_id, token_id, reason=reason, **recorded_as(context)
        )
    click.echo(f"revoked the feed token {_token_text(token)}, of {found.name!r}")


def _token_text(token: FeedTokenView) -> str:
    label = f" {token.label!r}" if token.label else ""
    issued = day_text(pendulum.instance(token.issued_at).in_timezone(DEFAULT_ZONE).date())
    return f"{token.ref}{label}, issued {issued}"


@token.command("list")
@click.argument("organisation_name", metavar="ORGANISATION")
@json_option
@csv_option
@click.pass_context
def token_list(
    context: click.Context, *, organisation_name: str, as_json: bool, as_csv: bool
) -> None:
    """List ORGANISATION's live feed tokens: ref, label, when issued (not the tokens).

    The tokens themselves are not kept; a ref names a token to `token revoke`.
    """
    one_format(as_json=as_json, as_csv=as_csv)
    with open_alliance(context, read_only=True, quiet=as_json or as_csv) as alliance:
        organisation_id = alliance.find_organisation(organisation_name)
        name = alliance.state.organisations[organisation_id].name
        tokens = alliance.feed_tokens(organisation_id)
    if as_json:
        emit_json({
            "organisation_id": organisation_id,
            "token_ids": [t.token_id for t in tokens],
            "tokens": [t._asdict() for t in tokens],
        })
    elif as_csv:
        emit_csv(*tokens_csv(tokens))
    else:
        console().print(tokens_table(name, tokens))


# -- settings -------------------------------------------------------------------------


@main.group("settings")
def settings_group() -> None:
    """Show or change the settings every tool on the log shares (kept in the log)."""


@settings_group.command("feed-address")
@click.argument("base_url", metavar="[URL]", required=False)
@json_option
@command_id_option
@click.pass_context
def feed_address(context: click.Context, *, base_url: str | None, as_json: bool) -> None:
    """Show the feed server's public address, or set it to URL (https://host[/path]).

    Every subscribe link starts with it: the server's pages and `token issue`.
    """
    with open_alliance(context, quiet=as_json) as alliance:
        if base_url is not None:
            alliance.set_feed_address(base_url, **recorded_as(context))
        address = alliance.feed_address
        links = alliance.feed_links()
    if as_json:
        emit_json({"feed_address": address,
                   "feed_url": None if links is None else links.https})
    elif address is None:
        click.echo("no feed address is set")
    else:
        click.echo(f"feed address: {address}")
        assert links is not None  # noqa: S101 - set with the address
        click.echo(f"public feed:  {links.https}")
