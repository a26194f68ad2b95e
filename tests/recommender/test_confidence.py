"""Confidence scaling of ratings before implicit ALS: a pure transform of the rating values."""

import numpy as np
import pytest

from spin_reel_assets.recommender.spark_als import AlsParams, scale_confidence


def test_scalings_keep_rows_and_order_and_weigh_as_documented():
    users = np.array([0, 0, 0, 1, 2, 2])
    items = np.array([0, 1, 2, 0, 0, 1])
    ratings = np.array([5.0, 0.5, 3.0, 4.0, 4.0, 2.0])
    assert np.array_equal(scale_confidence(users, items, ratings, "none"), ratings.astype(np.float32))
    assert np.allclose(scale_confidence(users, items, ratings, "log"), np.log1p(ratings))
    bm25 = scale_confidence(users, items, ratings, "bm25", k1=1.0, b=0.0)
    # b = 0: no length normalization; idf = log(3 users / (1 + raters of the item)): item 0 (3 raters) < 0,
    # item 2 (1 rater) log 1.5; value = r · 2 / (1 + r) · idf.
    idf = np.log(3 / (1 + np.array([3, 2, 1])))
    assert np.allclose(bm25, ratings * 2 / (1 + ratings) * idf[items], atol=1e-6)
    with pytest.raises(ValueError):
        scale_confidence(users, items, ratings, "sqrt")
    assert AlsParams().scaling == "none"
