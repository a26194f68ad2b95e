"""Resource bindings from the environment: the one place that names the SPIN_REEL_* variables.

A variable that is set is bound as ``EnvVar`` (resolved at run time, never shown in the UI); one that is not set
falls back to the embedded default (bundled sample, local PostgreSQL, the local Mongo-compatible server).
"""

from __future__ import annotations

import os

import dagster as dg

from spin_reel_assets.io_managers.model_files import AlsFactorsIOManager, FaissIndexIOManager, SparkModelIOManager
from spin_reel_assets.io_managers.mongo import MongoCollectionIOManager
from spin_reel_assets.io_managers.parquet import ParquetBundleIOManager, ParquetIOManagerFactory
from spin_reel_assets.io_managers.postgres import PostgresTableIOManager
from spin_reel_assets.resources import (
    BUNDLED_SAMPLE,
    ArtifactsResource,
    InputFilesResource,
    MongoResource,
    PostgresResource,
    SparkResource,
    spark_config_from_env,
)
from spin_reel_assets.schema import DEFAULT_ARTIFACTS_DIR, DEFAULT_MONGO_DB, DEFAULT_MONGO_URI, DEFAULT_POSTGRES_URL

DEFAULTS = {
    "SPIN_REEL_POSTGRES_URL": DEFAULT_POSTGRES_URL,
    "SPIN_REEL_MONGO_URI": DEFAULT_MONGO_URI,
    "SPIN_REEL_MONGO_DB": DEFAULT_MONGO_DB,
    "SPIN_REEL_DATA_DIR": str(BUNDLED_SAMPLE),
    "SPIN_REEL_ARTIFACTS_DIR": DEFAULT_ARTIFACTS_DIR,
}
FILE_OVERRIDES = {
    "ratings_path": "SPIN_REEL_RATINGS_FILE",
    "movies_path": "SPIN_REEL_MOVIES_FILE",
    "links_path": "SPIN_REEL_LINKS_FILE",
    "tmdb_path": "SPIN_REEL_TMDB_FILE",
}


def setting(name: str):
    """``EnvVar(name)`` when the variable is set, else its embedded default."""
    return dg.EnvVar(name) if name in os.environ else DEFAULTS[name]


def build_resources() -> dict:
    """Resources bound to the environment (EnvVar where set, embedded defaults otherwise)."""
    overrides = {field: dg.EnvVar(var) for field, var in FILE_OVERRIDES.items() if var in os.environ}
    return bind_resources(
        postgres_url=setting("SPIN_REEL_POSTGRES_URL"),
        mongo_uri=setting("SPIN_REEL_MONGO_URI"),
        mongo_db=setting("SPIN_REEL_MONGO_DB"),
        data_dir=setting("SPIN_REEL_DATA_DIR"),
        artifacts_dir=setting("SPIN_REEL_ARTIFACTS_DIR"),
        spark_config=spark_config_from_env(),
        file_overrides=overrides,
    )


def bind_resources(postgres_url, mongo_uri, mongo_db, data_dir, artifacts_dir, spark_config: dict,
                   file_overrides: dict | None = None) -> dict:
    """Every resource and IO manager of the code location, for the given settings."""
    postgres = PostgresResource(url=postgres_url)
    mongo = MongoResource(uri=mongo_uri, database=mongo_db)
    # Lazy: a JVM starts only in the steps that use Spark (the two ALS fits), after the one-line preflight checks.
    pyspark = SparkResource(spark_config=spark_config, artifacts_dir=artifacts_dir)
    return {
        "artifacts": ArtifactsResource(base_dir=artifacts_dir),
        "input_files": InputFilesResource(data_dir=data_dir, **(file_overrides or {})),
        "postgres": postgres,
        "mongo": mongo,
        "pyspark": pyspark,
        "parquet_io_manager": ParquetIOManagerFactory(base_path=artifacts_dir),
        "parquet_bundle_io_manager": ParquetBundleIOManager(base_path=artifacts_dir),
        "spark_model_io_manager": SparkModelIOManager(base_dir=artifacts_dir, pyspark=pyspark),
        "als_factors_io_manager": AlsFactorsIOManager(base_dir=artifacts_dir),
        "faiss_io_manager": FaissIndexIOManager(base_dir=artifacts_dir),
        "postgres_io_manager": PostgresTableIOManager(postgres=postgres),
        "mongo_io_manager": MongoCollectionIOManager(mongo=mongo),
    }
