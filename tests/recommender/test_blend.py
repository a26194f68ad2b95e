"""Row normalization, blending and the weight grid search."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spin_reel_assets.recommender.blend import blend, choose_weight, normalize_rows, row_bounds

INF = np.inf


def test_normalize_rows_scales_finite_entries_and_keeps_exclusions():
    scores = np.array([[1.0, 3.0, 2.0, np.nan, -INF, INF], [2.0, 2.0, np.nan, -INF, 2.0, 2.0]])
    # row 0: min 1, max 3 → (x - 1) / 2; NaN and +inf → 0; -inf stays. Row 1 is constant → 0.
    expected = np.array([[0.0, 1.0, 0.5, 0.0, -INF, 0.0], [0.0, 0.0, 0.0, -INF, 0.0, 0.0]])
    assert np.array_equal(normalize_rows(scores), expected)


def test_normalize_rows_without_any_finite_entry():
    assert np.array_equal(normalize_rows(np.array([[np.nan, -INF]])), np.array([[0.0, -INF]]))


def test_normalize_rows_with_given_bounds():
    # bounds 0..4 from elsewhere: 2 → 0.5
    bounds = (np.array([[0.0]]), np.array([[4.0]]))
    assert normalize_rows(np.array([[2.0]]), bounds) == pytest.approx(0.5)


def test_blend_weights_the_normalized_signals():
    als = np.array([[1.0, 3.0, np.nan, 0.0]])
    content = np.array([[0.5, 0.1, 0.3, -INF]])
    # als: finite 1, 3, 0 → min 0, max 3 → [1/3, 1, 0 (missing), 0]
    # content: finite 0.5, 0.1, 0.3 → min 0.1, max 0.5 → [1, 0, 0.5, -inf]
    # 0.25 * als + 0.75 * content: [1/12 + 3/4, 1/4, 3/8, -inf]
    expected = np.array([[1 / 12 + 0.75, 0.25, 0.375, -INF]])
    assert np.allclose(blend(als, content, 0.25), expected)


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_exclusion_survives_a_zero_share(weight):
    # 0 * -inf would be NaN: an excluded item must stay -inf whichever signal has no weight
    out = blend(np.array([[1.0, -INF, 2.0]]), np.array([[-INF, 1.0, 2.0]]), weight)
    assert out[0, 0] == -INF and out[0, 1] == -INF and np.isfinite(out[0, 2])


def test_blend_of_blocks_with_combined_bounds_equals_blend_of_the_row():
    rng = np.random.default_rng(0)
    als, content = rng.normal(size=(2, 3, 10))
    als[0, 2] = np.nan
    content[1, 7] = -INF
    left, right = slice(0, 4), slice(4, 10)
    (a_lo_l, a_hi_l), (a_lo_r, a_hi_r) = row_bounds(als[:, left]), row_bounds(als[:, right])
    (c_lo_l, c_hi_l), (c_lo_r, c_hi_r) = row_bounds(content[:, left]), row_bounds(content[:, right])
    als_bounds = (np.minimum(a_lo_l, a_lo_r), np.maximum(a_hi_l, a_hi_r))
    content_bounds = (np.minimum(c_lo_l, c_lo_r), np.maximum(c_hi_l, c_hi_r))
    blocks = [blend(als[:, part], content[:, part], 0.3, als_bounds, content_bounds) for part in (left, right)]
    assert np.allclose(np.concatenate(blocks, axis=1), blend(als, content, 0.3))


def test_blend_rejects_a_weight_outside_0_1():
    with pytest.raises(ValueError):
        blend(np.zeros((1, 2)), np.zeros((1, 2)), 1.5)


def test_choose_weight_picks_the_best_score():
    weight, scores = choose_weight(lambda w: -((w - 0.3) ** 2))
    assert weight == 0.3
    assert sorted(scores) == pytest.approx([0.1 * i for i in range(11)])


def test_choose_weight_breaks_ties_towards_als():
    weight, _ = choose_weight(lambda w: 1.0 if w in (0.2, 0.7) else 0.0)
    assert weight == 0.7


def test_choose_weight_ignores_nan_scores():
    weight, scores = choose_weight(lambda w: math.nan if w == 1.0 else w, grid=(0.0, 0.5, 1.0))
    assert weight == 0.5 and math.isnan(scores[1.0])
    with pytest.raises(ValueError):
        choose_weight(lambda w: math.nan, grid=(0.0, 1.0))
