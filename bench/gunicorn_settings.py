"""gunicorn settings both benchmark servers share: the production workers' start-up hook
(config/gunicorn.py); workers, threads and logging come from the bench's own flags."""

from config.gunicorn import post_worker_init

__all__ = ["post_worker_init"]
