"""The web process stays light: importing spin_reel_web and creating the app imports no Dagster, Spark or FAISS
(checked in a fresh interpreter, where nothing else imported them first)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


REPO = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
import spin_reel_web
spin_reel_web.create_app({"SECRET_KEY": "probe", "ARTIFACTS_DIR": "/nonexistent"})
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def imported_by_the_web_app() -> set[str]:
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=True, timeout=120)
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_the_web_app_imports_no_dagster_spark_or_faiss():
    imported = imported_by_the_web_app()
    assert {"flask", "psycopg", "psycopg_pool", "pymongo"} <= imported  # the probe saw the app's own imports
    assert not {"dagster", "pyspark", "faiss"} & imported
