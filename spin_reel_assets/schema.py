"""Column names, store layouts and defaults shared by the pipeline and the web app.

Plain constants only: importing this module imports neither Dagster nor any database driver,
so ``spin_reel_web`` can use it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# --- canonical keys -------------------------------------------------------------------------
USER_ID = "user_id"
MOVIE_ID = "tmdb_id"  # the canonical movie key everywhere downstream of cleaning
RATING = "rating"
RATED_AT = "rated_at"

# --- rating scale ---------------------------------------------------------------------------
RATING_MIN = 0.5
RATING_MAX = 5.0

# --- quarantine -----------------------------------------------------------------------------
QUARANTINE_COLUMNS = ("line", "field", "reason", "raw")

# --- defaults ---------------------------------------------------------------------------------
DEFAULT_TOP_N = 20
# Per user, the ALS candidates scored exactly (content brings as many): the re-ranking pool of the hybrid.
DEFAULT_CANDIDATES = 200
# Per movie, the content (and ALS) neighbours re-ranked for its similar list, in the pipeline and the web app.
DEFAULT_SIMILAR_CANDIDATES = 100
DEFAULT_SEED = 42
# The embedded stores (see devtools/devstores.py): the pipeline's settings and the web app's config both fall back to these.
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/spin_reel"
DEFAULT_MONGO_URI = "mongodb://127.0.0.1:27018"
DEFAULT_MONGO_DB = "spin_reel"
DEFAULT_JDBC_JAR = "/usr/share/java/postgresql.jar"
DEFAULT_ARTIFACTS_DIR = "./artifacts"

# TMDB list fields: comma-separated names in the CSV, arrays in every store.
TMDB_LIST_FIELDS = ("genres", "keywords", "production_companies", "production_countries", "spoken_languages")


@dataclass(frozen=True)
class TableSpec:
    """A PostgreSQL table the pipeline owns: columns in COPY order, primary key and secondary indexes."""

    name: str
    columns: tuple[tuple[str, str], ...]
    primary_key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


RATINGS_TABLE = TableSpec(
    name="ratings",
    columns=((USER_ID, "integer NOT NULL"), (MOVIE_ID, "integer NOT NULL"), (RATING, "real NOT NULL"), (RATED_AT, "timestamptz NOT NULL")),
    primary_key=(USER_ID, MOVIE_ID),
    indexes=((MOVIE_ID,),),
)

# Movie facts the PostgreSQL views of the web app join against (genres a real text[], never a repr string).
MOVIES_TABLE = TableSpec(
    name="movies",
    columns=((MOVIE_ID, "integer NOT NULL"), ("title", "text NOT NULL"), ("year", "integer"), ("genres", "text[] NOT NULL"), ("runtime", "integer")),
    primary_key=(MOVIE_ID,),
)

TABLES = {spec.name: spec for spec in (RATINGS_TABLE, MOVIES_TABLE)}


@dataclass(frozen=True)
class CollectionSpec:
    """A MongoDB collection the pipeline owns and the indexes the web app queries by."""

    name: str
    indexes: tuple[tuple[tuple[str, int], ...], ...] = field(default=())


# Documents: _id = tmdb_id, title, title_lower (see normalize_title), original_title, year, release_date (date),
# genres/keywords/production_companies/production_countries/spoken_languages (arrays), overview, tagline, runtime,
# vote_average, vote_count, popularity, poster_path, backdrop_path, imdb_id, original_language, budget, revenue,
# status, homepage, movielens_title, movielens_ids (array).
MOVIES_COLLECTION = CollectionSpec(
    name="movies",
    indexes=(
        # Only what the web app queries: every index costs write time (most of it, on the embedded server).
        (("title_lower", 1),),  # title lookup and prefix search as a key range (no $text: SecantusDB has none)
        (("popularity", -1), ("_id", 1)),  # the popular list, in its exact sort order
    ),
)

COLLECTIONS = {spec.name: spec for spec in (MOVIES_COLLECTION,)}

# --- serving artifacts (under the artifacts directory) ----------------------------------------
USER_RECOMMENDATIONS_PATH = "hybrid/user_recommendations.parquet"
SIMILAR_MOVIES_PATH = "hybrid/similar_movies.parquet"
ITEM_EMBEDDINGS_PATH = "hybrid/item_embeddings.parquet"
HYBRID_MANIFEST_PATH = "hybrid/manifest.json"

USER_RECOMMENDATION_COLUMNS = (USER_ID, "rank", MOVIE_ID, "score", "als_score", "content_score", "because_tmdb_id")
SIMILAR_MOVIE_COLUMNS = (MOVIE_ID, "rank", "similar_tmdb_id", "score", "content_score", "als_score")
