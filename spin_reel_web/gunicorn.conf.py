"""gunicorn settings: gunicorn -c spin_reel_web/gunicorn.conf.py 'spin_reel_web:create_app()'

Threaded workers keep HTTP connections alive and overlap the short waits on MongoDB and PostgreSQL; one worker
per core runs the Python code itself. Each worker loads its own copy of the artifacts on its first request.
"""

import os

bind = os.environ.get("SPIN_REEL_WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SPIN_REEL_WEB_WORKERS", os.cpu_count() or 2))
worker_class = "gthread"
threads = int(os.environ.get("SPIN_REEL_WEB_THREADS", "4"))
keepalive = 5
timeout = 30
graceful_timeout = 10
accesslog = os.environ.get("SPIN_REEL_WEB_ACCESS_LOG")  # e.g. "-" for stdout; off by default
loglevel = os.environ.get("SPIN_REEL_WEB_LOG_LEVEL", "info")
