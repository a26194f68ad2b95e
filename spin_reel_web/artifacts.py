"""The hybrid recommender's artifacts as this process serves them: a memory-mapped serving form (see
``serving_form``) behind lookups by binary search, switched to a new version when the published files change.

Nothing per row is a Python object: a snapshot is a few numpy views of mapped files, so a worker starts in
milliseconds once the serving form exists, and every worker shares its pages through the OS page cache.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from spin_reel_assets.schema import DEFAULT_SIMILAR_CANDIDATES

from . import serving_form
from .cold_start import ItemVectors
from .ivf import InvertedIndex, NormOrdered
from .serving_form import MISSING_ID, InconsistentArtifacts

log = logging.getLogger(__name__)

FAILED_RETRY_SECONDS = 60.0  # a version that failed to build is tried again after this long
# With a cache folder of its own, how long a serving process waits for the pipeline's serving_form asset to publish
# a new version beside the artifacts before building it itself (the asset takes seconds to a minute at 1M movies).
PUBLISH_WAIT_SECONDS = 120.0


class RankedLists:
    """Ranked rows grouped by a key (a user, or a movie): ``get(key, n)`` returns the first n as plain dicts.

    ``keys`` is sorted and ``stops[i]`` ends key i's rows (which start at ``stops[i - 1]``) in the columns; a
    lookup is a binary search plus a few ``tolist()`` calls on short slices. With ``share_weight``, rows also
    carry ``content_share`` (see ``content_share``)."""

    def __init__(self, keys: np.ndarray, stops: np.ndarray, columns: dict[str, np.ndarray],
                 share_weight: float | None = None):
        self.keys = keys
        self.stops = stops
        self.columns = columns
        self.share_weight = share_weight

    @classmethod
    def from_rows(cls, keys: np.ndarray, columns: dict[str, np.ndarray], share_weight: float | None = None) -> RankedLists:
        rows, index = serving_form.group_rows(keys, np.asarray(columns["rank"]), {k: v for k, v in columns.items() if k != "rank"})
        return cls(index["key"], index["stop"], rows, share_weight)

    def _bounds(self, key: int) -> tuple[int, int] | None:
        at = int(np.searchsorted(self.keys, key))
        if at == len(self.keys) or self.keys[at] != key:
            return None
        return (int(self.stops[at - 1]) if at else 0), int(self.stops[at])

    def __contains__(self, key: int) -> bool:
        return self._bounds(key) is not None

    def __len__(self) -> int:
        return len(self.keys)

    def get(self, key: int, n: int) -> list[dict] | None:
        bounds = self._bounds(key)
        if bounds is None:
            return None
        start, stop = bounds[0], min(bounds[1], bounds[0] + n)
        return plain_rows({name: column[start:stop] for name, column in self.columns.items()}, self.share_weight)

    def nearest_keys(self, key: int, count: int) -> list[int]:
        """Existing keys closest to ``key`` (for "did you mean" suggestions)."""
        at = int(np.searchsorted(self.keys, key))
        window = self.keys[max(0, at - count) : at + count].tolist()
        return sorted(window, key=lambda candidate: (abs(candidate - key), candidate))[:count]


def plain_rows(columns: dict[str, np.ndarray], share_weight: float | None = None) -> list[dict]:
    """Rows of equal-length columns as plain dicts; with ``share_weight``, also ``content_share``."""
    if share_weight is not None:
        columns = {**columns, "content_share": content_share(_rounded(columns["content_score"]),
                                                             _rounded(columns["als_score"]), share_weight)}
    plain = {name: _plain(column) for name, column in columns.items()}
    return [dict(zip(plain, row)) for row in zip(*plain.values())]


def _rounded(values: np.ndarray) -> np.ndarray:
    """float64 rounded to 6 places, so that JSON shows 0.9, not float32's 0.8999999761581421."""
    return np.round(values.astype(np.float64), 6)


def _plain(values: np.ndarray) -> list:
    """Python values for JSON and templates: NaN and MISSING_ID become None."""
    if values.dtype.kind == "f":
        return [None if value != value else value for value in _rounded(values).tolist()]
    return [None if value == MISSING_ID else value for value in values.tolist()]


def content_share(content: np.ndarray, als: np.ndarray, weight: float) -> np.ndarray:
    """Share of a similar movie's support that comes from content (0..1), NaN when neither signal supports it.

    Both signals of a similar-movies row are cosines (content vectors; unit ALS item factors), so they weigh
    against each other directly: (1 - w)·max(content, 0) versus w·max(ALS, 0), a missing ALS score counting 0."""
    content_part = (1.0 - weight) * np.maximum(content, 0)
    als_part = weight * np.maximum(np.nan_to_num(als), 0)
    total = content_part + als_part
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.round(np.where(total > 0, content_part / total, np.nan), 4)


@dataclass(frozen=True)
class ItemCatalogue:
    """The items of item_embeddings (rows in file order) and their vectors."""

    tmdb_ids: np.ndarray  # row -> tmdb_id
    sorted_tmdb_ids: np.ndarray
    sorted_rows: np.ndarray  # row of each sorted_tmdb_ids entry
    vectors: ItemVectors

    def __len__(self) -> int:
        return len(self.tmdb_ids)

    def rows_of(self, tmdb_ids: list[int]) -> np.ndarray:
        """Row of each id, -1 for ids that are not items."""
        ids = np.asarray(tmdb_ids, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.sorted_tmdb_ids, ids), max(len(self.sorted_tmdb_ids) - 1, 0))
        if len(self.sorted_tmdb_ids) == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        return np.where(self.sorted_tmdb_ids[at] == ids, self.sorted_rows[at], -1)

    def __contains__(self, tmdb_id: int) -> bool:
        return bool(self.rows_of([tmdb_id])[0] >= 0)


@dataclass(frozen=True)
class HybridArtifacts:
    user_recommendations: RankedLists
    similar_movies: RankedLists
    items: ItemCatalogue
    weight: float  # ALS share of the blend
    top_n: int
    similar_candidates: int  # content neighbours re-ranked for a similar list (the pipeline's)
    created_at: datetime | None
    loaded_at: float  # epoch seconds
    version: str  # the serving form's folder name


def open_snapshot(folder: Path) -> HybridArtifacts:
    """Maps a serving-form folder; ValueError when it is incomplete or inconsistent."""
    tables, meta = serving_form.open_version(folder)
    try:
        weight = float(meta["weight"])
        users, users_keys, similar, similar_keys, items = (
            tables[name] for name in ("users", "users_keys", "similar", "similar_keys", "items"))
        for rows, keys in ((users, users_keys), (similar, similar_keys)):
            lengths = {len(column) for column in rows.values()}
            if len(lengths) != 1 or (len(keys["stop"]) and keys["stop"][-1] != lengths.pop()):
                raise ValueError("rows and per-key stops disagree")
        created_at = meta.get("created_at")
        snapshot = HybridArtifacts(
            user_recommendations=RankedLists(users_keys["key"], users_keys["stop"], users),
            similar_movies=RankedLists(similar_keys["key"], similar_keys["stop"], similar, share_weight=weight),
            items=ItemCatalogue(items["tmdb_id"], items["sorted_tmdb_id"], items["sorted_row"], ItemVectors(
                content=InvertedIndex(tables["content_cells"]["centroids"], tables["content_cells"]["stops"],
                                      tables["content"]["items"], tables["content"]["vectors"], items["content_position"]),
                als=NormOrdered(tables["als"]["items"], tables["als"]["norms"], tables["als"]["vectors"],
                                items["als_position"]),
            )),
            weight=weight,
            top_n=int(meta["top_n"]),
            similar_candidates=int(meta.get("similar_candidates", DEFAULT_SIMILAR_CANDIDATES)),
            created_at=datetime.fromisoformat(created_at) if created_at else None,
            loaded_at=time.time(),
            version=folder.name,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{folder}: not a consistent serving form ({error})") from None
    return snapshot


class ArtifactStore:
    """The current artifacts of one process, switched to the new version when the published files change.

    The files are stat-ed at most once per ``check_seconds`` by one request thread, the others keep serving.
    The first load makes requests wait for it; later, a version whose serving form must still be built is built
    in the background while requests keep the previous snapshot, and swapped in (one assignment) once mapped. A
    request holds one snapshot throughout (``recommendations.artifacts`` pins it), so it never mixes versions;
    an old snapshot's mapping goes away with the last reference to it. A broken, half-written or still-being-
    written version keeps the previous one served."""

    def __init__(self, directory: str | Path, check_seconds: float = 1.0, cache_dir: str | Path | None = None,
                 publish_wait_seconds: float = PUBLISH_WAIT_SECONDS):
        # A request multiplies small matrices (the cold start's scans): OpenBLAS's helper threads cost more than
        # they bring there, and spin on the cores the request threads and the other workers need.
        threadpool_limits(limits=1, user_api="blas")
        self.directory = Path(directory)
        self.published_dir = serving_form.default_cache_dir(self.directory)
        self.cache_dir = Path(cache_dir) if cache_dir else self.published_dir
        self._publish_wait = publish_wait_seconds if self.cache_dir != self.published_dir else 0.0
        self._check_seconds = check_seconds
        self._lock = threading.Lock()
        self._next_check = 0.0
        self._snapshot: HybridArtifacts | None = None
        self._signature: tuple | None = None
        self._failed: dict[tuple, float] = {}  # signature -> when it may be tried again
        self._reported: tuple | None = None
        self._builder: threading.Thread | None = None

    def current(self) -> HybridArtifacts | None:
        if time.monotonic() >= self._next_check and self._lock.acquire(blocking=self._snapshot is None):
            try:
                if time.monotonic() >= self._next_check:
                    self._refresh()
                    self._next_check = time.monotonic() + self._check_seconds
            finally:
                self._lock.release()
        return self._snapshot

    def _refresh(self) -> None:
        signature = serving_form.source_signature(self.directory)
        if signature is None or signature == self._signature or self._failed.get(signature, 0) > time.monotonic():
            return
        try:
            serving_form.check_consistent(signature)
        except InconsistentArtifacts as error:
            self._report(signature, error)
            return
        name = serving_form.version_name(signature)
        # The pipeline's serving_form asset builds it beside the artifacts; this process builds its own only
        # when that one is missing (artifacts written by another pipeline, or copied without it).
        folder = next((folder for folder in (self.published_dir / name, self.cache_dir / name)
                       if (folder / "meta.json").exists()), None)
        if folder is not None:
            self._load(signature, lambda: folder)
        elif self._snapshot is None:
            self._load(signature, lambda: serving_form.build_in_subprocess(self.directory, self.cache_dir))
        elif self._builder is None or not self._builder.is_alive():
            self._builder = threading.Thread(
                target=self._load, args=(signature, lambda: self._published_or_built(name)),
                name="serving-form-build", daemon=True)
            self._builder.start()

    def _published_or_built(self, name: str) -> Path:
        """The version the pipeline publishes within the wait, else one this process builds in its own cache.
        (Sharing the pipeline's folder, the file lock already makes the later of the two builders wait.)"""
        deadline = time.monotonic() + self._publish_wait
        while time.monotonic() < deadline:
            if (self.published_dir / name / "meta.json").exists():
                return self.published_dir / name
            time.sleep(min(1.0, self._publish_wait / 10))
        return serving_form.build_in_subprocess(self.directory, self.cache_dir)

    def _load(self, signature: tuple, folder_of) -> None:
        """Maps the version ``folder_of()`` returns (building it, maybe) and serves it; keeps the previous on failure."""
        try:
            folder = folder_of()
            try:
                snapshot = open_snapshot(folder)
            except ValueError as error:  # a damaged serving form (not the artifacts): build it again, once
                log.warning("rebuilding %s: %s", folder, str(error))
                shutil.rmtree(folder, ignore_errors=True)
                snapshot = open_snapshot(serving_form.build_in_subprocess(self.directory, self.cache_dir))
        except (InconsistentArtifacts, InterruptedError) as error:
            self._report(signature, error)
            return
        except (OSError, ValueError) as error:
            log.warning("could not load the artifacts in %s (%s): keeping the previous ones", self.directory, str(error))
            self._failed[signature] = time.monotonic() + FAILED_RETRY_SECONDS
            return
        self._snapshot, self._signature = snapshot, signature
        log.info("serving artifacts %s from %s: %d users, %d movies with similar lists, %d items", snapshot.version,
                 self.directory, len(snapshot.user_recommendations), len(snapshot.similar_movies), len(snapshot.items))

    def _report(self, signature: tuple, error: Exception) -> None:
        if self._reported != signature:
            # The message, not the exception: a kept log record must not hold its traceback's frames (and with
            # them a replaced snapshot's mapped files).
            log.warning("not loading the artifacts in %s yet (%s): keeping the previous ones", self.directory, str(error))
            self._reported = signature
