"""Content documents, the content model (fit, embed, pickle) and the nearest-neighbour index."""

from __future__ import annotations

import pickle

import faiss
import numpy as np
import pytest

from spin_reel_assets.recommender.content import (
    build_index,
    embed,
    fit_content_model,
    movie_text,
    recall_at_k_vs_exact,
    search,
)

TOPICS = {
    "space": "astronaut spaceship galaxy alien planet orbit rocket crew station nebula",
    "romance": "love wedding kiss heart romance couple paris letter dance bride",
    "cooking": "chef kitchen recipe restaurant flavor bake dinner spice menu taste",
    "war": "soldier battle army general trench rifle frontline siege tank regiment",
}


def _corpus(per_topic: int = 12) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(0)
    texts, labels = [], []
    for topic, words in TOPICS.items():
        vocabulary = words.split()
        for _ in range(per_topic):
            texts.append(" ".join(rng.choice(vocabulary, size=6)))
            labels.append(topic)
    return texts, labels


@pytest.fixture(scope="module")
def fitted():
    texts, labels = _corpus()
    model, vectors = fit_content_model(texts, dim=16)
    return model, vectors, texts, labels


def test_movie_text_makes_weighted_whole_tag_tokens():
    text = movie_text("Alien", "A crew meets a monster.", None, ["Science Fiction", "Horror", " "], ["time travel"])
    tokens = text.split()
    assert text.startswith("Alien A crew meets a monster.")
    assert tokens.count("genre_science_fiction") == 3
    assert tokens.count("genre_horror") == 3
    assert tokens.count("kw_time_travel") == 2
    assert "science" not in tokens and "genre_" not in tokens


def test_vectors_are_unit_float32_and_embed_reproduces_them(fitted):
    model, vectors, texts, _ = fitted
    assert vectors.dtype == np.float32 and vectors.shape == (len(texts), model.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(embed(model, texts[:5]), vectors[:5], atol=1e-5)
    # same text, same vector — also after a pickle round trip
    again = pickle.loads(pickle.dumps(model))
    assert np.allclose(embed(again, [texts[3], texts[3]]), vectors[[3, 3]], atol=1e-5)


def test_similar_texts_are_closer_than_unrelated(fitted):
    model, vectors, _, labels = fitted
    labels = np.array(labels)
    similarity = vectors @ vectors.T
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, False)
    different = labels[:, None] != labels[None, :]
    assert similarity[same].mean() > similarity[different].mean() + 0.3
    # a new text about space lands among the space movies
    query = embed(model, ["the alien crew of a rocket in orbit"])[0]
    assert labels[np.argsort(-(vectors @ query))[:5]].tolist() == ["space"] * 5


def test_text_without_known_terms_embeds_to_zero(fitted):
    model, *_ = fitted
    vectors = embed(model, ["", "the and of"])
    assert np.array_equal(vectors, np.zeros_like(vectors))


def test_tiny_corpus_gets_fewer_dimensions():
    # 3 documents: at most 3 - 1 = 2 components whatever dim asks for
    model, vectors = fit_content_model(["red apple", "green pear", "red pear"], dim=128)
    assert model.dim == 2 and vectors.shape == (3, 2)
    with pytest.raises(ValueError):
        fit_content_model(["lonely document"])


def test_svd_sample_is_seeded():
    texts, _ = _corpus()
    first = fit_content_model(texts, dim=8, svd_sample=20, seed=1)[1]
    assert np.allclose(first, fit_content_model(texts, dim=8, svd_sample=20, seed=1)[1])


def test_sampled_fit_gives_every_row_its_own_embedding():
    # The sample's rows come from the fit's counts, the others from embed in blocks: both must be embed's
    # vectors of the same texts, in the texts' order, whatever the blocks.
    texts, _ = _corpus()
    texts[7] = ""
    model, vectors = fit_content_model(texts, dim=8, svd_sample=20, block_size=7, seed=3)
    assert np.array_equal(vectors, embed(model, texts, block_size=len(texts)))
    assert not vectors[7].any() and np.count_nonzero(np.abs(vectors).sum(axis=1)) == len(texts) - 1


def _clustered(n: int, d: int, clusters: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, d))
    points = centres[rng.integers(clusters, size=n)] + 0.3 * rng.normal(size=(n, d))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def test_exact_index_up_to_exact_max_then_ivf():
    vectors = _clustered(1500, 16, 15)
    flat = build_index(vectors, exact_max=1500)
    assert isinstance(flat, faiss.IndexFlatIP) and flat.ntotal == 1500
    assert recall_at_k_vs_exact(flat, vectors) == 1.0
    ivf = build_index(vectors, exact_max=1000, nprobe=4)
    assert isinstance(ivf, faiss.IndexIVFFlat) and ivf.nprobe == 4
    assert recall_at_k_vs_exact(ivf, vectors, k=10, sample=300) >= 0.9
    # its rows come back as they went in (the content vectors of ContentIndex.vectors)
    assert np.array_equal(ivf.reconstruct_n(0, ivf.ntotal), vectors)


class _FixedIndex:
    """An 'index' answering every query with the given rows."""

    def __init__(self, rows: list[int]):
        self.rows = rows

    def search(self, queries, k):
        ids = np.tile(np.array(self.rows[:k], dtype=np.int64), (len(queries), 1))
        return np.zeros(ids.shape, dtype=np.float32), ids


def test_recall_counts_tied_rows_as_found():
    vectors = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    # Rows 0 and 1 are identical, so row 1 is a correct top-1 for queries 0 and 1, not for query 2: 2/3.
    assert recall_at_k_vs_exact(_FixedIndex([1]), vectors, k=1, sample=3) == pytest.approx(2 / 3)
    # Row 2 is right only for query 2: 1/3.
    assert recall_at_k_vs_exact(_FixedIndex([2]), vectors, k=1, sample=3) == pytest.approx(1 / 3)


def test_search_in_blocks_pads_missing_neighbours():
    vectors = np.eye(3, dtype=np.float32)
    index = build_index(vectors)
    scores, ids = search(index, vectors, k=4, block_size=2)
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    assert ids[:, 0].tolist() == [0, 1, 2] and (ids[:, 3] == -1).all()
    assert (scores[:, 3] == -np.inf).all() and (scores[:, 0] == 1.0).all()


def _movie_columns(n: int = 40):
    """Genres follow the topic; overviews are noise words; half the movies have no tagline, years spread."""
    rng = np.random.default_rng(0)
    topics = list(TOPICS)
    labels = [topics[i % 4] for i in range(n)]
    noise = "lorem ipsum dolor sit amet consectetur adipiscing elit sed tempor".split()
    return {
        "title": [f"movie {i}" for i in range(n)],
        "tagline": [None if i % 2 else "a tagline" for i in range(n)],
        "overview": [" ".join(rng.choice(noise, 6)) for _ in range(n)],
        "genres": [[label.title(), "Drama"] for label in labels],
        "keywords": [None] * n,
        "production_companies": [["Studio A"]] * n,
        "production_countries": [["France"]] * n,
        "original_language": ["fr"] * n,
        "year": [1950 + i for i in range(n)],
        "vote_average": [6.0] * n,
        "vote_count": [None] * n,
    }, np.array(labels)


def test_field_vectors_weigh_each_field_and_the_model_stays_small():
    from spin_reel_assets.recommender.content import (FIELD_DIMS, embed_fields, fit_movie_content, movie_fields,
                                                      weigh_fields)

    columns, labels = _movie_columns()
    fields = movie_fields(columns)
    model, vectors = fit_movie_content(fields, seed=0)
    assert vectors.shape == (40, model.dim) and set(model.layout) == set(FIELD_DIMS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    blocks = embed_fields(model, fields)
    lo, hi = model.layout["vote_count"]
    assert not blocks[:, lo:hi].any()  # no vote counts: a zero block, not a made-up one
    assert sum(m.components.nbytes for m in model.fields.values()) < 20 * 2**20
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, False)
    genres_only = weigh_fields(blocks, model.layout, {name: float(name == "genres") for name in model.layout})
    text_only = weigh_fields(blocks, model.layout, {name: float(name == "text") for name in model.layout})
    gap = lambda v: (v @ v.T)[same].mean() - (v @ v.T)[~same & ~np.eye(40, dtype=bool)].mean()  # noqa: E731
    assert gap(genres_only) > 0.5 > abs(gap(text_only))
    # a pickled model embeds the same vectors
    again = pickle.loads(pickle.dumps(model))
    assert np.allclose(embed_fields(again, movie_fields(columns)), blocks, atol=1e-5)


def test_field_weight_search_moves_weight_to_the_informative_field():
    from spin_reel_assets.recommender.content import choose_field_weights

    # A score that grows with the genre weight relative to the others: the search must raise it and lower text.
    def evaluate(weights):
        return weights["genres"] / (1 + weights["genres"] + weights["text"])

    weights, scores = choose_field_weights(evaluate, ["text", "genres"], grid=(0.0, 1.0, 4.0))
    assert weights == {"text": 0.0, "genres": 4.0} and max(scores.values()) == pytest.approx(0.8)
