"""The ridge route from content vectors to ALS factors for movies nobody rated."""

import faiss
import numpy as np
import pytest

from spin_reel_assets.recommender.cold_items import cold_candidates, complete_item_factors, fit_content_to_factors
from spin_reel_assets.recommender.content import build_index, l2_normalize


def _clusters(seed: int = 0, n_items: int = 120, topics: int = 4, rank: int = 6):
    """Items of a topic share content and collaborative factors (each up to noise)."""
    rng = np.random.default_rng(seed)
    topic = np.arange(n_items) % topics
    content = l2_normalize(np.eye(topics)[topic] + 0.1 * rng.normal(size=(n_items, topics)))
    centres = rng.normal(size=(topics, rank))
    factors = (centres[topic] + 0.1 * rng.normal(size=(n_items, rank))).astype(np.float32)
    return topic, content, factors, centres


def test_a_movie_without_ratings_ranks_among_its_content_neighbours():
    topic, content, factors, centres = _clusters()
    cold = np.array([0, 5, 10])  # topics 0, 1, 2
    unrated = factors.copy()
    unrated[cold] = np.nan
    completed, predicted = complete_item_factors(unrated, content)
    assert predicted.tolist() == np.isin(np.arange(len(topic)), cold).tolist()
    assert np.array_equal(completed[~predicted], factors[~predicted])
    unit = l2_normalize(np.nan_to_num(completed))
    users = np.random.default_rng(2).normal(size=(50, centres.shape[1]))
    for item in cold:
        own = (topic == topic[item]) & ~predicted
        # in the collaborative space its nearest rated movies are its content neighbours (its topic) ...
        nearest = np.argsort(-(unit[~predicted] @ unit[item]))[:10]
        assert (topic[~predicted][nearest] == topic[item]).all()
        # ... so every user scores it like them: inside their score range, up to 10 % of all items' spread.
        scores = completed @ users.T
        slack = 0.1 * (scores.max(axis=0) - scores.min(axis=0))
        assert (scores[item] >= scores[own].min(axis=0) - slack).all()
        assert (scores[item] <= scores[own].max(axis=0) + slack).all()


def test_the_ridge_map_recovers_a_linear_relation_and_shrinks_with_regularization():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 8)).astype(np.float32)
    true = rng.normal(size=(8, 3)).astype(np.float32)
    y = x @ true + 2.0
    mapping = fit_content_to_factors(x, y, np.arange(500), regularization=1e-6)
    assert np.allclose(mapping.coef, true, atol=1e-3) and np.allclose(mapping.intercept, 2.0, atol=1e-3)
    shrunk = fit_content_to_factors(x, y, np.arange(500), regularization=10.0)
    assert np.abs(shrunk.coef).sum() < np.abs(mapping.coef).sum()
    with pytest.raises(ValueError):
        fit_content_to_factors(x, y, np.array([], dtype=np.int64))


def test_items_without_content_keep_nan():
    _, content, factors, _ = _clusters()
    factors[[3, 4]] = np.nan
    content[4] = 0
    completed, predicted = complete_item_factors(factors, content)
    assert predicted[3] and not predicted[4] and np.isnan(completed[4]).all()


@pytest.mark.parametrize("index_kind", ["ivf", "flat"])
def test_cold_candidates_through_the_catalogue_index_are_the_nearest_cold_items(index_kind):
    rng = np.random.default_rng(3)
    vectors = l2_normalize(rng.normal(size=(3000, 16)))
    cold = rng.random(3000) < 0.8
    profiles = l2_normalize(rng.normal(size=(40, 16)))
    cold_items = np.flatnonzero(cold)
    _, exact = faiss.knn(profiles, vectors[cold_items], 10, metric=faiss.METRIC_INNER_PRODUCT)
    exact = cold_items[exact]
    # Small sets are searched exactly over the cold vectors alone.
    assert np.array_equal(cold_candidates(profiles, vectors, cold, 10), exact)
    # Above exact_max, the catalogue's index with only the cold items selected: no index built for them.
    index = build_index(vectors, exact_max=0 if index_kind == "ivf" else len(vectors))
    found = cold_candidates(profiles, vectors, cold, 10, exact_max=100, content_index=index)
    assert found.shape == (40, 10) and cold[found].all()
    recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)])
    assert recall >= (0.95 if index_kind == "ivf" else 1.0)
    # Fewer cold items than requested: -1 padded.
    few = np.zeros(3000, dtype=bool)
    few[[7, 9]] = True
    assert (cold_candidates(profiles, vectors, few, 5)[:, 2:] == -1).all()
