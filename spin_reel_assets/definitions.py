"""The Dagster code location: every asset, check, sensor and resource of Spin The Reel.

Local and production differ only in the environment the resources read (see README: Configuration).
"""

from __future__ import annotations

import dagster as dg

from spin_reel_assets.assets.ingest import clean_movies, clean_ratings
from spin_reel_assets.assets.sources import INPUT_FILES
from spin_reel_assets.assets.models import als_model, faiss_index
from spin_reel_assets.assets.serving import hybrid_recommendations, recommendation_quality
from spin_reel_assets.assets.stores import movies_collection, movies_table, ratings_table
from spin_reel_assets.automation import automation_sensor, input_files_sensor, observe_inputs_job
from spin_reel_assets.checks import clean_movies_are_sound, clean_ratings_are_sound, hybrid_structure
from spin_reel_assets.settings import build_resources

ASSETS = [
    *INPUT_FILES,
    clean_ratings,
    clean_movies,
    ratings_table,
    movies_table,
    movies_collection,
    als_model,
    faiss_index,
    hybrid_recommendations,
    recommendation_quality,
]

defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=[clean_ratings_are_sound, clean_movies_are_sound, hybrid_structure],
    jobs=[observe_inputs_job],
    sensors=[input_files_sensor, automation_sensor],
    resources=build_resources(),
)
