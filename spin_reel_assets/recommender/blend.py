"""Blending the collaborative (ALS) and content scores of a candidate set into one ranking score.

The two signals live on unrelated scales (dot products of latent factors vs. cosine similarities), so each row
(one user's or one item's candidates, along the last axis) is min-max scaled to [0, 1] before the weighted sum.
Two non-finite values carry meaning: NaN is a missing signal (an item without ALS factors) and scales to 0, the
bottom of the row, so the other signal alone decides; -inf marks an excluded item (already seen, the item itself)
and stays -inf so it never ranks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

DEFAULT_WEIGHT_GRID = tuple(round(0.1 * i, 1) for i in range(11))

Bounds = tuple[np.ndarray, np.ndarray]


def row_bounds(scores: np.ndarray) -> Bounds:
    """Per-row (min, max) over the finite entries, shaped to broadcast against ``scores`` (+inf, -inf if none).

    Bounds of item blocks combine with ``np.minimum`` / ``np.maximum``, which lets a caller scale rows too wide to
    hold in memory: one pass over the blocks for the bounds, a second to scale.
    """
    # fmin/fmax skip NaN, so NaN out the infinities; this is faster than a masked min/max (``where=``).
    finite_or_nan = np.where(np.isfinite(scores), scores, np.nan)
    lo = np.fmin.reduce(finite_or_nan, axis=-1, keepdims=True, initial=np.inf)
    hi = np.fmax.reduce(finite_or_nan, axis=-1, keepdims=True, initial=-np.inf)
    return lo, hi


def normalize_rows(scores: np.ndarray, bounds: Bounds | None = None) -> np.ndarray:
    """Min-max scale each row's finite entries to [0, 1]; NaN and +inf become 0, -inf stays -inf.

    A constant row scales to 0. ``bounds`` (from ``row_bounds``) replaces the row's own min and max, for rows
    scored in blocks.
    """
    scores = np.asarray(scores)
    scores = scores.astype(np.result_type(scores.dtype, np.float32), copy=False)
    lo, hi = row_bounds(scores) if bounds is None else bounds
    span = hi - lo
    # In place over the block: these rows can be a thousand users by thousands of items.
    with np.errstate(invalid="ignore"):
        scaled = scores - lo
        scaled /= np.where(span > 0, span, 1)
    np.copyto(scaled, 0, where=~np.isfinite(scores))
    np.copyto(scaled, -np.inf, where=np.isneginf(scores))
    return scaled


def blend(
    als: np.ndarray,
    content: np.ndarray,
    weight: float,
    als_bounds: Bounds | None = None,
    content_bounds: Bounds | None = None,
) -> np.ndarray:
    """``weight * normalize_rows(als) + (1 - weight) * normalize_rows(content)``; -inf in either input → -inf.

    ``weight`` is the ALS share in [0, 1]. The optional bounds are passed on to ``normalize_rows``.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    blended = normalize_rows(als, als_bounds)
    with np.errstate(invalid="ignore"):
        blended *= weight
        blended += (1 - weight) * normalize_rows(content, content_bounds)
    # Scaled values are never NaN, so a NaN here is a zero weight times an excluded -inf: excluded it stays.
    np.copyto(blended, -np.inf, where=np.isnan(blended))
    return blended


def choose_weight(
    evaluate: Callable[[float], float], grid: Sequence[float] = DEFAULT_WEIGHT_GRID
) -> tuple[float, dict[float, float]]:
    """Grid search of the ALS weight: ``evaluate(weight)`` (higher is better) at every grid point.

    Returns the best weight and the score of every weight. NaN scores never win; exact ties go to the larger ALS
    weight, as the collaborative signal is the one the held-out ratings measure directly.
    """
    scores = {float(weight): float(evaluate(float(weight))) for weight in grid}
    scored = {weight: score for weight, score in scores.items() if not np.isnan(score)}
    if not scored:
        raise ValueError("evaluate returned NaN for every weight of the grid")
    best = max(scored, key=lambda weight: (scored[weight], weight))
    return best, scores
