"""Content vectors of movies (hashed TF-IDF → truncated SVD) and their nearest-neighbour index.

Hashing instead of a learned vocabulary keeps memory bounded for a million overviews and makes the fitted model
small and picklable: any new text can be embedded later without the training corpus. All vectors are float32 and
L2-normalized, so inner products are cosine similarities; a text with no known term embeds to the zero vector.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import faiss
import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

from spin_reel_assets.schema import DEFAULT_SEED

# Genres and keywords are few and curated, an overview is long and free-form: repeating the tag tokens keeps
# them weighty. Sublinear TF makes repetition count logarithmically (3 copies weigh 1 + ln 3 ≈ 2.1).
GENRE_REPEAT = 3
KEYWORD_REPEAT = 2

_NON_WORD = re.compile(r"[\W_]+")


@dataclass
class ContentModel:
    """A fitted text → vector pipeline: hashed term counts, TF-IDF weights, then the SVD projection."""

    vectorizer: HashingVectorizer
    tfidf: TfidfTransformer
    svd: TruncatedSVD

    @property
    def dim(self) -> int:
        return int(self.svd.n_components)


def movie_text(title: str, overview: str, tagline: str, genres: list[str], keywords: list[str]) -> str:
    """One document per movie: title, tagline and overview, then genre and keyword tags as repeated whole tokens.

    A tag becomes a single prefixed token ("Science Fiction" → ``genre_science_fiction``), so a multi-word genre
    neither splits into common words nor collides with the same word in an overview. None counts as empty.
    """
    genre_tokens = _tag_tokens("genre", genres)
    keyword_tokens = _tag_tokens("kw", keywords)
    parts = [title, tagline, overview, *[genre_tokens] * GENRE_REPEAT, *[keyword_tokens] * KEYWORD_REPEAT]
    return " ".join(part for part in parts if part)


def fit_content_model(
    texts: Sequence[str],
    dim: int = 128,
    seed: int = DEFAULT_SEED,
    svd_sample: int = 200_000,
    n_features: int = 2**18,
    block_size: int = 50_000,
) -> tuple[ContentModel, np.ndarray]:
    """Fit the content model and return it with the vectors of ``texts`` (float32, L2-normalized, one row each).

    IDF weights and the SVD are fitted on a seeded random sample of at most ``svd_sample`` documents — enough to
    estimate document frequencies and the main topics — then all texts are embedded in blocks of ``block_size``.
    The dimension is ``min(dim, n_sample_docs - 1, n_sample_terms - 1)``: an SVD has no more meaningful components
    than the sample's rank, so a tiny corpus gets fewer dimensions than asked for (``model.dim``).
    """
    texts = list(texts)
    sample_size = min(len(texts), svd_sample)
    sample = np.sort(np.random.default_rng(seed).choice(len(texts), size=sample_size, replace=False))
    vectorizer = HashingVectorizer(
        n_features=n_features,
        alternate_sign=False,
        norm=None,  # raw counts: sublinear TF takes their log, and TF-IDF normalizes afterwards
        stop_words="english",
        ngram_range=(1, 2),
        dtype=np.float32,
    )
    counts = vectorizer.transform([texts[i] for i in sample])
    tfidf = TfidfTransformer(sublinear_tf=True).fit(counts)
    n_terms = np.count_nonzero(np.bincount(counts.indices, minlength=n_features))
    n_components = min(dim, sample_size - 1, n_terms - 1)
    if n_components < 1:
        raise ValueError(f"{sample_size} documents with {n_terms} distinct terms are too few for a content model")
    svd = TruncatedSVD(n_components=n_components, random_state=seed).fit(tfidf.transform(counts))
    model = ContentModel(vectorizer=vectorizer, tfidf=tfidf, svd=svd)
    return model, embed(model, texts, block_size=block_size)


def embed(model: ContentModel, texts: Sequence[str], block_size: int = 50_000) -> np.ndarray:
    """Embed texts with a fitted model: (n, model.dim) float32, L2-normalized, zero rows for texts with no terms."""
    texts = list(texts)
    vectors = np.zeros((len(texts), model.dim), dtype=np.float32)
    for start in range(0, len(texts), block_size):
        counts = model.vectorizer.transform(texts[start : start + block_size])
        vectors[start : start + block_size] = model.svd.transform(model.tfidf.transform(counts))
    return l2_normalize(vectors)


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length as float32; zero rows stay zero and NaN rows stay NaN."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1)


def build_index(
    vectors: np.ndarray, exact_max: int = 50_000, hnsw_m: int = 32, ef_search: int = 128, seed: int = DEFAULT_SEED
) -> faiss.Index:
    """Inner-product index over ``vectors``: exact (``IndexFlatIP``) up to ``exact_max`` rows, HNSW above.

    ``seed`` seeds the HNSW level assignment; the graph itself is built by several threads and may still vary.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = vectors.shape
    if n <= exact_max:
        index = faiss.IndexFlatIP(d)
    else:
        index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = ef_search
        index.hnsw.rng = faiss.RandomGenerator(seed)
    index.add(vectors)
    return index


def ivf_index(vectors: np.ndarray, nprobe: int = 16, seed: int = DEFAULT_SEED) -> faiss.Index:
    """Approximate inner-product index for many batch queries: IVF-Flat with about 4·√n lists, k-means trained on
    a seeded sample of at most 64 vectors per list, ``nprobe`` lists searched per query."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = vectors.shape
    nlist = max(1, min(int(4 * np.sqrt(n)), n // 39))  # faiss wants at least 39 training points per list
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(seed).choice(n, size=min(n, 64 * nlist), replace=False)
    index.cp.seed = seed
    index.train(vectors[np.sort(sample)])
    index.add(vectors)
    index.nprobe = min(nprobe, nlist)
    return index


def recall_at_k_vs_exact(
    index: faiss.Index, vectors: np.ndarray, k: int = 10, sample: int = 1000, seed: int = DEFAULT_SEED
) -> float:
    """Share of the exact inner-product top-k that ``index`` finds, over a seeded sample of rows as queries.

    A returned row counts as found when its true score reaches the exact k-th score, so among tied rows (movies
    with identical text embed identically) any choice is correct. 1.0 for an exact index.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    k = min(k, len(vectors))
    rows = np.sort(np.random.default_rng(seed).choice(len(vectors), size=min(sample, len(vectors)), replace=False))
    queries = vectors[rows]
    exact_scores, _ = faiss.knn(queries, vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
    _, found = search(index, queries, k)
    true_scores = np.einsum("qd,qkd->qk", queries, vectors[np.maximum(found, 0)])
    kth = exact_scores[:, -1:]
    # Tolerance for the float32 rounding between faiss's and numpy's dot products.
    hit = (found >= 0) & (true_scores >= kth - 1e-5 * np.maximum(1.0, np.abs(kth)))
    return float(hit.mean())


def search(index: faiss.Index, queries: np.ndarray, k: int, block_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Top-k search in blocks of queries: (scores float32, indices int64), index -1 and score -inf where missing."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    scores = np.empty((len(queries), k), dtype=np.float32)
    indices = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), block_size):
        block = slice(start, start + block_size)
        scores[block], indices[block] = index.search(queries[block], k)
    scores[indices < 0] = -np.inf
    return scores, indices


def _tag_tokens(prefix: str, names: list[str] | None) -> str:
    """Space-separated ``prefix_snake_case`` tokens of the non-empty names."""
    words = (_NON_WORD.sub("_", name.lower()).strip("_") for name in names or ())
    return " ".join(f"{prefix}_{word}" for word in words if word)
