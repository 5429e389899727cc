"""The ``hotline`` command: database, users, IVR flows, demo data and the local server.

Each command imports what it uses inside its own function: ``hotline --help`` and the quick
commands start without loading the whole app (geothai's tables, the flow, the worker's RQ).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click
from flask import Flask

from config import Settings, SettingsError
from hotline.runtime import Runtime, runtime
from ticketing.errors import TicketingError
from ticketing.permissions import Actor

if TYPE_CHECKING:
    from ivr_flows.model import Flow

F = TypeVar("F", bound=Callable[..., Any])
CLI_ACTOR = Actor.system("cli")


def _app() -> Flask:
    from hotline import create_app

    try:
        return create_app(Settings.from_env())
    except SettingsError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc


def _runtime() -> Runtime:
    return runtime(_app())


def _domain_errors(func: F) -> F:
    """Show a domain error as one readable line and exit 1, never as a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TicketingError as exc:
            raise click.ClickException(str(exc)) from exc

    return cast(F, wrapper)


@click.group()
def main() -> None:
    """1567 Hotline: telephony and complaint ticketing for the Damrongdhamma Centers."""


# Database ---------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Schema migrations."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema and load reference data."""
    from hotline.migrate import upgrade

    rt = _runtime()
    upgrade(rt.db)
    click.echo(f"database is up to date ({rt.db.dialect})")


# Users ------------------------------------------------------------------------------------


@main.group()
def user() -> None:
    """Accounts of agents, supervisors, admins and agency staff."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@user.command("add")
@click.argument("username")
@click.option(
    "--role", required=True, type=click.Choice(["agent", "supervisor", "admin", "agency"])
)
@click.option("--name", "display_name", required=True, help="The person's name as shown.")
@click.option(
    "--center", "center_code", help="'central', a 2-digit province or a 4-digit district code."
)
@click.option("--agency", "agency_code", help="Agency code (for role agency).")
@click.option("--locale", default="th", type=click.Choice(["th", "en"]))
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@_domain_errors
def user_add(
    username: str,
    role: str,
    display_name: str,
    center_code: str | None,
    agency_code: str | None,
    locale: str,
    password_stdin: bool,
) -> None:
    """Create an account."""
    from ticketing.users import NewUser, create_user

    rt = _runtime()
    password = _read_password(password_stdin)
    new = NewUser(username, display_name, password, role, center_code, agency_code, locale)
    created = create_user(rt.uow(), new, CLI_ACTOR)
    click.echo(f"created {created.username} ({created.role})")


@user.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@_domain_errors
def user_passwd(username: str, password_stdin: bool) -> None:
    """Set a new password."""
    from ticketing.users import set_password

    rt = _runtime()
    set_password(rt.uow(), username, _read_password(password_stdin), CLI_ACTOR)
    click.echo(f"password changed for {username}")


# Demo data and local server ---------------------------------------------------------------


@main.command("demo-data")
@click.option("--tickets", default=3000, show_default=True, help="How many tickets to create.")
@click.option("--days", default=90, show_default=True, help="Spread over this many past days.")
@click.option("--seed", default=1567, show_default=True, help="Random seed (same seed, same data).")
@click.option("--if-empty", is_flag=True, help="Do nothing when tickets already exist.")
@_domain_errors
def demo_data(tickets: int, days: int, seed: int, if_empty: bool) -> None:
    """Load agencies, a user of every role, and realistic tickets and calls."""
    from hotline.demo.data import DEMO_PASSWORD, load_demo_data

    rt = _runtime()
    summary = load_demo_data(rt, tickets=tickets, days=days, seed=seed, if_empty=if_empty)
    click.echo(summary.describe())
    click.echo(f"demo users (password {DEMO_PASSWORD}): " + ", ".join(summary.usernames))


@main.group()
def metrics() -> None:
    """Supervisor metrics."""


@metrics.command("rollup")
@click.option("--rebuild", is_flag=True, help="Forget the rollups and rebuild every day.")
def metrics_rollup(rebuild: bool) -> None:
    """Bring the metric rollups up to date (the worker does this every minute)."""
    from hotline.metrics.service import refresh_rollups

    # A rebuild replaces the rows in one transaction: dashboards read the old ones meanwhile.
    report = refresh_rollups(_runtime(), rebuild=rebuild)
    click.echo(
        f"metrics rollup: {report.days} day(s) rebuilt or added to, "
        f"covered until {report.covered_until}"
    )


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def run(host: str, port: int) -> None:
    """Serve the application on this machine (the embedded demo; use gunicorn in production)."""
    app = _app()
    if runtime(app).settings.jobs_inline:
        from hotline.metrics.service import RollupKeeper

        RollupKeeper(runtime(app)).start()  # no worker here: this process keeps the rollups
    click.echo(f"1567 Hotline on http://{host}:{port}/  (Ctrl+C stops)")
    app.run(host=host, port=port, threaded=True, use_reloader=False)


# IVR flows --------------------------------------------------------------------------------


@main.group()
def flows() -> None:
    """Check and draw the IVR flows callers hear."""


def _flow_arg(name: str | None) -> str:
    """The flow to work on: the argument, else the one the settings name (default ``1567``)."""
    if name:
        return name
    try:
        return Settings.from_env().ivr_flow
    except SettingsError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc


def _load_flow_or_exit(name: str) -> Flow:
    """A bundled flow by name or a YAML file by path; a schema error is printed and exits 1.

    Files are read afresh rather than through the cached ``load_flow``, so an edited file is
    checked as it is now.
    """
    from ivr_flows.loader import FlowError, load_flow, parse_flow

    path = Path(name)
    try:
        if path.is_file():
            return parse_flow(path.read_text(encoding="utf-8"), path.name)
        return load_flow(name)
    except FlowError as exc:
        click.echo(str(exc))
        raise click.exceptions.Exit(1) from exc
    except (OSError, UnicodeDecodeError) as exc:
        click.echo(f"{path.name}: cannot read the file ({exc})")
        raise click.exceptions.Exit(1) from exc


@flows.command("check")
@click.argument("file", required=False)
def flows_check(file: str | None) -> None:
    """Lint a flow (bundled name or YAML file); exit 1 on any issue."""
    from ivr_flows.lint import ACTION_VARS, lint_flow

    flow = _load_flow_or_exit(_flow_arg(file))
    issues = lint_flow(flow, known_actions=frozenset(ACTION_VARS))
    for issue in issues:
        click.echo(str(issue))
    if issues:
        raise click.exceptions.Exit(1)
    click.echo(f"{flow.source}: ok ({len(flow.nodes)} nodes)")


@flows.command("burden")
@click.argument("file", required=False)
def flows_burden(file: str | None) -> None:
    """What a caller keys and hears before each goal of a flow (complaint, follow-up,
    information, a person), as a Markdown table."""
    from ivr_flows.burden import burden_table

    flow = _load_flow_or_exit(_flow_arg(file))
    click.echo(f"{flow.source}: caller burden (pythainlp syllables, 8 a second)")
    click.echo(burden_table(flow), nl=False)


@flows.command("graph")
@click.argument("file", required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the Mermaid text here instead of standard output.",
)
def flows_graph(file: str | None, output: Path | None) -> None:
    """Draw a flow as a Mermaid flowchart."""
    from ivr_flows.graph import to_mermaid

    text = to_mermaid(_load_flow_or_exit(_flow_arg(file)))
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


@main.command("worker")
@click.option(
    "--queue",
    "queues",
    multiple=True,
    default=("recordings", "notifications", "default"),
    show_default=True,
    help="Queue to work (repeat for several).",
)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty (after a last flush).")
@click.option("--fork", "fork_per_job", is_flag=True, help="Run each job in a forked process.")
def worker(queues: tuple[str, ...], burst: bool, fork_per_job: bool) -> None:
    """Run background jobs and flush the call log (needs REDIS_URL)."""
    from hotline.background.jobs import QUEUE_NAMES
    from hotline.background.worker import run_worker

    unknown = set(queues) - set(QUEUE_NAMES)
    if unknown:
        raise click.ClickException(f"unknown queue(s): {', '.join(sorted(unknown))}")
    try:
        run_worker(_app(), queues, burst=burst, fork_per_job=fork_per_job)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command("call")
@click.option(
    "--keys", default="", help="What the caller does, comma-separated: 1,50200#,#,record:5,hangup"
)
@click.option("--from", "caller", default="+66812345678", show_default=True, help="Caller number.")
@click.option("--url", "base_url", help="The running app (default: PUBLIC_BASE_URL).")
@click.option("--agent-answers/--agent-busy", default=True, help="What happens in the agent queue.")
@click.option(
    "--wait-for-agent", "wait_s", type=click.IntRange(min=0), default=0,
    help="Wait up to this many seconds in the queue for an agent on the desk (embedded demo).",
)  # fmt: skip
def call(keys: str, caller: str, base_url: str | None, agent_answers: bool, wait_s: int) -> None:
    """Call the hotline like Twilio would (signed webhooks) and print the conversation."""
    from hotline.demo.phone import HttpTransport, PhoneSimulator, QueueBehaviour

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc
    transport = HttpTransport()
    credentials = (settings.twilio_account_sid, settings.twilio_auth_token)
    simulated_media = "/simulator/twilio" in settings.twilio_api_base_url
    phone = PhoneSimulator(
        transport,
        base_url=base_url or settings.public_base_url,
        auth_token=settings.twilio_auth_token,
        account_sid=settings.twilio_account_sid,
        caller=caller,
        called=settings.hotline_number,
        media_base_url=settings.twilio_api_base_url,
        # The embedded app plays Twilio's media host: give it the caller's words to fetch.
        upload=(lambda url, audio: transport.put(url, audio, credentials))
        if simulated_media
        else None,
    )
    script = [item.strip() for item in keys.split(",")] if keys else []
    try:
        queue = QueueBehaviour(answered=agent_answers, live=wait_s > 0, timeout_s=wait_s)
        transcript = phone.call(script, queue=queue)
    except (OSError, RuntimeError) as exc:
        raise click.ClickException(f"the call failed: {exc}") from exc
    for exchange in transcript.exchanges:
        pressed = exchange.params.get("Digits") or exchange.params.get("RecordingSid", "")
        if pressed:
            click.echo(f"  ☎ {pressed}")
    click.echo("\n".join(f"🔊 {line}" for line in transcript.heard))
    click.echo(f"(call {transcript.call_sid} ended: {transcript.ended_by})")


@main.group()
def calls() -> None:
    """The call log: gaps filled from Twilio, entries the database refused."""


@calls.command("reconcile")
@click.option("--since", required=True, help="ISO date or time (UTC unless it says otherwise).")
def calls_reconcile(since: str) -> None:
    """Fill the calls and outcomes the log lacks from Twilio's own call records."""
    from datetime import UTC, datetime

    from hotline.background.reconcile import reconcile_since

    try:
        start = datetime.fromisoformat(since)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since") from error
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    click.echo(f"reconciled {reconcile_since(_runtime(), start)} call(s)")


@calls.command("replay-refused")
def calls_replay_refused() -> None:
    """Apply the refused call-log entries again (after the fix); each is marked replayed."""
    from hotline.calls.buffer import replay_refused

    replayed, again = replay_refused(_runtime().db)
    click.echo(f"replayed {replayed} entr(ies); {again} refused again (kept)")


@main.group()
def recordings() -> None:
    """Call recordings: re-fetch the stuck ones, purge the expired ones."""


@recordings.command("sweep")
def recordings_sweep() -> None:
    """Enqueue again every recording still pending after RECORDINGS_SWEEP_AFTER_S."""
    from hotline.background.jobs import InlineJobs
    from hotline.background.recordings import sweep

    rt = _runtime()
    count = sweep(rt)
    if isinstance(rt.jobs, InlineJobs):
        rt.jobs.join()  # no worker in the embedded mode: the fetches run here, now
    click.echo(f"re-enqueued {count} pending recording(s)")


@recordings.command("purge")
@click.option("--older-than", "days", type=click.IntRange(min=1), required=True, help="Days.")
@click.option("--dry-run", is_flag=True, help="Count what would be purged; change nothing.")
def recordings_purge(days: int, dry_run: bool) -> None:
    """Delete the audio of recordings older than DAYS (their records and audit trail stay)."""
    from tqdm import tqdm

    from hotline.background.recordings import purge

    rt = _runtime()
    with tqdm(unit="rec", desc="purging", disable=dry_run) as bar:
        report = purge(rt, days, dry_run=dry_run, progress=bar.update)
    verb = "would purge" if dry_run else "purged"
    click.echo(
        f"{verb} {report.due if dry_run else report.purged} recording(s) older than {days} days"
    )
    if report.missing_files:
        click.echo(f"{report.missing_files} had no file left in storage")


@main.group()
def holidays() -> None:
    """Public holidays (business hours and business-day deadlines)."""


@holidays.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_domain_errors
def holidays_import(path: Path) -> None:
    """Add holidays from a CSV file of date,name_th,name_en (e.g. the cabinet's lunar dates)."""
    from ticketing.holidays import read_csv, save_holidays

    rows = read_csv(path)
    added = save_holidays(_runtime().uow(), rows)
    click.echo(f"{added} new holiday(s), {len(rows) - added} updated")


@holidays.command("list")
@click.option("--year", type=int, help="Gregorian year (default: all).")
def holidays_list(year: int | None) -> None:
    """Show the holidays on record."""
    from sqlalchemy import select

    from ticketing.models import Holiday

    with _runtime().uow() as uow:
        rows = uow.session.scalars(select(Holiday).order_by(Holiday.day)).all()
    for row in rows:
        if year is None or row.day.year == year:
            click.echo(f"{row.day.isoformat()}  {row.name_th}  ({row.name_en})")


@main.group()
def deadlines() -> None:
    """Reminders before deadlines and escalations after them (the worker runs them every minute)."""


@deadlines.command("check")
@_domain_errors
def deadlines_check() -> None:
    """Run one round now: remind what is due soon, escalate what is overdue."""
    from hotline.background.worker import check_deadlines

    report = check_deadlines(_runtime())
    click.echo(
        f"reminded {report.reminded}, escalated {report.escalated} "
        f"({report.alerts} alerts, {report.sms} SMS to agencies)"
    )


@main.group()
def token() -> None:
    """API bearer tokens."""


@token.command("create")
@click.argument("name")
@click.option("--user", "username", help="The user the token acts as.")
@click.option("--agency", "agency_code", help="The agency the token belongs to.")
@click.option("--scope", "scopes", multiple=True, required=True,
              help="tickets:read, tickets:write, reference:read, calls:read, referrals:read, "
                   "referrals:write (repeat for several).")  # fmt: skip
@_domain_errors
def token_create(
    name: str, username: str | None, agency_code: str | None, scopes: tuple[str, ...]
) -> None:
    """Make a token; its secret is printed once and stored only as a hash."""
    from ticketing.tokens import create_token

    made, secret = create_token(_runtime().uow(), name, list(scopes), CLI_ACTOR,
                                username=username, agency_code=agency_code)  # fmt: skip
    click.echo(f"token {made.prefix}… ({made.scopes}) — keep this secret, it is not shown again:")
    click.echo(secret)


@token.command("revoke")
@click.argument("prefix")
def token_revoke(prefix: str) -> None:
    """Revoke a token by the prefix shown when it was made."""
    from ticketing.tokens import revoke

    if not revoke(_runtime().uow(), prefix, CLI_ACTOR):
        raise click.ClickException(f"no active token {prefix!r}")
    click.echo(f"revoked {prefix}")
