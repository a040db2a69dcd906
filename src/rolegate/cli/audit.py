"""``rolegate audit``: read, export, verify, seal and prune the tamper-evident audit trail.

Everything an event says came from outside at some point (a username typed at a login form, a
User-Agent header), so every free-text cell passes :func:`visible` and is printed as plain
``Text``: no control character reaches the terminal and no Rich markup is interpreted (CWE-150).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import chain
from typing import Annotated, Any, Final, TextIO
from uuid import UUID

import typer

from rolegate.cli._common import Json, Yes, confirm_or_stop, open_rolegate
from rolegate.cli._errors import REFUSED_EXIT, fail
from rolegate.cli._output import NOTHING, print_json, print_table, progress_bar, say, visible
from rolegate.durations import DURATION_FORMS, InvalidDuration, parse_duration, shorthand
from rolegate.entities import AuditAnchor, AuditEvent, ChainReport
from rolegate.facade import Rolegate
from rolegate.names import chain_ref
from rolegate.types import Ref

app = typer.Typer(
    help="Read, export, verify, seal and prune the audit trail.", no_args_is_help=True
)

STDOUT: Final = "-"
DETAILS_SHOWN: Final = 200  # characters of details per table cell; `audit export` has them all


def parse_moment(text: str) -> datetime:
    """An ISO 8601 date (UTC midnight) or datetime, one without a time zone being UTC; or a
    duration (:mod:`rolegate.durations`) before now: ``90d`` is ninety days ago."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        pass
    else:
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    try:
        return datetime.now(UTC) - parse_duration(text)
    except InvalidDuration as exc:
        if text.strip()[:1].upper() == "P" or shorthand(text) is not None:
            raise typer.BadParameter(str(exc)) from None  # a duration: what is wrong with it
    except OverflowError:
        raise typer.BadParameter(f"{text!r} ago is before the year 1") from None
    raise typer.BadParameter(
        f"{text!r} is neither an ISO 8601 date (2026-01-31), a datetime "
        f"(2026-01-31T18:00:00+01:00) nor a duration ago: {DURATION_FORMS}"
    )


Tenant = Annotated[
    str | None,
    typer.Option(
        "--tenant",
        metavar="TENANT",
        help="Only this tenant's chain: slug, or id (a deleted tenant's too).",
    ),
]


def _moment_option(name: str, help_text: str) -> Any:
    return typer.Option(name, metavar="DATE", parser=parse_moment, help=help_text)


Since = Annotated[
    datetime | None,
    _moment_option("--since", "From this time on: 2026-01-31 (UTC), an ISO datetime, or 7d ago."),
]
Until = Annotated[
    datetime | None,
    _moment_option("--until", "Before this time (exclusive): a date, an ISO datetime, or 1d ago."),
]
Actor = Annotated[str | None, typer.Option("--actor", help="Exact actor (user id, cli:<name>).")]
Action = Annotated[
    str | None, typer.Option("--action", help="Exact action, or a prefix ending in '*' (auth.*).")
]
Target = Annotated[
    str | None, typer.Option("--target", help="Target type (role) or type:id (role:<id>).")
]
Outcome = Annotated[str | None, typer.Option("--outcome", help="success, failure or denied.")]


@dataclass(frozen=True, slots=True)
class EventFilter:
    """The filters ``audit list`` and ``audit export`` share, as the service's keywords."""

    tenant: Ref | None
    actor: str | None
    action: str | None
    target: str | None
    outcome: str | None
    since: datetime | None
    until: datetime | None

    def keywords(self) -> dict[str, Any]:
        """The filter as keyword arguments of ``rg.audit.events`` and ``rg.audit.export``."""
        return asdict(self)


@app.command("list")
def list_events(
    ctx: typer.Context,
    tenant: Tenant = None,
    actor: Actor = None,
    action: Action = None,
    target: Target = None,
    outcome: Outcome = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, typer.Option("--limit", help="Most events shown (1-1000).")] = 50,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Where the previous page ended.")
    ] = None,
    as_json: Json = False,
) -> None:
    """List audit events, newest first, a page at a time."""
    wanted = EventFilter(chain_ref(tenant), actor, action, target, outcome, since, until)
    with open_rolegate(ctx) as rg:
        page = rg.audit.events(**wanted.keywords(), cursor=cursor, limit=limit)
        labels = chain_labels(rg)
    if as_json:
        print_json({"events": [e.as_json() for e in page.items], "next_cursor": page.next_cursor})
        return
    print_table(
        "Audit events",
        ["time", "seq", "tenant", "actor", "ip", "action", "target", "outcome", "details"],
        [event_row(event, labels) for event in page.items],
    )
    if page.next_cursor is not None:
        say(f"next page: --cursor {page.next_cursor}")


def chain_labels(rg: Rolegate) -> dict[UUID, str]:
    """Each live tenant's id to its slug, for the tenant column."""
    return {tenant.id: tenant.slug for tenant in rg.tenants.list()}


def event_row(event: AuditEvent, labels: dict[UUID, str]) -> list[str]:
    """One table row of an event, every free-text cell escaped."""
    if event.tenant_id is None:
        chain = "global"
    else:
        chain = labels.get(event.tenant_id, str(event.tenant_id))  # a deleted tenant: its id
    target = f"{event.target_type}:{event.target_id}" if event.target_id else event.target_type
    return [
        event.occurred_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        str(event.seq),
        visible(chain),
        visible(event.actor),
        visible(event.actor_ip or NOTHING),
        visible(event.action),
        visible(target),
        visible(event.outcome),
        compact_details(event.details),
    ]


def compact_details(details: dict[str, Any]) -> str:
    """``details`` as one line of JSON, shortened to :data:`DETAILS_SHOWN` characters."""
    if not details:
        return NOTHING
    # JSON escapes C0 controls itself; visible() catches what it leaves (C1, bidi overrides).
    text = visible(json.dumps(details, ensure_ascii=False, separators=(",", ":"), default=str))
    return text if len(text) <= DETAILS_SHOWN else text[: DETAILS_SHOWN - 1] + "…"


@app.command("export")
def export_events(
    ctx: typer.Context,
    tenant: Tenant = None,
    actor: Actor = None,
    action: Action = None,
    target: Target = None,
    outcome: Outcome = None,
    since: Since = None,
    until: Until = None,
    output: Annotated[
        str, typer.Option("--output", "-o", metavar="FILE", help="Write here ('-': stdout).")
    ] = STDOUT,
) -> None:
    """Write events as JSON Lines, chain by chain and oldest first, streamed."""
    wanted = EventFilter(chain_ref(tenant), actor, action, target, outcome, since, until)
    # Closed on the way out: a stream left half read would give its database connection back
    # only when collected, after the facade (and its pool) is gone.
    with (
        open_rolegate(ctx) as rg,
        progress_bar("Exporting audit events", shares_stdout=output == STDOUT) as progress,
        closing(rg.audit.export(**wanted.keywords(), progress=progress)) as events,
    ):
        first = next(events, None)  # a bad filter or tenant fails before any file is made
        with _opened(output) as stream:
            count = write_lines(stream, events, first)
    if output != STDOUT:
        say(f"exported {count} event{'' if count == 1 else 's'} to {output}")


def write_lines(stream: TextIO, events: Iterable[AuditEvent], first: AuditEvent | None) -> int:
    """Write ``first`` and the rest of ``events`` as JSON Lines, one at a time; the count."""
    if first is None:
        return 0
    count = 0
    for event in chain([first], events):
        stream.write(json_line(event.as_json()) + "\n")
        count += 1
    return count


def json_line(value: dict[str, Any]) -> str:
    """``value`` as one line of JSON: names stay readable (no ``ensure_ascii``), but every
    unprintable character is a ``\\u`` escape. ``json`` escapes only C0 controls; a raw C1
    control (``\\x9b`` starts an escape sequence), a bidi override or U+2028 (a line break to
    ``str.splitlines``) would otherwise reach the terminal or split a line for some readers."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return "".join(ch if ch.isprintable() else _u_escape(ch) for ch in text)


def _u_escape(ch: str) -> str:
    """``ch`` as JSON ``\\uXXXX`` escapes: a surrogate pair beyond the BMP (RFC 8259 §7)."""
    code = ch.encode("utf-16-be")
    return "".join(f"\\u{code[i]:02x}{code[i + 1]:02x}" for i in range(0, len(code), 2))


@contextmanager
def _opened(output: str) -> Iterator[TextIO]:
    """A text stream for ``output``: stdout for ``-``, else the file, created or truncated."""
    if output == STDOUT:
        yield sys.stdout
        return
    try:
        stream = open(output, "w", encoding="utf-8", newline="\n")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    with stream:
        yield stream


@app.command("verify")
def verify_chains(ctx: typer.Context, tenant: Tenant = None, as_json: Json = False) -> None:
    """Check every chain (or TENANT's) link by link; exit 1 if any is broken."""
    with open_rolegate(ctx) as rg, progress_bar("Verifying audit chains") as progress:
        reports = rg.audit.verify(tenant=chain_ref(tenant), progress=progress)
    broken = [report for report in reports if not report.is_intact]
    if as_json:
        print_json(reports)
    else:
        print_table(
            "Audit chains",
            ["chain", "events", "last seq", "seals", "status"],
            [_report_row(report) for report in reports],
        )
        for report in broken:
            say(_breakage(report))
    if broken:
        fail(f"{len(broken)} of {len(reports)} audit chains broken", exit_code=REFUSED_EXIT)


def _report_row(report: ChainReport) -> list[str]:
    return [
        visible(report.label),
        str(report.events),
        str(report.last_seq),
        str(report.seals),
        "intact" if report.is_intact else "BROKEN",
    ]


def _breakage(report: ChainReport) -> str:
    """Where and how ``report``'s chain breaks, on one line."""
    event = NOTHING if report.broken_at is None else str(report.broken_at)
    seq = NOTHING if report.broken_seq is None else str(report.broken_seq)
    return (
        f"chain {visible(report.label)} broken at event {event} (seq {seq}): "
        f"{visible(report.problem or 'unknown problem')}"
    )


@app.command("seal")
def seal_chains(ctx: typer.Context, tenant: Tenant = None) -> None:
    """Sign the head of every chain (or TENANT's) so a cut-off tail is detected."""
    with open_rolegate(ctx) as rg:
        anchors = rg.audit.seal(tenant=chain_ref(tenant))
    if not anchors:
        say("nothing to seal: no chain has events")
        return
    print_table("Sealed chain heads", ["chain", "seq", "kid"], [_anchor_row(a) for a in anchors])


def _anchor_row(anchor: AuditAnchor) -> list[str]:
    return [visible(anchor.label), str(anchor.seq), anchor.kid]


@app.command("prune")
def prune_events(
    ctx: typer.Context,
    before: Annotated[
        datetime,
        typer.Option(
            "--before",
            metavar="DATE",
            parser=parse_moment,
            help="Delete events older than this: 2026-01-31 (UTC), an ISO datetime, or 90d ago.",
        ),
    ],
    tenant: Tenant = None,
    yes: Yes = False,
) -> None:
    """Delete old events, leaving a signed anchor so the rest still verifies."""
    ref = chain_ref(tenant)
    with open_rolegate(ctx) as rg:
        if isinstance(ref, str):
            rg.tenants.get(ref)  # an unknown tenant fails before the question
        where = "every audit chain" if ref is None else f"the audit chain of {tenant!r}"
        confirm_or_stop(
            f"Delete the events older than {before.isoformat()} from {where}?", assume_yes=yes
        )
        anchors = rg.audit.prune(before=before, tenant=ref)
    if not anchors:
        say(f"nothing to prune: no event is older than {before.isoformat()}")
        return
    print_table(
        "Pruned audit chains",
        ["chain", "removed", "through seq", "kid"],
        [[visible(a.label), str(a.removed), str(a.seq), a.kid] for a in anchors],
    )
