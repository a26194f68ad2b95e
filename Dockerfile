# One image for every service of docker-compose.yml: the Dagster code server (user_code), dagster-webserver,
# dagster-daemon and the Flask app (web); each service gives its own command.
#
#   docker compose build && docker compose up -d        (settings: cp .env.example .env, then edit .env)

# --- build: the project as a wheel (non-editable; package data such as templates/static included) -------------
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# README*/LICENSE* are globs so that the build does not depend on either file being present.
COPY pyproject.toml README* LICENSE* ./
COPY spin_reel_assets ./spin_reel_assets
COPY spin_reel_web ./spin_reel_web
RUN pip wheel --no-deps --wheel-dir /wheels .

# --- runtime ---------------------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Java for Spark, the PostgreSQL JDBC driver (/usr/share/java/postgresql.jar, the default SPIN_REEL_JDBC_JAR), and
# OpenBLAS, which Spark ALS picks up as native BLAS (libblas.so.3): twice as fast as its Java fallback here.
# The man1 directory: the JRE's postinst writes there and slim images remove it.
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless libpostgresql-jdbc-java libopenblas0-pthread \
 && rm -rf /var/lib/apt/lists/*

# Dependencies first, from pyproject.toml alone, so that a code change does not reinstall them (no test extras),
# pinned by constraints.txt: the image ships the set the test suite ran against.
COPY pyproject.toml constraints.txt /tmp/
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install -c /tmp/constraints.txt -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt /tmp/pyproject.toml /tmp/constraints.txt

COPY --from=build /wheels /tmp/wheels
RUN pip install --no-deps /tmp/wheels/*.whl && rm -rf /tmp/wheels

# Non-root user owning the Dagster home and the artifacts directory (a fresh named volume mounted on either path
# takes this ownership).
RUN groupadd --system --gid 10001 spinreel \
 && useradd --system --uid 10001 --gid spinreel --create-home --home-dir /home/spinreel spinreel \
 && mkdir -p /opt/dagster/home/storage /opt/dagster/artifacts /opt/dagster/app \
 && chown -R spinreel:spinreel /opt/dagster/home /opt/dagster/artifacts

# The working directory holds no Python source (the code is imported from the installed wheel): the bundled
# sample data, the deploy configuration and gunicorn's settings file.
WORKDIR /opt/dagster/app
COPY data/sample ./data/sample
COPY deploy/workspace.yaml deploy/dagster.yaml ./deploy/
COPY spin_reel_web/gunicorn.conf.py ./gunicorn.conf.py
COPY --chown=spinreel:spinreel deploy/dagster.yaml /opt/dagster/home/dagster.yaml

# DAGSTER_HOME holds dagster.yaml (PostgreSQL storage through the DAGSTER_POSTGRES_* variables).
# SPIN_REEL_DATA_DIR: the package's own default points next to the source tree, which a wheel install does not
# have; the bundled sample is here instead (docker-compose.yml shows how to mount a full data set).
# SPARK_LOCAL_IP: the driver of local[*] Spark binds to loopback; with SPARK_MASTER=spark://host:7077 set it to
# an address the executors can reach.
ENV DAGSTER_HOME=/opt/dagster/home \
    SPIN_REEL_DATA_DIR=/opt/dagster/app/data/sample \
    SPIN_REEL_ARTIFACTS_DIR=/opt/dagster/artifacts \
    SPARK_LOCAL_IP=127.0.0.1 \
    PYSPARK_PYTHON=/usr/local/bin/python \
    PYSPARK_DRIVER_PYTHON=/usr/local/bin/python \
    HOME=/home/spinreel

USER spinreel

EXPOSE 3000 4000 5000

# Default: the Flask app. docker-compose.yml overrides the command for the Dagster services.
CMD ["gunicorn", "-c", "/opt/dagster/app/gunicorn.conf.py", "spin_reel_web:create_app()"]
