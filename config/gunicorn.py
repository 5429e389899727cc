"""gunicorn settings for the web tier: ``gunicorn -c config/gunicorn.py 'hotline:create_app()'``.

Webhooks are short and CPU-bound, so a few sync-style workers per core serve them best; gthread
lets a worker overlap the odd slow database round trip. The app itself reads its settings from
the environment (config/settings.py); override these with GUNICORN_CMD_ARGS.
"""

import multiprocessing

bind = "0.0.0.0:8000"
workers = multiprocessing.cpu_count() * 2
worker_class = "gthread"
threads = 4
timeout = 30  # Twilio gives up after 15 s; a stuck worker is recycled well before trouble spreads
graceful_timeout = 20
keepalive = 5
max_requests = 20_000  # recycle workers now and then, jittered so they never restart together
max_requests_jitter = 2_000
accesslog = "-"
access_log_format = '{"remote":"%(h)s","request":"%(r)s","status":%(s)s,"ms":%(M)s}'


def post_worker_init(worker: object) -> None:
    """Once the worker has built the app, move everything alive then (imported modules, the
    app, the flow, geothai's tables) out of the garbage collector's way. A full collection then
    scans what requests create, not those: otherwise it pauses some caller's step now and then
    (docs/operations.md has the pause measured)."""
    import gc

    gc.collect()
    gc.freeze()
