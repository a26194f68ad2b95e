#!/usr/bin/env bash
# Serve the Dagster UI (127.0.0.1:3000) and the Flask app (127.0.0.1:5000) until Ctrl-C, then stop every child.
set -uo pipefail
VENV=${VENV:-.venv}
children=()
stop() {
  trap - INT TERM
  echo; echo "stopping..."
  for pid in "${children[@]}"; do kill -INT "$pid" 2>/dev/null; done
  for pid in "${children[@]}"; do wait "$pid" 2>/dev/null; done
  "$VENV/bin/python" -m spin_reel_assets.devtools.devstores stop
  exit 0
}
trap stop INT TERM
# dg dev started from a script ignores SIGTERM; with SIGINT restored it shuts down cleanly.
VIRTUAL_ENV="$PWD/$VENV" env --default-signal=INT "$VENV/bin/dg" dev -h 127.0.0.1 -p 3000 &
children+=($!)
SPIN_REEL_WEB_BIND=127.0.0.1:5000 "$VENV/bin/gunicorn" -c spin_reel_web/gunicorn.conf.py 'spin_reel_web:create_app()' &
children+=($!)
echo "Dagster UI: http://127.0.0.1:3000   Flask app: http://127.0.0.1:5000   (Ctrl-C stops both)"
wait
