"""Ingest: input files → clean, typed Parquet, with every rejected row quarantined beside it."""

import time

import dagster as dg

from spin_reel_assets.cleaning.inputs import InputError, read_links, read_movielens_movies, read_ratings
from spin_reel_assets.cleaning.movies import MovieLensIndex, clean_tmdb, movies_from_movielens, read_tmdb
from spin_reel_assets.cleaning.ratings import clean_ratings as clean_rating_rows
from spin_reel_assets.cleaning.ratings import movie_key_map
from spin_reel_assets.conditions import EAGER, OWNERS, priority
from spin_reel_assets.metadata import cleaning_metadata
from spin_reel_assets.resources import InputFilesResource

from .checks import MOVIES_SOUND, RATINGS_SOUND, blocked, movies_check, ratings_check
from .input_files import file_key

INGEST = {"group_name": "ingest", "owners": OWNERS, "tags": {"stage": "ingest"}, "automation_condition": EAGER}


def _key_map(input_files: InputFilesResource):
    links = input_files.path("links")
    return movie_key_map(read_links(links)) if links else None


def _unreadable(error: InputError) -> dg.Failure:
    """A file that cannot be read at all: the run's only error is the one line naming the file and what is wrong."""
    return dg.Failure(description=str(error))


@dg.asset(
    deps=[file_key("ratings"), file_key("links")],
    **INGEST,
    kinds={"parquet", "pyarrow"},
    code_version="3",
    check_specs=[RATINGS_SOUND],
    io_manager_key="parquet_io_manager",
    op_tags=priority("clean_ratings"),
)
def clean_ratings(context: dg.AssetExecutionContext, input_files: InputFilesResource):
    """Typed ratings keyed by tmdb_id.

    Ratings with missing or non-numeric fields, outside 0.5–5 or off the half-star scale, or of movies without a
    TMDB id are quarantined with their line and reason (``clean_ratings.quarantine.parquet``); when one TMDB id
    has two MovieLens ids, the user's latest rating is kept. Without links.csv the MovieLens movieId is the key.
    """
    path = input_files.path("ratings")
    if path is None:
        raise dg.Failure(f"no ratings file in {input_files.data_dir} (ratings.csv, ratings.dat or u.data)")
    started = time.perf_counter()
    try:
        raw = read_ratings(path)
        key_map = _key_map(input_files)
    except InputError as error:
        raise _unreadable(error) from None
    cleaned = clean_rating_rows(raw, key_map)
    cleaned.source = str(path)
    rows_in = raw.table.num_rows + len(raw.bad_lines)
    metadata = cleaning_metadata(cleaned, rows_in, time.perf_counter() - started)
    metadata["movie_key"] = "tmdb_id via links.csv" if key_map is not None else "MovieLens movieId (no links file)"
    metadata["users"] = dg.MetadataValue.int(len(cleaned.table.column("user_id").unique()))
    check = ratings_check(cleaned, rows_in)
    if not check.passed:
        yield check
        raise blocked(check, cleaned.source, metadata)
    yield dg.MaterializeResult(value=cleaned, metadata=metadata, check_results=[check])


@dg.asset(
    deps=[file_key("tmdb"), file_key("movies"), file_key("links")],
    **INGEST,
    kinds={"parquet", "pyarrow"},
    code_version="2",
    check_specs=[MOVIES_SOUND],
    io_manager_key="parquet_io_manager",
    op_tags=priority("clean_movies"),
)
def clean_movies(context: dg.AssetExecutionContext, input_files: InputFilesResource):
    """Typed movie metadata, one row per tmdb_id, with the MovieLens title and movieIds attached.

    Genres, keywords, companies, countries and languages become lists; release_date a date; zero budget, revenue
    and runtime unknown; adult titles are excluded and duplicate ids keep the most-voted row (both quarantined);
    truncated or malformed CSV records are quarantined, not fatal. Without a TMDB file, the MovieLens titles and
    genres are the metadata.
    """
    started = time.perf_counter()
    movies_path, tmdb_path = input_files.path("movies"), input_files.path("tmdb")
    try:
        key_map = _key_map(input_files)
        movielens = MovieLensIndex(read_movielens_movies(movies_path) if movies_path else None, key_map)
        raw = read_tmdb(tmdb_path) if tmdb_path is not None else None
    except InputError as error:
        raise _unreadable(error) from None
    if raw is not None:
        cleaned = clean_tmdb(raw, movielens)
        cleaned.source = str(tmdb_path)
        rows_in = raw.table.num_rows + len(raw.bad_lines)
    elif movies_path is not None:
        cleaned = movies_from_movielens(movielens)
        cleaned.source = str(movies_path)
        rows_in = cleaned.table.num_rows
    else:
        raise dg.Failure(f"no movie metadata in {input_files.data_dir}: need a TMDB file or a MovieLens movies file")
    metadata = cleaning_metadata(
        cleaned, rows_in, time.perf_counter() - started, ["tmdb_id", "title", "year", "genres", "vote_count"]
    )
    metadata["with_movielens_id"] = dg.MetadataValue.int(
        int(sum(1 for ids in cleaned.table.column("movielens_ids").to_pylist() if ids))
    )
    check = movies_check(cleaned, rows_in)
    if not check.passed:
        yield check
        raise blocked(check, cleaned.source, metadata)
    yield dg.MaterializeResult(value=cleaned, metadata=metadata, check_results=[check])
