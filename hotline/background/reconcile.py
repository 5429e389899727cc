"""``hotline calls reconcile`` and the worker's hourly round: Twilio's call records fill the
call log's gaps (hotline.calls.reconcile), read through the REST adapter."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from hotline.calls.reconcile import reconcile
from hotline.runtime import Runtime
from hotline.twilio.rest import TwilioApi

log = logging.getLogger(__name__)
# The hourly round looks back further than an hour: a round may be missed, and a call may end
# hours after it started.
LOOK_BACK = timedelta(hours=6)


def reconcile_since(rt: Runtime, since: datetime) -> int:
    """Fill the calls and outcomes we lack for calls started since ``since``; how many."""
    records = TwilioApi(rt.settings).calls_since(since)
    with rt.uow() as uow:
        filled = reconcile(uow.session, records, rt.clock())
        uow.commit()
    if filled:
        log.warning("reconciled %d calls from Twilio's records (call log gaps)", filled)
    return filled


def reconcile_recent(rt: Runtime) -> int:
    return reconcile_since(rt, rt.clock() - LOOK_BACK)
