"""Hybrid Top-N: profiles, per-user lists, explanations, similar items, cold start and the popularity baseline."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from spin_reel_assets.recommender.blend import blend
from spin_reel_assets.recommender.content import build_index
from spin_reel_assets.recommender.hybrid import (
    content_profiles,
    explain,
    popularity_scores,
    recommend_from_liked,
    recommend_popular,
    recommend_users,
    similar_items,
    to_matrix,
    top_sorted,
)

NAN = np.nan


def _ratings(rows: list[dict[int, float]], n_items: int) -> sp.csr_matrix:
    users = [u for u, row in enumerate(rows) for _ in row]
    items = [i for row in rows for i in row]
    values = [v for row in rows for v in row.values()]
    return sp.csr_matrix((values, (users, items)), shape=(len(rows), n_items))


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms > 0, norms, 1)


# --- content profiles -------------------------------------------------------------------------


def test_content_profiles_pull_towards_above_mean_ratings():
    content = np.array([[1, 0], [0, 1], [0.6, 0.8], [0.8, 0.6]], dtype=np.float32)
    rated = _ratings(
        [
            {0: 5.0, 1: 1.0, 2: 3.0},  # mean 3 → weights 2, 0, 0 → c0
            {1: 4.0, 2: 4.0},  # all equal → uniform: c1 + c2 = (0.6, 1.8) → / sqrt(3.6)
            {},  # nothing rated → zero
            {0: 5.0, 1: 4.5, 2: 1.5, 3: 1.0},  # mean 3 → 2 c0 + 1.5 c1 = (2, 1.5) → / 2.5
        ],
        n_items=4,
    )
    profiles = content_profiles(rated, content)
    expected = np.array([[1, 0], [0.6 / 3.6**0.5, 1.8 / 3.6**0.5], [0, 0], [0.8, 0.6]])
    assert profiles.dtype == np.float32
    assert np.allclose(profiles, expected, atol=1e-6)


# --- recommend_users ----------------------------------------------------------------------------

# 3 users, 5 items; item 4 has no ALS factors (nobody rated it).
USER_FACTORS = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
ITEM_FACTORS = np.array([[1, 0], [0.5, 0], [0, 1], [0, 0.5], [NAN, NAN]], dtype=np.float32)
CONTENT = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [0.6, 0.8]], dtype=np.float32)
PROFILES = np.array([[0.6, 0.8], [1, 0], [0, 0]], dtype=np.float32)
SEEN = _ratings([{0: 1}, {2: 1, 3: 1}, {}], n_items=5)

# weight 0.4:
# user 0 (seen 0): als [1, .5, 0, 0, nan] → unseen finite .5, 0, 0 → [-, 1, 0, 0, 0]
#                  content [.6, .6, .8, .8, 1] → unseen min .6 max 1 → [-, 0, .5, .5, 1]
#                  → scores item1 .4, item2 .3, item3 .3, item4 .6 → 4, 1, 2, 3 (ties by index)
# user 1 (seen 2, 3): als [0, 0, -, -, nan] → constant → 0; content [1, 1, -, -, .6] → [1, 1, -, -, 0]
#                  → item0 .6, item1 .6, item4 0 → 0, 1, 4 (only 3 unseen items)
# user 2: als [1, .5, 1, .5, nan] → [1, 0, 1, 0, 0]; zero profile → content 0 → 0, 2, then 1, 3 at 0
EXPECTED_ITEMS = [[4, 1, 2, 3], [0, 1, 4], [0, 2, 1, 3]]
EXPECTED_SCORES = [[0.6, 0.4, 0.3, 0.3], [0.6, 0.6, 0.0], [0.4, 0.4, 0.0, 0.0]]


@pytest.mark.parametrize("block_size", [1, 2, 8])
def test_recommend_users_hand_example(block_size):
    out = recommend_users(USER_FACTORS, ITEM_FACTORS, PROFILES, CONTENT, SEEN, weight=0.4, n=4, block_size=block_size)
    assert set(out) == {"user", "rank", "item", "score", "als_score", "content_score"}
    assert out["user"].tolist() == [0] * 4 + [1] * 3 + [2] * 4
    assert out["rank"].tolist() == [1, 2, 3, 4, 1, 2, 3, 1, 2, 3, 4]
    assert out["item"].tolist() == sum(EXPECTED_ITEMS, [])
    assert np.allclose(out["score"], sum(EXPECTED_SCORES, []))
    # raw signals of user 0's list: item 4 has no factors
    assert np.allclose(out["als_score"][:4], [NAN, 0.5, 0, 0], equal_nan=True)
    assert np.allclose(out["content_score"][:4], [1.0, 0.6, 0.8, 0.8])


def _random_problem(seed: int, n_users: int = 30, n_items: int = 50):
    rng = np.random.default_rng(seed)
    user_factors = rng.normal(size=(n_users, 4)).astype(np.float32)
    item_factors = rng.normal(size=(n_items, 4)).astype(np.float32)
    item_factors[rng.choice(n_items, size=10, replace=False)] = NAN
    content = _unit(rng.normal(size=(n_items, 6))).astype(np.float32)
    profiles = _unit(rng.normal(size=(n_users, 6))).astype(np.float32)
    seen = sp.random(n_users, n_items, density=0.3, random_state=seed, format="csr")
    seen.data[:] = 1
    return user_factors, item_factors, profiles, content, seen


def test_recommend_users_matches_brute_force_and_never_returns_seen_items():
    user_factors, item_factors, profiles, content, seen = _random_problem(1)
    out = recommend_users(user_factors, item_factors, profiles, content, seen, 0.7, n=10, block_size=7)
    assert not np.asarray(seen[out["user"], out["item"]]).any()

    # brute force: every full row blended at once
    mask = seen.toarray() > 0
    als = user_factors @ np.nan_to_num(item_factors).T
    als[:, np.isnan(item_factors).any(axis=1)] = NAN
    scores = blend(np.where(mask, -np.inf, als), np.where(mask, -np.inf, profiles @ content.T), 0.7)
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    assert np.array_equal(to_matrix(out["user"], out["item"], 30, 10), expected)
    assert np.allclose(out["score"], np.take_along_axis(scores, expected, axis=1).ravel(), atol=1e-5)


def test_recommend_users_reranks_the_union_of_als_and_content_candidates():
    user_factors, item_factors, profiles, content, seen = _random_problem(3, n_users=12, n_items=60)
    out = recommend_users(user_factors, item_factors, profiles, content, seen, 0.5, n=5, candidates=4, block_size=5)
    mask = seen.toarray() > 0
    has_factors = ~np.isnan(item_factors).any(axis=1)
    als = np.where(has_factors, user_factors @ np.nan_to_num(item_factors).T, NAN)
    content_scores = profiles @ content.T
    for user in range(12):
        # the 4 best unseen items by ALS among items with factors, the 4 nearest by content (seen or not)
        by_als = np.where(mask[user] | ~has_factors, -np.inf, als[user])
        pool = set(np.argsort(-by_als, kind="stable")[:4]) | set(np.argsort(-content_scores[user], kind="stable")[:4])
        pool = np.array(sorted(item for item in pool if not mask[user, item]))
        scores = blend(als[user, pool][None], content_scores[user, pool][None], 0.5)[0]
        expected = pool[np.argsort(-scores, kind="stable")[:5]]
        assert out["item"][out["user"] == user].tolist() == expected.tolist()
        assert np.allclose(out["score"][out["user"] == user], np.sort(scores)[::-1][:5], atol=1e-5)


def test_items_without_factors_are_recommended_from_content():
    user_factors, item_factors, profiles, content, seen = _random_problem(2)
    out = recommend_users(user_factors, item_factors, profiles, content, seen, weight=0.0, n=50)
    no_factors = np.isnan(item_factors).any(axis=1)
    assert no_factors[out["item"]].any()
    assert np.isnan(out["als_score"][no_factors[out["item"]]]).all()


# --- explain ----------------------------------------------------------------------------------------


def test_explain_points_at_the_closest_above_mean_rated_item():
    content = np.array([[1, 0], [0, 1], [0.6, 0.8], [0.1, 0.995], [0.99, 0.14]], dtype=np.float32)
    rated = _ratings([{0: 5.0, 1: 1.0, 2: 4.0}, {3: 3.0, 4: 3.0}, {}], n_items=5)
    # user 0: mean 10/3 → items 0 and 2 pull (item 1, rated 1, does not).
    #   item 3: c0·c3 = .1, c2·c3 = .06 + .796 = .856 → 2 (c1·c3 = .995 is higher but below the mean)
    #   item 4: c0·c4 = .99, c2·c4 = .594 + .112 = .706 → 0
    # user 1: equal ratings → both items count; item 1: c3·c1 = .995, c4·c1 = .14 → 3
    # user 2: rated nothing → -1
    rec_user = np.array([1, 0, 2, 0])
    rec_item = np.array([1, 3, 0, 4])
    for block_size in (1, 65_536):
        assert explain(rec_user, rec_item, rated, content, block_size=block_size).tolist() == [3, 2, -1, 0]


def test_explain_agrees_with_a_per_row_search_on_random_data():
    rng = np.random.default_rng(3)
    content = _unit(rng.normal(size=(40, 5))).astype(np.float32)
    rated = sp.random(12, 40, density=0.25, random_state=3, format="csr")
    rated.data = rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], size=rated.nnz)
    rec_user = rng.integers(12, size=60)
    rec_item = rng.integers(40, size=60)
    got = explain(rec_user, rec_item, rated, content, block_size=16)
    for row, (user, item) in enumerate(zip(rec_user, rec_item)):
        items, ratings = rated[user].indices, rated[user].data
        if len(items) == 0:
            assert got[row] == -1
            continue
        pulling = items[ratings > ratings.mean()] if (ratings > ratings.mean()).any() else items
        assert got[row] == pulling[np.argmax(content[pulling] @ content[item])]


# --- similar_items ------------------------------------------------------------------------------------


def _brute_force_similar(content, item_factors, weight, n):
    unit_factors = _unit(item_factors)
    content_scores = content @ content.T
    als_scores = unit_factors @ unit_factors.T  # NaN rows/columns for items without factors
    np.fill_diagonal(content_scores, -np.inf)
    np.fill_diagonal(als_scores, -np.inf)
    scores = blend(als_scores, content_scores, weight)
    return np.argsort(-scores, axis=1, kind="stable")[:, :n], scores


@pytest.mark.parametrize("with_index", [False, True])
def test_similar_items_match_brute_force_when_candidates_cover_the_catalogue(with_index):
    _, item_factors, _, content, _ = _random_problem(4)
    index = build_index(content) if with_index else None
    out = similar_items(content, item_factors, 0.6, n=8, content_index=index, candidates=50, block_size=16)
    assert set(out) == {"item", "rank", "similar", "score", "content_score", "als_score"}
    expected, scores = _brute_force_similar(content, item_factors, 0.6, 8)
    assert np.array_equal(to_matrix(out["item"], out["similar"], 50, 8), expected)
    assert np.allclose(out["score"], np.take_along_axis(scores, expected, axis=1).ravel(), atol=1e-5)
    no_factors = np.isnan(item_factors).any(axis=1)
    assert np.isnan(out["als_score"][no_factors[out["item"]] | no_factors[out["similar"]]]).all()


def test_similar_items_never_return_the_item_itself():
    # identical content vectors: the index may return a twin before the item itself
    content = np.repeat(np.eye(3, dtype=np.float32), 3, axis=0)
    factors = np.full((9, 2), NAN, dtype=np.float32)
    out = similar_items(content, factors, 0.5, n=3, candidates=4)
    assert (out["item"] != out["similar"]).all()
    # items without factors rank by content: each item's two twins first
    top2 = to_matrix(out["item"], out["similar"], 9, 3)[:, :2]
    assert (top2 // 3 == np.arange(9)[:, None] // 3).all()


def test_similar_items_use_als_candidates_beyond_the_content_ones():
    # item 0's content is closest to 1, its factors to 3; with one candidate per signal both are considered
    content = _unit(np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1]], dtype=np.float32))
    factors = np.array([[1, 0], [0, 1], [-1, 0], [1, 0.05]], dtype=np.float32)
    out = similar_items(content, factors, weight=0.9, n=1, candidates=1)
    assert out["similar"][out["item"] == 0].tolist() == [3]


# --- cold start ------------------------------------------------------------------------------------------


def test_recommend_from_liked_without_factors_is_content_only():
    content = np.array([[1, 0], [0, 1], [0.6, 0.8], [0.8, 0.6], [1, 0]], dtype=np.float32)
    factors = np.full((5, 2), NAN, dtype=np.float32)
    out = recommend_from_liked(np.array([0]), content, factors, weight=0.5, n=10)
    # profile c0 → content [-, 0, .6, .8, 1]; als missing → 0; 0.5 * content → .5 (4), .4 (3), .3 (2), 0 (1)
    assert out["item"].tolist() == [4, 3, 2, 1]
    assert np.allclose(out["score"], [0.5, 0.4, 0.3, 0.0])
    assert out["rank"].tolist() == [1, 2, 3, 4]
    assert out["because"].tolist() == [0, 0, 0, 0]
    assert np.isnan(out["als_score"]).all()


def test_recommend_from_liked_folds_in_a_user_factor():
    content = np.array([[1, 0], [0, 1], [0.6, 0.8], [1, 0], [0.8, 0.6]], dtype=np.float32)
    factors = np.array([[1, 0], [0, 1], [1, 1], [1, 0], [NAN, NAN]], dtype=np.float32)
    out = recommend_from_liked(np.array([1, 0, 1]), content, factors, weight=0.5, regularization=0.1)
    # Y = I → (1.1 I) u = (1, 1) → u = (1/1.1, 1/1.1): als item2 = 2/1.1, item3 = 1/1.1, item4 missing
    # → scaled [1, 0, 0]; content with profile (.7071, .7071): item2 .98995, item3 .7071, item4 .98995
    # → scaled [1, 0, 1]; 0.5/0.5 → item2 1, item3 0, item4 .5
    assert out["item"].tolist() == [2, 4, 3]
    assert np.allclose(out["score"], [1.0, 0.5, 0.0])
    assert np.allclose(out["als_score"], [2 / 1.1, NAN, 1 / 1.1], equal_nan=True)
    # because: c2 = (.6, .8) is closest to liked item 1, c4 = (.8, .6) and c3 to item 0
    assert out["because"].tolist() == [1, 0, 0]
    with pytest.raises(ValueError):
        recommend_from_liked(np.array([], dtype=np.int64), content, factors, weight=0.5)


# --- popularity baseline and to_matrix ----------------------------------------------------------------


def test_popularity_baseline():
    rated = _ratings([{0: 4, 1: 3, 2: 5}, {0: 2, 3: 4}, {0: 3, 2: 1, 3: 2}], n_items=5)
    # counts: item0 3, item1 1, item2 2, item3 2, item4 0 → ranking 0, 2, 3 (tie → lower index), 1, 4
    assert popularity_scores(rated).tolist() == [3, 1, 2, 2, 0]
    expected = [[3, 4, -1], [2, 1, 4], [1, 4, -1]]
    for block_size in (2, 4096):
        got = recommend_popular(rated, popularity_scores(rated), n=3, block_size=block_size)
        assert got.tolist() == expected


def test_to_matrix():
    got = to_matrix(np.array([2, 0, 2, 0, 2]), np.array([7, 5, 8, 6, 9]), n_users=3, n=2)
    assert got.tolist() == [[5, 6], [-1, -1], [7, 8]]


def test_impute_item_factors_weights_content_neighbours_by_similarity():
    from spin_reel_assets.recommender.hybrid import impute_item_factors

    # items 0 and 1 have factors; item 2 (nobody rated it) has content [0.8, 0.6]:
    # cosine to item 0 ([1, 0]) = 0.8, to item 1 ([0, 1]) = 0.6, so its factors are
    # (0.8 * [1, 2] + 0.6 * [3, 4]) / 1.4 = [2.6, 4.0] / 1.4 = [1.857142..., 2.857142...]
    factors = np.array([[1.0, 2.0], [3.0, 4.0], [np.nan, np.nan]], dtype=np.float32)
    content = np.array([[1.0, 0.0], [0.0, 1.0], [0.8, 0.6]], dtype=np.float32)
    completed, imputed = impute_item_factors(factors, content, k=2)
    np.testing.assert_allclose(completed[2], [2.6 / 1.4, 4.0 / 1.4], rtol=1e-5)
    np.testing.assert_array_equal(completed[:2], factors[:2])
    assert imputed.tolist() == [False, False, True]


def test_impute_item_factors_leaves_items_with_only_dissimilar_neighbours_missing():
    from spin_reel_assets.recommender.hybrid import impute_item_factors

    factors = np.array([[1.0, 2.0], [np.nan, np.nan]], dtype=np.float32)
    content = np.array([[1.0, 0.0], [-1.0, 0.0]], dtype=np.float32)  # cosine -1: no evidence
    completed, imputed = impute_item_factors(factors, content, k=1)
    assert np.isnan(completed[1]).all() and imputed.tolist() == [False, False]


def test_impute_item_factors_at_scale_uses_an_ivf_index_close_to_exact():
    from spin_reel_assets.recommender.hybrid import impute_item_factors

    rng = np.random.default_rng(5)
    centres = rng.normal(size=(20, 16))
    content = _unit(centres[rng.integers(0, 20, 3000)] + 0.3 * rng.normal(size=(3000, 16))).astype(np.float32)
    factors = rng.normal(size=(3000, 4)).astype(np.float32)
    factors[2000:] = NAN  # a third of the catalogue nobody rated
    exact, exact_mask = impute_item_factors(factors, content, k=10)
    approximate, mask = impute_item_factors(factors, content, k=10, exact_pairs=0)
    assert mask.tolist() == exact_mask.tolist() and mask[2000:].all()
    # the IVF neighbours are nearly the exact ones, so the averages nearly agree
    error = np.linalg.norm(approximate[2000:] - exact[2000:], axis=1) / np.linalg.norm(exact[2000:], axis=1)
    assert np.median(error) < 0.05


# --- scale options: subsets, chunks and blocks do not change results ------------------------------------


def test_similar_items_for_a_subset_are_the_full_lists_of_those_items():
    _, item_factors, _, content, _ = _random_problem(6, n_items=80)
    full = similar_items(content, item_factors, 0.6, n=5, candidates=10, block_size=16)
    subset = np.array([70, 3, 41, 3])  # any order, repeats: lists of 3, 41 and 70 once each
    part = similar_items(content, item_factors, 0.6, n=5, candidates=10, items=subset, block_size=2, search_block=3)
    keep = np.isin(full["item"], subset)
    assert part["item"].tolist() == full["item"][keep].tolist()
    for key in ("similar", "rank"):
        assert part[key].tolist() == full[key][keep].tolist()
    assert np.allclose(part["score"], full["score"][keep])


def test_user_lists_do_not_depend_on_the_search_chunk():
    user_factors, item_factors, profiles, content, seen = _random_problem(7, n_users=40, n_items=70)
    whole = recommend_users(user_factors, item_factors, profiles, content, seen, 0.5, n=6, candidates=5)
    chunked = recommend_users(user_factors, item_factors, profiles, content, seen, 0.5, n=6, candidates=5,
                              block_size=3, search_block=7)
    for key in ("user", "item", "rank"):
        assert chunked[key].tolist() == whole[key].tolist()
    assert np.allclose(chunked["score"], whole["score"])


def test_impute_item_factors_in_blocks_equals_one_block():
    from spin_reel_assets.recommender.hybrid import impute_item_factors

    _, item_factors, _, content, _ = _random_problem(8, n_items=60)
    one, one_mask = impute_item_factors(item_factors, content, k=3)
    blocks, blocks_mask = impute_item_factors(item_factors, content, k=3, block_size=4)
    np.testing.assert_array_equal(blocks, one)
    assert blocks_mask.tolist() == one_mask.tolist() and one_mask.sum() == 10


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_top_sorted_is_a_full_sort_cut_at_n_with_ties_to_the_lower_column(dtype):
    rng = np.random.default_rng(5)
    scores = rng.integers(0, 6, size=(300, 500)).astype(dtype)  # many ties at every cut
    scores[:50] = rng.normal(size=(50, 500))
    scores[rng.random(scores.shape) < 0.3] = -np.inf  # seen items
    scores[7, 3:] = -np.inf  # fewer finite scores than n: -inf columns fill the row, lowest first
    scores[8] = -np.inf
    reference = np.lexsort((np.broadcast_to(np.arange(500), scores.shape), -scores), axis=1)[:, :40]
    assert np.array_equal(top_sorted(scores, 40), reference)
    with_nan = scores.copy()
    with_nan[9, 11] = np.nan  # selected as numpy's partition selects it: as the largest score
    assert 11 in top_sorted(with_nan, 40)[9]
