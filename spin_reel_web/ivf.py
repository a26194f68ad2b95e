"""Inner-product search over item vectors in plain numpy (no FAISS in the web process), two kinds:

* ``InvertedIndex``: k-means cells, searched by scanning the cells whose centroids score best against the query
  (FAISS's IndexIVFFlat scheme) — for unit vectors (content), where cells follow the geometry of the scores.
* ``NormOrdered``: vectors by descending norm, scanned until the norm bound |x|·|q| of the rest cannot beat
  the k-th best (nor undercut the lowest) — exact, and short when a few items have most of the norm (ALS
  factors: popular movies' are long, imputed ones short).

Vectors are stored in scan order, so a scan is a few matrix-vector products over contiguous slices of a
memory-mapped matrix; the cost grows with the budget, not with the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRAIN_POINTS_PER_CELL = 32
TRAIN_ITERATIONS = 8
ASSIGN_BLOCK = 65_536


def cell_count(n: int) -> int:
    """About sqrt(n) cells: ~1,000 items per cell at a million items."""
    return max(1, min(4096, int(np.sqrt(n))))


def kmeans(points: np.ndarray, k: int, rng: np.random.Generator, iterations: int = TRAIN_ITERATIONS) -> np.ndarray:
    """Lloyd's k-means (L2) of ``points``; an emptied cell is re-seeded with a random point. (k x d) float32."""
    centroids = points[rng.choice(len(points), size=k, replace=False)].copy()
    for _ in range(iterations):
        labels = nearest(points, centroids)
        order = np.argsort(labels, kind="stable")
        counts = np.bincount(labels, minlength=k)
        filled = np.flatnonzero(counts)
        sums = np.add.reduceat(points[order].astype(np.float64), np.concatenate([[0], np.cumsum(counts)[:-1]])[filled])
        centroids[filled] = (sums / counts[filled, None]).astype(np.float32)
        empty = np.flatnonzero(counts == 0)
        centroids[empty] = points[rng.choice(len(points), size=len(empty), replace=False)]
    return centroids


def nearest(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Nearest centroid (L2) of each vector: argmax of x·c - |c|²/2, in blocks to bound the temporary."""
    half_norms = 0.5 * np.einsum("ij,ij->i", centroids, centroids)
    labels = np.empty(len(vectors), dtype=np.int64)
    for start in range(0, len(vectors), ASSIGN_BLOCK):
        block = np.asarray(vectors[start : start + ASSIGN_BLOCK], dtype=np.float32)
        labels[start : start + len(block)] = np.argmax(block @ centroids.T - half_norms, axis=1)
    return labels


def cells_of(vectors: np.ndarray, cells: int, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """(centroids, cell of each vector) from a two-level k-means: about sqrt(cells) coarse cells, each split in
    proportion to its share of a seeded sample, so assigning a million vectors costs ~2·sqrt(cells) products
    each instead of ``cells``. A vector goes to the nearest fine centroid of its coarse cell."""
    rng = np.random.default_rng(seed)
    sample = np.ascontiguousarray(
        vectors[np.sort(rng.choice(len(vectors), size=min(len(vectors), cells * TRAIN_POINTS_PER_CELL), replace=False))],
        dtype=np.float32)
    coarse_count = max(1, int(np.sqrt(cells)))
    coarse = kmeans(sample, coarse_count, rng)
    sample_coarse = nearest(sample, coarse)
    shares = np.bincount(sample_coarse, minlength=coarse_count)
    splits = np.maximum(1, np.round(shares / len(sample) * cells)).astype(np.int64)
    splits = np.minimum(splits, np.maximum(shares, 1))
    fine = [kmeans(sample[sample_coarse == group], int(splits[group]), rng) if shares[group] else coarse[group : group + 1]
            for group in range(coarse_count)]
    first = np.concatenate([[0], np.cumsum([len(block) for block in fine])[:-1]])
    vector_coarse = nearest(vectors, coarse)
    labels = np.empty(len(vectors), dtype=np.int64)
    for group in range(coarse_count):
        members = np.flatnonzero(vector_coarse == group)
        labels[members] = first[group] + nearest(vectors[members], fine[group])
    return np.concatenate(fine), labels


def build(vectors: np.ndarray, seed: int = 42) -> dict[str, np.ndarray]:
    """The inverted index of the rows of ``vectors`` without NaN: ``centroids``, ``stops`` (cell c holds
    positions stops[c-1]:stops[c]), ``items`` (row of each position, cell order) and ``vectors`` (in that order)."""
    indexed = np.flatnonzero(~np.isnan(vectors).any(axis=1))
    present = np.ascontiguousarray(vectors[indexed], dtype=np.float32)
    if len(indexed) == 0:
        return {"centroids": np.zeros((0, vectors.shape[1]), np.float32), "stops": np.zeros(0, np.int64),
                "items": indexed.astype(np.int64), "vectors": present}
    centroids, labels = cells_of(present, cell_count(len(present)), seed)
    order = np.argsort(labels, kind="stable")
    return {"centroids": centroids, "stops": np.cumsum(np.bincount(labels, minlength=len(centroids))).astype(np.int64),
            "items": indexed[order].astype(np.int64), "vectors": present[order]}


def build_norm_ordered(vectors: np.ndarray) -> dict[str, np.ndarray]:
    """The rows of ``vectors`` without NaN by descending norm: ``items``, ``norms`` and ``vectors``."""
    indexed = np.flatnonzero(~np.isnan(vectors).any(axis=1))
    norms = np.linalg.norm(vectors[indexed], axis=1).astype(np.float32)
    order = np.argsort(-norms, kind="stable")
    return {"items": indexed[order].astype(np.int64), "norms": norms[order],
            "vectors": np.ascontiguousarray(vectors[indexed[order]], dtype=np.float32)}


@dataclass(frozen=True)
class NormOrdered:
    """Vectors by descending norm (as ``build_norm_ordered`` returns them) plus ``position``: item row → its
    position, -1 for items without a vector."""

    items: np.ndarray
    norms: np.ndarray
    vectors: np.ndarray
    position: np.ndarray

    def vectors_of(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows) x d) vectors of item rows (a copy), NaN rows for items without one."""
        return _vectors_of(self.vectors, self.position[rows])

    def scan(self, query: np.ndarray, k: int, excluded: np.ndarray, block: int = 8192,
             budget: int = 65_536) -> tuple[np.ndarray, np.ndarray]:
        """(rows of the k highest-scoring items, row of the lowest), ``excluded`` rows skipped. Exact unless
        more than ``budget`` items had to be scanned for the norm bound to settle both."""
        query = np.asarray(query, dtype=np.float32)
        bound_per_norm = float(np.linalg.norm(query))
        best_rows, best_scores = np.zeros(0, np.int64), np.zeros(0, np.float32)
        lowest_row, lowest = -1, np.inf
        for start in range(0, len(self.items), block):
            rows = self.items[start : start + block]
            scores = self.vectors[start : start + block] @ query
            scores[np.isin(rows, excluded)] = np.nan
            valid = ~np.isnan(scores)
            rows, scores = rows[valid], scores[valid]
            if len(scores) and scores.min() < lowest:
                lowest_row, lowest = int(rows[np.argmin(scores)]), float(scores.min())
            best_rows, best_scores = np.concatenate([best_rows, rows]), np.concatenate([best_scores, scores])
            if len(best_scores) > k:
                keep = np.argpartition(-best_scores, k - 1)[:k]
                best_rows, best_scores = best_rows[keep], best_scores[keep]
            stop = start + block
            if stop >= len(self.items) or stop >= budget:
                break
            rest = float(self.norms[stop]) * bound_per_norm  # no later item scores above rest or below -rest
            if len(best_scores) == k and best_scores.min() >= rest and lowest <= -rest:
                break
        return best_rows, np.array([lowest_row] if lowest_row >= 0 else [], dtype=np.int64)


@dataclass(frozen=True)
class InvertedIndex:
    """A built index (arrays as ``build`` returns them, typically memory-mapped) plus ``position``: item row →
    its position in ``vectors``."""

    centroids: np.ndarray
    stops: np.ndarray
    items: np.ndarray
    vectors: np.ndarray
    position: np.ndarray

    def __len__(self) -> int:
        return len(self.items)

    def vectors_of(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows) x d) vectors of item rows (a copy), NaN rows for items that are not indexed."""
        return _vectors_of(self.vectors, self.position[rows])

    def scan(self, query: np.ndarray, budget: int) -> tuple[np.ndarray, np.ndarray]:
        """(item rows, inner products with ``query``) of every item in the best-scoring cells, taken best cell
        first until at least ``budget`` items are covered (all of them when the index holds fewer)."""
        if len(self.items) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        query = np.asarray(query, dtype=np.float32)
        order = np.argsort(-(self.centroids @ query), kind="stable")
        starts = np.concatenate([[0], self.stops[:-1]])
        sizes = (self.stops - starts)[order]
        taken = order[: int(np.searchsorted(np.cumsum(sizes), min(budget, len(self.items)))) + 1]
        taken = np.sort(taken)  # memory order: neighbouring cells are neighbouring pages
        scores = [self.vectors[starts[cell] : self.stops[cell]] @ query for cell in taken]
        positions = [np.arange(starts[cell], self.stops[cell]) for cell in taken]
        return self.items[np.concatenate(positions)], np.concatenate(scores)


def _vectors_of(vectors: np.ndarray, position: np.ndarray) -> np.ndarray:
    if len(vectors) == 0:
        return np.full((len(position), vectors.shape[1]), np.nan, dtype=np.float32)
    out = vectors[np.maximum(position, 0)]  # fancy indexing: a copy, safe to write
    out[position < 0] = np.nan
    return out
