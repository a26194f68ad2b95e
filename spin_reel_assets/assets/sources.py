"""Observable source assets for the input files: their DataVersion is a hash of the file content.

A changed file makes exactly its dependents stale; rewriting a file with identical content changes nothing.
"""


import hashlib
import warnings

import dagster as dg

from spin_reel_assets.resources import InputFilesResource

ABSENT = "absent"

# Observable source assets are the documented way to version external files; the API is marked beta.
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*observable_source_asset.*")


def content_version(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:24]


def _input_file_source(kind: str, description: str) -> dg.SourceAsset:
    @dg.observable_source_asset(name=f"{kind}_file", group_name="ingest", description=description)
    def observe(context: dg.AssetExecutionContext, input_files: InputFilesResource) -> dg.DataVersion:
        path = input_files.path(kind)
        if path is None:
            context.log.info(f"no {kind} file in {input_files.data_dir}")
            return dg.DataVersion(ABSENT)
        context.log.info(f"observed {path}")
        return dg.DataVersion(content_version(path))

    return observe


ratings_file = _input_file_source("ratings", "MovieLens ratings (ratings.csv, ratings.dat or u.data).")
movies_file = _input_file_source("movies", "MovieLens movies (movies.csv, movies.dat or u.item): titles and genres.")
links_file = _input_file_source("links", "MovieLens links.csv: movieId → tmdbId, the canonical movie key.")
tmdb_file = _input_file_source("tmdb", "TMDB movie metadata in the Kaggle TMDB_movie_dataset_v11.csv layout.")

INPUT_FILES = [ratings_file, movies_file, links_file, tmdb_file]
