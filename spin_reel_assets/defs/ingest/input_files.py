"""The input files as assets: one observable source whose DataVersion for each file is a hash of its content.

A changed file makes exactly its dependents stale; rewriting a file with identical content changes nothing.
"""

import hashlib
import warnings

import dagster as dg

from spin_reel_assets.cleaning.inputs import CANDIDATES
from spin_reel_assets.resources import InputFilesResource

ABSENT = "absent"

DESCRIPTIONS = {
    "ratings": "MovieLens ratings (ratings.csv, ratings.dat or u.data).",
    "movies": "MovieLens movies (movies.csv, movies.dat or u.item): titles and genres.",
    "links": "MovieLens links.csv: movieId → tmdbId, the canonical movie key.",
    "tmdb": "TMDB movie metadata in the Kaggle TMDB_movie_dataset_v11.csv layout.",
}


def file_key(kind: str) -> dg.AssetKey:
    return dg.AssetKey(f"{kind}_file")


def content_version(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:24]


# Observable sources are Dagster's documented way to version external files; the multi-asset form is marked beta.
# The warning is silenced for this one definition only, not for the process.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)

    @dg.multi_observable_source_asset(
        specs=[dg.AssetSpec(file_key(kind), description=DESCRIPTIONS[kind], group_name="ingest", kinds={"csv"})
               for kind in CANDIDATES],
        name="input_files",
        description="Observes every input file: its DataVersion is the sha256 of its content ('absent' without one).",
    )
    def input_files(context: dg.AssetExecutionContext, input_files: InputFilesResource):
        for kind in CANDIDATES:
            path = input_files.path(kind)
            if path is None:
                context.log.info(f"no {kind} file in {input_files.data_dir}")
                yield dg.ObserveResult(asset_key=file_key(kind), data_version=dg.DataVersion(ABSENT))
                continue
            yield dg.ObserveResult(asset_key=file_key(kind), data_version=dg.DataVersion(content_version(path)),
                                   metadata={"path": str(path), "bytes": dg.MetadataValue.int(path.stat().st_size)})
