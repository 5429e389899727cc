"""Work outside a request: job dispatch, the worker process, citizen notifications, recordings."""
