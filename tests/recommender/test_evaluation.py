"""Model selection and evaluation: disjoint tuning/evaluation users, and the weight search over real rankings."""

import numpy as np
import scipy.sparse as sp

from spin_reel_assets.recommender.evaluation import Scorer, evaluate, search_weight, split_users
from spin_reel_assets.recommender.content import build_index, l2_normalize


def _test_matrix(rows: int, with_ratings: list[int]) -> sp.csr_matrix:
    data = np.ones(len(with_ratings), dtype=np.float32)
    return sp.csr_matrix((data, (with_ratings, np.zeros(len(with_ratings), dtype=int))), shape=(rows, 3))


def test_split_users_gives_disjoint_groups_of_users_with_test_ratings():
    test = _test_matrix(100, list(range(0, 100, 2)))  # 50 users with held-out ratings
    tuning, evaluation = split_users(test, 0.2, max_tuning=1000, max_evaluation=1000, seed=7)
    assert len(tuning) == 10 and len(evaluation) == 40
    assert not set(tuning) & set(evaluation)
    assert set(tuning) | set(evaluation) == set(range(0, 100, 2))
    again = split_users(test, 0.2, max_tuning=1000, max_evaluation=1000, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip((tuning, evaluation), again))  # deterministic for a seed
    # at scale each group is a sample of at most max_users
    tuning, evaluation = split_users(test, 0.5, max_tuning=5, max_evaluation=8, seed=7)
    assert len(tuning) == 5 and len(evaluation) == 8 and not set(tuning) & set(evaluation)


def _planted(seed: int = 0, n_users: int = 60, n_items: int = 40):
    """Users like items of their own topic: content knows the topics, the factors are noise."""
    rng = np.random.default_rng(seed)
    topic_of_user, topic_of_item = rng.integers(0, 4, n_users), np.arange(n_items) % 4
    content = l2_normalize(np.eye(4)[topic_of_item] + 0.05 * rng.normal(size=(n_items, 4)))
    liked = topic_of_user[:, None] == topic_of_item[None, :]
    train = sp.csr_matrix(liked & (rng.random((n_users, n_items)) < 0.5), dtype=np.float32)
    test = sp.csr_matrix(liked & (train.toarray() == 0), dtype=np.float32)
    factors = (rng.normal(size=(n_users, 3)).astype(np.float32), rng.normal(size=(n_items, 3)).astype(np.float32))
    return Scorer(train, *factors, content, build_index(content)), test


def test_the_weight_search_prefers_the_informative_signal_and_evaluate_reports_it():
    scorer, test = _planted()
    users = np.arange(60)
    weight, grid = search_weight(scorer, test, users)
    # content carries the signal here, the factors are noise; exact ties go to the larger ALS weight
    assert weight < 0.5 and grid[weight] == max(grid.values()) > grid[1.0]
    report = evaluate(scorer, test, users, weight)
    assert set(report) == {"popularity", "als", "content", "hybrid"}
    assert report["content"]["ndcg@10"] > 0.9 > report["als"]["ndcg@10"]
    assert report["hybrid"]["ndcg@10"] > report["als"]["ndcg@10"]


def test_a_model_ranked_alone_needs_no_imputation():
    scorer, _ = _planted()
    item_factors = scorer.item_factors.copy()
    item_factors[::5] = np.nan  # items nobody rated in train
    args = (scorer.train, scorer.user_factors, item_factors, scorer.content_vectors, scorer.content_index)
    imputing, plain = Scorer(*args), Scorer(*args, impute=False)
    assert imputing.imputed.any() and not plain.imputed.any()
    users = np.arange(60)
    assert np.array_equal(imputing.top_k(1.0, 10, users, imputed=False), plain.top_k(1.0, 10, users))
