"""gunicorn settings: gunicorn -c spin_reel_web/gunicorn.conf.py 'spin_reel_web:create_app()'

Threaded workers keep HTTP connections alive and overlap the short waits on MongoDB and PostgreSQL; one worker
per core runs the Python code itself. Every worker maps the same memory-mapped serving form of the artifacts
(spin_reel_web/serving_form.py), so their pages are shared through the page cache.
"""

import os

bind = os.environ.get("SPIN_REEL_WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SPIN_REEL_WEB_WORKERS", os.cpu_count() or 2))
# gthread whose own 400/414/431/500 responses carry the app's security headers (see the module).
worker_class = "spin_reel_web.gunicorn_worker.SecureHeadersThreadWorker"
threads = int(os.environ.get("SPIN_REEL_WEB_THREADS", "4"))
keepalive = 5
timeout = 30
graceful_timeout = 10
# What gunicorn refuses before the app sees the request: a request line (so a URL) over 4094 bytes is a 414,
# more than 50 header fields or one over 8190 bytes a 431. The longest URL the app takes (/discover with 50 liked
# ids and a 100-character query of percent-encoded 4-byte characters) is about 2,100 bytes.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
accesslog = os.environ.get("SPIN_REEL_WEB_ACCESS_LOG")  # e.g. "-" for stdout; off by default
loglevel = os.environ.get("SPIN_REEL_WEB_LOG_LEVEL", "info")


def post_worker_init(worker):
    # One PostgreSQL connection per thread of this worker: a request never waits for one (the pool opens lazily,
    # after this).
    worker.wsgi.config["POSTGRES_POOL_SIZE"] = worker.cfg.threads
