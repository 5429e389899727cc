"""Training mode at /training: practice calls for trainees, batches and score reports for trainers.

Scenarios are loaded once when the app starts (a wrong file stops it, naming file and field).
Registered only in the embedded demo and in training mode, never in production.
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from hotline.auth import current_actor, roles_required
from hotline.runtime import runtime
from ticketing.errors import NotFoundError, TicketingError
from ticketing.locations import district_choices, province_choices
from ticketing.models import Category
from ticketing.permissions import STAFF, SUPERVISORS
from ticketing.practice import (
    PracticeCall,
    PracticeTicket,
    batch_report,
    batches,
    create_batch,
    file_practice_ticket,
    practice_for,
    start_practice,
    trainee_calls,
)
from ticketing.training import Scenario

bp = Blueprint("training", __name__, url_prefix="/training")
TRAINERS = SUPERVISORS


def _scenarios() -> dict[str, Scenario]:
    return runtime().training_scenarios


def _scenario(scenario_id: str) -> Scenario:
    scenario = _scenarios().get(scenario_id)
    if scenario is None:
        abort(404)
    return scenario


def _int_or_404(value: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        abort(404)
    return int(value)


# Trainees ---------------------------------------------------------------------------------------


@bp.get("/")
@roles_required(*STAFF)
def home() -> ResponseReturnValue:
    actor = current_actor()
    _, calls = trainee_calls(runtime().uow(), actor.user_id or 0)
    return render_template(
        "training/home.html",
        scenarios=sorted(_scenarios().values(), key=lambda s: s.title),
        calls=calls,
        titles={s.id: s.title for s in _scenarios().values()},
        is_trainer=actor.role in TRAINERS,
    )


@bp.post("/practice")
@roles_required(*STAFF)
def practice_start() -> ResponseReturnValue:
    scenario = _scenario(request.form.get("scenario", ""))
    rt = runtime()
    practice = start_practice(rt.uow(), current_actor(), scenario, now=rt.clock())
    return redirect(url_for("training.practice_page", practice_id=practice.id))


@bp.get("/practice/<practice_id>")
@roles_required(*STAFF)
def practice_page(practice_id: str) -> ResponseReturnValue:
    return _practice_page(_practice(practice_id))


@bp.post("/practice/<practice_id>/ticket")
@roles_required(*STAFF)
def practice_ticket(practice_id: str) -> ResponseReturnValue:
    practice = _practice(practice_id)
    form = request.form
    ticket = PracticeTicket(
        category=form.get("category", ""),
        province_code=form.get("province", ""),
        district_code=form.get("district", ""),
        citizen_id=form.get("citizen_id", ""),
        description=form.get("description", ""),
    )
    rt = runtime()
    try:
        file_practice_ticket(rt.uow(), practice, _scenario(practice.scenario_id), ticket,
                             current_actor(), tz=rt.settings.tz, now=rt.clock())  # fmt: skip
    except TicketingError as exc:
        return _practice_page(practice, error=exc.message, form=form), 400
    return redirect(url_for("training.practice_page", practice_id=practice.id))


def _practice(practice_id: str) -> PracticeCall:
    try:
        return practice_for(runtime().uow(), _int_or_404(practice_id), current_actor())
    except NotFoundError:
        abort(404)


def _practice_page(practice: PracticeCall, error: str | None = None, form: object = None) -> str:
    with runtime().uow() as uow:
        categories = list(
            uow.session.scalars(
                select(Category).where(Category.is_active.is_(True)).order_by(Category.sort_order)
            )
        )
    provinces = province_choices()
    return render_template(
        "training/practice.html",
        practice=practice,
        scenario=_scenario(practice.scenario_id),
        categories=categories,
        provinces=provinces,
        districts={code: district_choices(code) for code, _th, _en in provinces},
        error=error,
        form=form or {},
    )


# Trainers ---------------------------------------------------------------------------------------


@bp.get("/batches")
@roles_required(*TRAINERS)
def batch_list() -> ResponseReturnValue:
    return render_template("training/batches.html", batches=batches(runtime().uow()), error=None)


@bp.post("/batches")
@roles_required(*TRAINERS)
def batch_create() -> ResponseReturnValue:
    usernames = request.form.get("usernames", "").replace(",", "\n").splitlines()
    try:
        batch = create_batch(
            runtime().uow(), request.form.get("name", ""), usernames, current_actor()
        )
    except TicketingError as exc:
        page = render_template(
            "training/batches.html", batches=batches(runtime().uow()), error=exc.message
        )
        return page, 400
    return redirect(url_for("training.batch_page", batch_id=batch.id))


@bp.get("/batches/<batch_id>")
@roles_required(*TRAINERS)
def batch_page(batch_id: str) -> ResponseReturnValue:
    try:
        batch, summaries = batch_report(runtime().uow(), _int_or_404(batch_id))
    except NotFoundError:
        abort(404)
    return render_template("training/batch.html", batch=batch, summaries=summaries)


@bp.get("/trainees/<user_id>")
@roles_required(*TRAINERS)
def trainee_page(user_id: str) -> ResponseReturnValue:
    try:
        trainee, calls = trainee_calls(runtime().uow(), _int_or_404(user_id))
    except NotFoundError:
        abort(404)
    titles = {s.id: s.title for s in _scenarios().values()}
    return render_template("training/trainee.html", trainee=trainee, calls=calls, titles=titles)


def init_training(app: Flask) -> None:
    settings = runtime(app).settings
    if settings.simulator_enabled:
        app.register_blueprint(bp)
