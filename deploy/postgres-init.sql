-- Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d), as POSTGRES_USER:
-- POSTGRES_DB (the Dagster storage database) already exists; this adds the pipeline's database, the one
-- SPIN_REEL_POSTGRES_URL names in docker-compose.yml.
CREATE DATABASE spin_reel;
