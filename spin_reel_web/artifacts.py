"""The hybrid recommender's Parquet artifacts, held in memory and reloaded when the files change on disk."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from spin_reel_assets.schema import (
    HYBRID_MANIFEST_PATH,
    ITEM_EMBEDDINGS_PATH,
    MOVIE_ID,
    SIMILAR_MOVIES_PATH,
    USER_ID,
    USER_RECOMMENDATIONS_PATH,
)

log = logging.getLogger(__name__)

ARTIFACT_PATHS = (USER_RECOMMENDATIONS_PATH, SIMILAR_MOVIES_PATH, ITEM_EMBEDDINGS_PATH, HYBRID_MANIFEST_PATH)
MISSING_ID = -1  # stands for a null id in the in-memory int64 columns


class RankedLists:
    """Ranked rows grouped by a key (a user, or a movie): ``get(key, n)`` returns the first n as plain dicts.

    Columns are numpy arrays sorted by (key, rank); ``bounds`` maps each key to its slice, so a lookup is
    a dict access plus a few ``tolist()`` calls on short slices."""

    def __init__(self, keys: np.ndarray, columns: dict[str, np.ndarray]):
        order = np.lexsort((columns["rank"], keys))
        keys = keys[order]
        self.columns = {name: values[order] for name, values in columns.items()}
        self.keys, starts = np.unique(keys, return_index=True)
        stops = np.append(starts[1:], len(keys))
        self.bounds = dict(zip(self.keys.tolist(), zip(starts.tolist(), stops.tolist())))

    def __contains__(self, key: int) -> bool:
        return key in self.bounds

    def __len__(self) -> int:
        return len(self.bounds)

    def get(self, key: int, n: int) -> list[dict] | None:
        bounds = self.bounds.get(key)
        if bounds is None:
            return None
        start, stop = bounds[0], min(bounds[1], bounds[0] + n)
        values = {name: _plain(column[start:stop]) for name, column in self.columns.items()}
        return [dict(zip(values, row)) for row in zip(*values.values())]

    def nearest_keys(self, key: int, count: int) -> list[int]:
        """Existing keys closest to ``key`` (for "did you mean" suggestions)."""
        at = int(np.searchsorted(self.keys, key))
        window = self.keys[max(0, at - count) : at + count].tolist()
        return sorted(window, key=lambda candidate: (abs(candidate - key), candidate))[:count]


def _plain(values: np.ndarray) -> list:
    """Python values for JSON and templates: NaN and MISSING_ID become None."""
    if values.dtype.kind == "f":
        return [None if value != value else value for value in values.tolist()]
    return [None if value == MISSING_ID else value for value in values.tolist()]


@dataclass(frozen=True)
class ItemEmbeddings:
    """Rows of item_embeddings.parquet: the item index space of the cold-start recommender."""

    tmdb_ids: np.ndarray  # int64, row -> tmdb_id
    row_of: dict[int, int]  # tmdb_id -> row
    content: np.ndarray  # float32 (n_items x d), L2-normalized
    als: np.ndarray  # float32 (n_items x r), NaN rows for movies without ALS factors


@dataclass(frozen=True)
class HybridArtifacts:
    user_recommendations: RankedLists
    similar_movies: RankedLists
    embeddings: ItemEmbeddings
    weight: float  # ALS share of the blend
    top_n: int
    created_at: datetime | None
    loaded_at: float  # epoch seconds


def _float_column(table: pa.Table, name: str) -> np.ndarray:
    """Rounded float64 so that JSON shows 0.9, not float32's 0.8999999761581421; nulls become NaN."""
    values = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
    return np.round(values, 6)


def _id_column(table: pa.Table, name: str) -> np.ndarray:
    return pc.fill_null(table.column(name), MISSING_ID).to_numpy().astype(np.int64)


def content_share(content: np.ndarray, als: np.ndarray, weight: float) -> np.ndarray:
    """Share of a similar movie's support that comes from content (0..1), NaN when neither signal supports it.

    Both signals of a similar-movies row are cosines (content vectors; unit ALS item factors), so they weigh
    against each other directly: (1 - w)·max(content, 0) versus w·max(ALS, 0), a missing ALS score counting 0."""
    content_part = (1.0 - weight) * np.maximum(content, 0)
    als_part = weight * np.maximum(np.nan_to_num(als), 0)
    total = content_part + als_part
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.round(np.where(total > 0, content_part / total, np.nan), 4)


def _ranked_lists(table: pa.Table, key: str, item: str, extra: dict[str, np.ndarray]) -> RankedLists:
    columns = {
        "rank": table.column("rank").to_numpy().astype(np.int64),
        "tmdb_id": _id_column(table, item),
        "score": _float_column(table, "score"),
        "content_score": _float_column(table, "content_score"),
        "als_score": _float_column(table, "als_score"),
    }
    return RankedLists(table.column(key).to_numpy().astype(np.int64), columns | extra)


def _user_recommendations(table: pa.Table) -> RankedLists:
    return _ranked_lists(table, USER_ID, MOVIE_ID, {"because_tmdb_id": _id_column(table, "because_tmdb_id")})


def _similar_movies(table: pa.Table, weight: float) -> RankedLists:
    share = content_share(_float_column(table, "content_score"), _float_column(table, "als_score"), weight)
    return _ranked_lists(table, MOVIE_ID, "similar_tmdb_id", {"content_share": share})


def _matrix(column: pa.ChunkedArray) -> np.ndarray:
    """A list<float> column as an (n x d) float32 matrix; null lists become NaN rows."""
    lists = column.combine_chunks()
    valid = ~lists.is_null().to_numpy(zero_copy_only=False)
    lengths = set(pc.list_value_length(lists).drop_null().to_pylist())
    if len(lengths) > 1:
        raise ValueError(f"vectors of different lengths {sorted(lengths)}")
    matrix = np.full((len(lists), lengths.pop() if lengths else 0), np.nan, dtype=np.float32)
    matrix[valid] = lists.flatten().to_numpy(zero_copy_only=False).reshape(int(valid.sum()), -1)
    return matrix


def _embeddings(table: pa.Table) -> ItemEmbeddings:
    tmdb_ids = table.column(MOVIE_ID).to_numpy().astype(np.int64)
    return ItemEmbeddings(
        tmdb_ids=tmdb_ids,
        row_of={tmdb_id: row for row, tmdb_id in enumerate(tmdb_ids.tolist())},
        content=_matrix(table.column("content")),
        als=_matrix(table.column("als")),
    )


def load_artifacts(directory: Path) -> HybridArtifacts:
    manifest = json.loads((directory / HYBRID_MANIFEST_PATH).read_text())
    weight = float(manifest["weight"])
    created_at = manifest.get("created_at")
    return HybridArtifacts(
        user_recommendations=_user_recommendations(pq.read_table(directory / USER_RECOMMENDATIONS_PATH)),
        similar_movies=_similar_movies(pq.read_table(directory / SIMILAR_MOVIES_PATH), weight),
        embeddings=_embeddings(pq.read_table(directory / ITEM_EMBEDDINGS_PATH)),
        weight=weight,
        top_n=int(manifest["top_n"]),
        created_at=datetime.fromisoformat(created_at) if created_at else None,
        loaded_at=time.time(),
    )


class ArtifactStore:
    """The current artifacts of one process, reloaded when a file's mtime or size changes.

    The files are stat-ed at most once per ``check_seconds``, by one thread while the others keep serving
    the previous snapshot. A failed load (e.g. files half-written) keeps the previous snapshot and is retried."""

    def __init__(self, directory: str | Path, check_seconds: float = 1.0):
        self.directory = Path(directory)
        self._check_seconds = check_seconds
        self._lock = threading.Lock()
        self._next_check = 0.0
        self._snapshot: HybridArtifacts | None = None
        self._signature: tuple | None = None

    def current(self) -> HybridArtifacts | None:
        # Before the first load every thread waits for it; afterwards nobody waits for a reload.
        if time.monotonic() >= self._next_check and self._lock.acquire(blocking=self._snapshot is None):
            try:
                if time.monotonic() >= self._next_check:
                    self._refresh()
                    self._next_check = time.monotonic() + self._check_seconds
            finally:
                self._lock.release()
        return self._snapshot

    def _files_signature(self) -> tuple | None:
        try:
            stats = [(self.directory / path).stat() for path in ARTIFACT_PATHS]
        except FileNotFoundError:
            return None
        return tuple((stat.st_mtime_ns, stat.st_size) for stat in stats)

    def _refresh(self) -> None:
        signature = self._files_signature()
        if signature is None or signature == self._signature:
            return
        try:
            snapshot = load_artifacts(self.directory)
        except (OSError, ValueError, KeyError, pa.ArrowException) as error:
            log.warning("could not load the artifacts in %s (%s): keeping the previous ones", self.directory, error)
            return
        self._snapshot, self._signature = snapshot, signature
        log.info(
            "loaded artifacts from %s: %d users, %d movies with similar lists, %d embedded items",
            self.directory, len(snapshot.user_recommendations), len(snapshot.similar_movies), len(snapshot.embeddings.tmdb_ids),
        )
