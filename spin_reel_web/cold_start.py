"""Cold-start picks for a visitor who likes a few movies, and similar movies of a movie the pipeline made no list
for, by candidate generation and exact re-scoring.

The ranking is the pipeline's (``spin_reel_assets.recommender.hybrid.recommend_from_liked``): the blend of the
content cosine with the visitor's content profile and the ALS score of a user factor folded in from the liked
movies, each min-max scaled over the catalogue. Instead of scoring every movie, each signal scans the cells of
its inverted index that score best against its query (``budget`` movies); the union of both signals' best
``candidates`` is re-scored exactly on both. Min-max scaling needs each signal's catalogue-wide minimum too: a
scan with the negated query finds it (the least similar movies are a maximum-inner-product search away). With
budgets at least the catalogue size every movie is scanned and the result is the exact computation's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spin_reel_assets.recommender.blend import blend, row_bounds

from .ivf import InvertedIndex, NormOrdered

DEFAULT_BUDGET = 65_536  # movies scanned for the best content candidates (recall@20 0.95-0.97 at 1M)
DEFAULT_BOUNDS_BUDGET = 8_192  # movies scanned for the content minimum
DEFAULT_CANDIDATES = 1_024  # per signal, re-scored exactly on both
REGULARIZATION = 0.1  # of the folded-in user factor, as in recommend_from_liked


@dataclass(frozen=True)
class ItemVectors:
    """Content vectors in an inverted index, ALS factors by descending norm; items are rows 0..n-1."""

    content: InvertedIndex
    als: NormOrdered


def _l2_normalize(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    norm = np.linalg.norm(vector, axis=-1, keepdims=True)
    return vector / np.where(norm > 0, norm, 1)


def _content_candidates(index: InvertedIndex, profile: np.ndarray, liked: np.ndarray, budget: int,
                        bounds_budget: int, candidates: int) -> np.ndarray:
    """Rows of the best ``candidates`` unliked items of a scan with ``profile``, and of the lowest unliked item
    of a scan with ``-profile`` (the least similar movies are a maximum-inner-product search away)."""
    rows, scores = index.scan(profile, budget)
    keep = ~np.isin(rows, liked)
    rows, scores = rows[keep], scores[keep]
    best = rows[np.argpartition(-scores, candidates - 1)[:candidates]] if len(rows) > candidates else rows
    low_rows, low_scores = index.scan(-profile, bounds_budget)
    keep = ~np.isin(low_rows, liked)
    return np.concatenate([best, low_rows[keep][np.argsort(-low_scores[keep])[:1]]])


def recommend_from_liked(liked: np.ndarray, items: ItemVectors, weight: float, n: int,
                         budget: int = DEFAULT_BUDGET, bounds_budget: int = DEFAULT_BOUNDS_BUDGET,
                         candidates: int = DEFAULT_CANDIDATES) -> dict[str, np.ndarray]:
    """Top-n items (rows) for a visitor who liked the rows ``liked``, never a liked one; the arrays of
    ``hybrid.recommend_from_liked``: ``item``, ``rank``, ``score``, ``als_score``, ``content_score``, ``because``.

    Candidates: the ``candidates`` best items by content (inverted-index scan) and by ALS (exact, norm-ordered
    scan), with each signal's lowest item; re-scored exactly on both signals and blended with min-max bounds
    over them, which are the catalogue's own when the scans found the extremes."""
    liked = np.unique(np.asarray(liked, dtype=np.int64))
    if len(liked) == 0:
        raise ValueError("liked is empty: a visitor with no liked items has no profile")
    liked_content = items.content.vectors_of(liked)
    profile = _l2_normalize(liked_content.mean(axis=0))
    pools = [_content_candidates(items.content, profile, liked, budget, bounds_budget, candidates)]
    known = liked[items.als.position[liked] >= 0]
    user = None
    if len(known):
        y = items.als.vectors_of(known).astype(np.float64)
        user = np.linalg.solve(y.T @ y + REGULARIZATION * np.eye(y.shape[1]), y.sum(axis=0))
        pools.extend(items.als.scan(user.astype(np.float32), candidates, liked))
    pool = np.unique(np.concatenate(pools))  # ascending rows: ties rank the lower row first, as the exact ranking

    content = items.content.vectors_of(pool) @ profile
    als = np.full(len(pool), np.nan, dtype=np.float32)
    if user is not None:
        with_factors = items.als.position[pool] >= 0
        als[with_factors] = items.als.vectors_of(pool[with_factors]) @ user
    blended = blend(als[None], content[None], weight, row_bounds(als[None]), row_bounds(content[None]))[0]
    top = np.lexsort((pool, -blended))[:n]
    top = top[blended[top] > -np.inf]
    closest = np.argmax(items.content.vectors_of(pool[top]) @ liked_content.T, axis=1)
    return {
        "item": pool[top],
        "rank": np.arange(1, len(top) + 1),
        "score": blended[top],
        "als_score": als[top],
        "content_score": content[top],
        "because": liked[closest],
    }


def similar_to(row: int, items: ItemVectors, weight: float, n: int, candidates: int,
               budget: int = DEFAULT_BUDGET) -> dict[str, np.ndarray] | None:
    """Top-n similar items of the item ``row`` as the pipeline ranks those of a movie without fitted factors
    (``hybrid.similar_items``): its ``candidates`` nearest items by content (an inverted-index scan of ``budget``
    items instead of the pipeline's FAISS search), each scored exactly by content cosine and by the cosine of
    the ALS factors (NaN where either has none), min-max scaled over them and blended. The arrays of
    ``similar_items`` for one item (``similar`` as ``item``); None when the item has no content vector to search
    with (no text: its list would be arbitrary)."""
    query = items.content.vectors_of(np.array([row]))[0]
    if np.isnan(query).any() or not query.any():
        return None
    rows, scores = items.content.scan(query, budget)
    # The pipeline searches one extra neighbour (the item itself, usually) and drops the item afterwards.
    if len(rows) > candidates + 1:
        keep = np.argpartition(-scores, candidates)[: candidates + 1]
        rows, scores = rows[keep], scores[keep]
    keep = rows != row
    rows, content = rows[keep], scores[keep]
    factors = _l2_normalize(items.als.vectors_of(np.append(rows, row)))
    als = factors[:-1] @ factors[-1]
    blended = blend(als[None], content[None], weight)[0]
    top = np.lexsort((rows, -blended))[:n]  # ties rank the lower row first, as the pipeline's
    top = top[blended[top] > -np.inf]
    return {"item": rows[top], "rank": np.arange(1, len(top) + 1), "score": blended[top], "als_score": als[top],
            "content_score": content[top]}
