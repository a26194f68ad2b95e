"""Blending the collaborative (ALS) and content scores of a candidate set into one ranking score.

The two signals live on unrelated scales (dot products of latent factors vs. cosine similarities), so each row
(one user's or one item's candidates, along the last axis) is min-max scaled to [0, 1] before the weighted sum.
Two non-finite values carry meaning: NaN is a missing signal (an item without ALS factors) and scales to 0, the
bottom of the row, so the other signal alone decides; -inf marks an excluded item (already seen, the item itself)
and stays -inf so it never ranks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

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


@dataclass(frozen=True)
class SignalWeights:
    """The blend of one user segment: shares of the ALS, content and prior signals (they sum to 1), and
    ``cold_als``, the factor on the ALS share for items without fitted factors (their factors come from content)."""

    als: float
    content: float
    prior: float = 0.0
    cold_als: float = 1.0


@dataclass(frozen=True)
class PriorSpec:
    """How the prior signal is computed when rating times are known (``RatingClock``): the log count of an item's
    training ratings in the ``window_days`` before the time of the recommendation (None: the static popularity
    prior, all training ratings), and
    ``new_release_bonus``, the floor of the (row-scaled) prior of items released in the ``new_release_days``
    before it: new movies have few ratings yet and are what people watch next."""

    window_days: float | None = None
    new_release_bonus: float = 0.0
    new_release_days: float = 730.0


@dataclass(frozen=True)
class BlendWeights:
    """Signal weights per user segment (users by number of training ratings, ``segments`` as in
    ``metrics.USER_SEGMENTS``) and the prior's ``PriorSpec``, chosen on tuning users by ``choose_blend_weights``,
    with the grid scores that chose them (``grid``: segment label → {weights key → tuning nDCG}). JSON-ready
    through ``to_dict``/``from_dict``."""

    segments: tuple[tuple[str, int, int | None], ...]
    weights: tuple[SignalWeights, ...]
    prior: PriorSpec = PriorSpec()
    grid: dict[str, dict[str, float]] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        return {"segments": [list(s) for s in self.segments], "weights": [asdict(w) for w in self.weights],
                "prior": asdict(self.prior), "grid": self.grid}

    @classmethod
    def from_dict(cls, data: dict) -> "BlendWeights":
        return cls(tuple(tuple(s) for s in data["segments"]), tuple(SignalWeights(**w) for w in data["weights"]),
                   PriorSpec(**data.get("prior", {})), data.get("grid", {}))

    @classmethod
    def uniform(cls, weights: SignalWeights, segments=None, prior: PriorSpec = PriorSpec()) -> "BlendWeights":
        from .metrics import USER_SEGMENTS

        segments = tuple(segments or USER_SEGMENTS)
        return cls(segments, (weights,) * len(segments), prior)

    def table(self, n_train: np.ndarray) -> np.ndarray:
        """Per user (by number of training ratings): rows of (als, content, prior, cold_als), float32."""
        from .metrics import user_segment

        rows = np.array([[w.als, w.content, w.prior, w.cold_als] for w in self.weights], dtype=np.float32)
        return rows[user_segment(n_train, self.segments)]


@dataclass(frozen=True)
class WeightSchedule:
    """Signal shares that follow how much the system knows about a user, n training ratings: the ALS share
    ``(1 - content) · als_max · n / (n + half_n)`` grows from 0 towards its cap as ratings accumulate, ``content``
    is a constant share, the prior takes the rest (so a user with one rating is served mostly by the prior, a
    heavy user mostly by ALS); ``cold_als`` is the factor on the ALS share for items without fitted factors.

    Four numbers chosen on all tuning users together (``choose_schedule``), where per-segment weights
    (``BlendWeights``) are chosen on each segment's few tuning users: on the bundled sample 35 users at 1–5
    ratings, too few to tell weights apart; on 3 of 4 split seeds tried, the segment weights did worse there on
    the evaluation users than the schedule."""

    als_max: float
    half_n: float
    content: float
    cold_als: float = 1.0
    prior: PriorSpec = PriorSpec()

    def __post_init__(self):
        if not (0.0 <= self.als_max <= 1.0 and 0.0 <= self.content <= 1.0 and self.half_n >= 0):
            raise ValueError(f"invalid weight schedule {self}")

    def table(self, n_train: np.ndarray) -> np.ndarray:
        """Per user: rows of (als, content, prior, cold_als), float32; the three shares sum to 1."""
        n = np.asarray(n_train, dtype=np.float64)
        als = (1 - self.content) * self.als_max * n / np.maximum(n + self.half_n, 1e-12)
        rows = np.stack([als, np.full_like(n, self.content), 1 - self.content - als, np.full_like(n, self.cold_als)],
                        axis=-1)
        return rows.astype(np.float32)

    def shares_at(self, n: int) -> SignalWeights:
        als, content, prior, cold_als = (float(round(v, 4)) for v in self.table(np.array([n]))[0])
        return SignalWeights(als, content, prior, cold_als)

    def to_dict(self) -> dict:
        return {**asdict(self), "prior": asdict(self.prior)}

    @classmethod
    def from_dict(cls, data: dict) -> "WeightSchedule":
        return cls(**{**data, "prior": PriorSpec(**data.get("prior", {}))})


# Caps of the ALS share, half-trust rating counts (log-spaced: what matters is the order of magnitude), constant
# content shares and ALS factors of unfitted items: 128 schedules. A full ALS factor for unfitted movies comes
# first, so a tie (held-out ratings rarely hold such movies) lets them into the lists.
SCHEDULE_GRID = tuple(WeightSchedule(als_max, half_n, content, cold_als)
                      for als_max in (0.4, 0.6, 0.8, 1.0) for half_n in (3.0, 10.0, 30.0, 100.0)
                      for content in (0.0, 0.1, 0.2, 0.3) for cold_als in (1.0, 0.0))


def choose_schedule(evaluate: Callable[[WeightSchedule], float], grid: Sequence[WeightSchedule] = SCHEDULE_GRID
                    ) -> tuple[WeightSchedule, dict[str, float]]:
    """Grid search of the ``WeightSchedule``: ``evaluate(schedule)`` (higher is better: the tuning nDCG over all
    tuning users) at every grid point. Returns the best and the score of every point (keyed by ``schedule_key``);
    NaN never wins, exact ties go to the earlier grid point, so the choice is deterministic."""
    scores = [float(evaluate(point)) for point in grid]
    if all(np.isnan(scores)):
        raise ValueError("evaluate returned NaN for every schedule of the grid")
    best = max(range(len(grid)), key=lambda i: (np.nan_to_num(scores[i], nan=-np.inf), -i))
    return grid[best], {schedule_key(point): score for point, score in zip(grid, scores)}


def schedule_key(schedule: WeightSchedule) -> str:
    return (f"als_max={schedule.als_max:g} half_n={schedule.half_n:g} content={schedule.content:g} "
            f"cold_als={schedule.cold_als:g}")


DAY = 86_400.0
# A movie released more than this after the time of a recommendation did not exist then (MovieLens has a few
# ratings before the release date, festival screenings): never recommended. No effect when recommending now.
UNRELEASED_MARGIN_DAYS = 365.0


@dataclass
class RatingClock:
    """When things happened, for the time-aware prior: training ratings as sorted (item, time) keys, each user's
    time of recommendation (their latest training rating in an evaluation; "now" in production) and each item's
    release time (NaN when unknown). Times are seconds."""

    keys: np.ndarray
    origin: float
    user_time: np.ndarray
    release_time: np.ndarray

    @classmethod
    def from_ratings(cls, users: np.ndarray, items: np.ndarray, times: np.ndarray, n_users: int,
                     release_time: np.ndarray, now: float | None = None) -> "RatingClock":
        """``now`` None: each user's own latest rating time (evaluation); a number: that time for every user."""
        times = np.asarray(times, dtype=np.float64)
        origin = float(times.min(initial=0.0))
        keys = np.sort((np.asarray(items, dtype=np.int64) << 32) + (times - origin).astype(np.int64))
        if now is None:
            user_time = np.full(n_users, -np.inf)
            np.maximum.at(user_time, np.asarray(users, dtype=np.int64), times)
            user_time[np.isneginf(user_time)] = times.max(initial=0.0)
        else:
            user_time = np.full(n_users, float(now))
        return cls(keys, origin, user_time, np.asarray(release_time, dtype=np.float64))

    def counts(self, user_time: np.ndarray, candidate: np.ndarray, window_days: float | None) -> np.ndarray:
        """Training ratings of each candidate item up to its row's time (within the window), rows × width."""
        item = np.maximum(candidate, 0).astype(np.int64) << 32
        upto = (np.asarray(user_time)[:, None] - self.origin).astype(np.int64)
        since = np.zeros_like(upto) if window_days is None else np.maximum(upto - int(window_days * DAY), 0)
        return (np.searchsorted(self.keys, item + upto, side="right")
                - np.searchsorted(self.keys, item + since, side="left"))


@dataclass(frozen=True)
class ScaledRows:
    """Candidate rows with what every blend of them shares, computed once for a weight search: each signal
    min-max scaled per row (``normalize_rows``) and the excluded slots (-inf in either signal, or no item)."""

    candidate: np.ndarray
    als: np.ndarray
    content: np.ndarray
    excluded: np.ndarray

    @classmethod
    def of(cls, candidate: np.ndarray, als: np.ndarray, content: np.ndarray) -> "ScaledRows":
        excluded = np.isneginf(als) | np.isneginf(content) | (candidate < 0)
        return cls(candidate, normalize_rows(als), normalize_rows(content), excluded)


@dataclass
class Blender:
    """``BlendWeights`` or a ``WeightSchedule`` bound to what they depend on: each row's number of training
    ratings, each item's prior in [0, 1] (``popularity_prior``) and whether it has fitted ALS factors; with a
    ``clock`` (and the rows' users in it, ``clock_users``) the prior is time-aware instead (``PriorSpec``) and
    items released after the rows' time are excluded. Called like ``blend`` on candidate rows:
    ``blender(rows, candidate, als, content)`` → blended scores, -inf where either input is -inf."""

    weights: "BlendWeights | WeightSchedule"
    n_train: np.ndarray
    prior: np.ndarray
    fitted: np.ndarray
    clock: RatingClock | None = None
    clock_users: np.ndarray | None = None

    def __post_init__(self):
        self._per_user = self.weights.table(self.n_train)
        if self.clock is not None:
            users = np.arange(len(self.n_train)) if self.clock_users is None else self.clock_users
            self._time = self.clock.user_time[users]

    def __call__(self, users: np.ndarray, candidate: np.ndarray, als: np.ndarray, content: np.ndarray) -> np.ndarray:
        return self.scaled(users, ScaledRows.of(candidate, als, content))

    def scaled(self, users: np.ndarray, rows: ScaledRows) -> np.ndarray:
        """The blend of rows already scaled (``ScaledRows``): what ``__call__`` returns for their raw scores."""
        w = self._per_user[users]
        candidate = rows.candidate
        safe = np.maximum(candidate, 0)
        excluded = rows.excluded
        als_share = np.where(self.fitted[safe], w[:, :1], w[:, :1] * w[:, 3:4])
        with np.errstate(invalid="ignore"):  # 0 × an excluded -inf: excluded below anyway
            blended = als_share * rows.als
            blended += w[:, 1:2] * rows.content
        if self.clock is None:
            blended += w[:, 2:3] * self.prior[safe]
        else:
            blended += w[:, 2:3] * self._time_prior(users, candidate, excluded)
            age = self._time[users][:, None] - self.clock.release_time[safe]
            # A new mask: the rows' own is shared by every blend of them. NaN (unknown release) compares False.
            excluded = excluded | (age < -UNRELEASED_MARGIN_DAYS * DAY)
        np.copyto(blended, -np.inf, where=excluded)
        return blended

    def _time_prior(self, users: np.ndarray, candidate: np.ndarray, excluded: np.ndarray) -> np.ndarray:
        spec = self.weights.prior
        time = self._time[users]
        if spec.window_days is None:
            counts = self.prior[np.maximum(candidate, 0)]
        else:
            counts = np.log1p(self.clock.counts(time, candidate, spec.window_days)).astype(np.float32)
        prior = normalize_rows(np.where(excluded, -np.inf, counts))
        if spec.new_release_bonus > 0:
            age = time[:, None] - self.clock.release_time[np.maximum(candidate, 0)]
            fresh = (age >= -UNRELEASED_MARGIN_DAYS * DAY) & (age <= spec.new_release_days * DAY)
            prior = np.where(fresh, np.maximum(prior, spec.new_release_bonus), prior)
        return np.where(excluded, 0, prior)


def popularity_prior(items: np.ndarray, n_items: int, times: np.ndarray | None = None,
                     half_life: float | None = None) -> np.ndarray:
    """Per item, log(1 + its number of training ratings) scaled to [0, 1]; with ``half_life`` (in the units of
    ``times``) each rating counts 0.5 ** (age / half_life), its age measured from the latest rating."""
    weights = None
    if half_life is not None:
        times = np.asarray(times, dtype=np.float64)
        weights = 0.5 ** ((times.max(initial=0) - times) / half_life)
    counts = np.log1p(np.bincount(np.asarray(items, dtype=np.int64), weights=weights, minlength=n_items))
    top = counts.max(initial=0)
    return (counts / top if top > 0 else counts).astype(np.float32)


def simplex_grid(step: float = 0.1, prior: bool = True) -> list[tuple[float, float, float]]:
    """(als, content, prior) shares on a grid of ``step`` that sum to 1 (prior 0 when ``prior`` is False)."""
    n = int(round(1 / step))
    return [(round(a * step, 6), round((n - a - p) * step, 6), round(p * step, 6))
            for a in range(n + 1) for p in (range(n - a + 1) if prior else (0,))]


def choose_blend_weights(
    evaluate: Callable[[np.ndarray, BlendWeights], float],
    segment_users: Sequence[np.ndarray],
    segments=None,
    shares: Sequence[tuple[float, float, float]] | None = None,
    cold_als_grid: Sequence[float] = (0.0, 0.5, 1.0),
    shrinkage: float = 20.0,
    prior: PriorSpec = PriorSpec(),
) -> BlendWeights:
    """Grid search of each segment's ``SignalWeights`` on that segment's tuning users.

    ``evaluate(users, weights)`` scores a ``BlendWeights`` on ``users`` (higher is better: the tuning nDCG);
    ``segment_users[s]`` are the tuning users of segment s. The shares come from ``simplex_grid()`` by default,
    each with every ``cold_als``. A segment of n tuning users maximizes (n · its score + ``shrinkage`` · the score
    on all tuning users) / (n + ``shrinkage``): a small segment leans on everyone instead of fitting its noise.
    Ties go to the earlier grid point (fewer ALS, then more content, then smaller ``cold_als``), so the choice is
    deterministic.
    """
    from .metrics import USER_SEGMENTS

    segments = tuple(segments or USER_SEGMENTS)
    shares = list(shares or simplex_grid())
    points = [SignalWeights(a, c, p, cold) for a, c, p in shares for cold in cold_als_grid]

    def scores_on(users: np.ndarray) -> np.ndarray:
        return np.array([float(evaluate(users, BlendWeights.uniform(point, segments, prior))) for point in points])

    def best(scores: np.ndarray) -> int:
        return max(range(len(points)), key=lambda i: (np.nan_to_num(scores[i], nan=-1.0), -i))

    everyone = np.unique(np.concatenate([np.asarray(u, dtype=np.int64) for u in segment_users]))
    overall = scores_on(everyone)
    chosen, grid = [], {"all": dict(zip(map(_key, points), overall.tolist()))}
    for (label, _, _), users in zip(segments, segment_users):
        n = len(users)
        if n == 0:
            chosen.append(points[best(overall)])
            continue
        own = scores_on(np.asarray(users, dtype=np.int64))
        grid[label] = dict(zip(map(_key, points), own.tolist()))
        chosen.append(points[best((n * np.nan_to_num(own) + shrinkage * overall) / (n + shrinkage))])
    return BlendWeights(segments, tuple(chosen), prior, grid)


def _key(weights: SignalWeights) -> str:
    return f"als={weights.als:g} content={weights.content:g} prior={weights.prior:g} cold_als={weights.cold_als:g}"
