"""Content vectors of movies (hashed TF-IDF → truncated SVD) and their nearest-neighbour index.

Hashing instead of a learned vocabulary keeps memory bounded for a million overviews and makes the fitted model
small and picklable: any new text can be embedded later without the training corpus. All vectors are float32 and
L2-normalized, so inner products are cosine similarities; a text with no known term embeds to the zero vector.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
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
    estimate document frequencies and the main topics — then the other texts are embedded in blocks of
    ``block_size`` (the sample's vectors come from its weighted counts: each row embeds on its own).
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
    weighted = tfidf.transform(counts)
    svd = TruncatedSVD(n_components=n_components, random_state=seed).fit(weighted)
    model = ContentModel(vectorizer=vectorizer, tfidf=tfidf, svd=svd)
    # Hashing is most of the time: the sample, hashed for the fit, is not hashed again.
    vectors = np.empty((len(texts), model.dim), dtype=np.float32)
    vectors[sample] = l2_normalize(svd.transform(weighted))
    rest = np.setdiff1d(np.arange(len(texts)), sample, assume_unique=True)
    vectors[rest] = embed(model, [texts[i] for i in rest], block_size=block_size)
    return model, vectors


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


def build_index(vectors: np.ndarray, exact_max: int = 50_000, nprobe: int = 32, seed: int = DEFAULT_SEED) -> faiss.Index:
    """Inner-product index over ``vectors``: exact (``IndexFlatIP``) up to ``exact_max`` rows, IVF-Flat above
    (``ivf_index``, ``nprobe`` lists searched per query), its rows reconstructible (``ContentIndex.vectors``).

    Above ``exact_max`` the k-means is trained on faiss's minimum of 39 rows per list, 10 iterations: 20 s at 1M
    synthetic content vectors where an HNSW graph (M 32, efConstruction 80) took 131 s, with a better recall@10
    against exact search for movies (0.999 against 0.896) and user profiles (0.935 against 0.450) at the same
    query time (``bench/scale.py`` records the real recall in the asset's metadata).
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = vectors.shape
    if n > exact_max:
        index = ivf_index(vectors, nprobe=nprobe, seed=seed, train_per_list=39, niter=10)
        index.make_direct_map()
        return index
    index = faiss.IndexFlatIP(d)
    index.add(vectors)
    return index


def ivf_index(vectors: np.ndarray, nprobe: int = 16, seed: int = DEFAULT_SEED, train_per_list: int = 64,
              niter: int = 25) -> faiss.Index:
    """Approximate inner-product index for many batch queries: IVF-Flat with about 4·√n lists, k-means
    (``niter`` iterations) trained on a seeded sample of at most ``train_per_list`` vectors per list, ``nprobe``
    lists searched per query."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = vectors.shape
    nlist = max(1, min(int(4 * np.sqrt(n)), n // 39))  # faiss wants at least 39 training points per list
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(seed).choice(n, size=min(n, train_per_list * nlist), replace=False)
    index.cp.seed = seed
    index.cp.niter = niter
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


def search(index: faiss.Index, queries: np.ndarray, k: int, block_size: int = 4096,
           params: faiss.SearchParameters | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k search in blocks of queries: (scores float32, indices int64), index -1 and score -inf where missing;
    ``params`` (e.g. an ID selector) go to every ``index.search``."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    scores = np.empty((len(queries), k), dtype=np.float32)
    indices = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), block_size):
        block = slice(start, start + block_size)
        found = index.search(queries[block], k) if params is None else index.search(queries[block], k, params=params)
        scores[block], indices[block] = found
    scores[indices < 0] = -np.inf
    return scores, indices


def _tag_tokens(prefix: str, names: list[str] | None) -> str:
    """Space-separated ``prefix_snake_case`` tokens of the non-empty names."""
    words = (_NON_WORD.sub("_", name.lower()).strip("_") for name in names or ())
    return " ".join(f"{prefix}_{word}" for word in words if word)


# --- field-wise content vectors -----------------------------------------------------------------
#
# Each TMDB field becomes its own L2-normalized block (zero when the movie lacks the field); a movie's vector is
# the concatenation of the blocks scaled by sqrt(field weight), L2-normalized. The inner product of two vectors is
# then a weighted sum of per-field cosines, and the weights are chosen on validation (``choose_field_weights``)
# without refitting anything: ``weigh_fields`` rescales the blocks.

# MongoDB document fields the content model reads (the faiss_index asset's projection).
SOURCE_FIELDS = ("title", "tagline", "overview", "genres", "keywords", "production_companies",
                 "production_countries", "original_language", "year", "vote_average", "vote_count")
# Block dimensions; tag fields through hashed TF-IDF and a truncated SVD, numbers as soft bins. About 128 in all,
# like the text-only model, so the FAISS index does not grow.
FIELD_DIMS = {"text": 40, "genres": 16, "keywords": 24, "companies": 12, "countries": 6, "language": 6,
              "year": 11, "vote_average": 8, "vote_count": 5}
_TAG_SOURCES = {"genres": "genres", "keywords": "keywords", "companies": "production_companies",
                "countries": "production_countries"}
_YEAR_CENTRES = np.linspace(1920, 2020, FIELD_DIMS["year"])
_VOTE_CENTRES = np.linspace(2.0, 9.0, FIELD_DIMS["vote_average"])
_COUNT_CENTRES = np.linspace(0.0, 4.0, FIELD_DIMS["vote_count"])  # log10(1 + vote count)


@dataclass
class FieldModel:
    """Hashed TF-IDF → truncated SVD of one text or tag field. The SVD components are float32, n_features wide:
    16 MB at most for the default 2^16 text features and 40 dimensions (the text-only model was 2^18 × 128)."""

    vectorizer: HashingVectorizer
    tfidf: TfidfTransformer
    components: np.ndarray

    def transform(self, documents: Sequence[str]) -> np.ndarray:
        weighted = self.tfidf.transform(self.vectorizer.transform(documents))
        return np.asarray(weighted @ self.components.T, dtype=np.float32)


@dataclass
class MovieContentModel:
    """The fitted field models, the block layout (field → column slice) and the field weights of the vectors it
    embeds (1 for every field unless chosen otherwise)."""

    fields: dict[str, FieldModel]
    layout: dict[str, tuple[int, int]]
    weights: dict[str, float]

    @property
    def dim(self) -> int:
        return max(stop for _, stop in self.layout.values())


def movie_fields(columns: dict[str, Sequence]) -> dict[str, list[str] | np.ndarray]:
    """The per-field inputs of the content model from document columns (``SOURCE_FIELDS``; None counts as
    missing): documents for the text and tag fields, float arrays (NaN when missing) for the numbers."""
    n = len(columns["title"])
    get = lambda name: columns.get(name) or [None] * n  # noqa: E731
    fields: dict[str, list[str] | np.ndarray] = {
        "text": [" ".join(part for part in parts if part) for parts in zip(get("title"), get("tagline"), get("overview"))],
        **{field: [_tag_tokens("t", names) for names in get(source)] for field, source in _TAG_SOURCES.items()},
        "language": [f"lang_{code}" if code else "" for code in get("original_language")],
    }
    for name in ("year", "vote_average", "vote_count"):
        fields[name] = np.array([np.nan if value is None else float(value) for value in get(name)], dtype=np.float64)
    return fields


def fit_movie_content(fields: dict, dims: dict[str, int] | None = None, weights: dict[str, float] | None = None,
                      seed: int = DEFAULT_SEED, svd_sample: int = 200_000,
                      block_size: int = 50_000) -> tuple[MovieContentModel, np.ndarray]:
    """Fit one model per text/tag field on a seeded sample of at most ``svd_sample`` movies and embed every movie:
    returns the model and the weighted, L2-normalized vectors (n × model.dim float32)."""
    dims = {**FIELD_DIMS, **(dims or {})}
    n = len(fields["text"])
    sample = np.sort(np.random.default_rng(seed).choice(n, size=min(n, svd_sample), replace=False))
    models, layout, start = {}, {}, 0
    for name in FIELD_DIMS:
        if name in ("year", "vote_average", "vote_count"):
            width = dims[name]
        else:
            models[name] = _fit_field(name, [fields[name][i] for i in sample], dims[name], seed)
            width = models[name].components.shape[0]
        layout[name] = (start, start + width)
        start += width
    model = MovieContentModel(models, layout, {name: 1.0 for name in layout})
    if weights:
        model.weights.update(weights)
    blocks = embed_fields(model, fields, block_size)
    return model, weigh_fields(blocks, model.layout, model.weights)


def embed_fields(model: MovieContentModel, fields: dict, block_size: int = 50_000) -> np.ndarray:
    """Unweighted field blocks of every movie (n × model.dim float32): each block L2-normalized or zero."""
    n = len(fields["text"])
    blocks = np.zeros((n, model.dim), dtype=np.float32)
    for name, (lo, hi) in model.layout.items():
        for start in range(0, n, block_size):
            rows = slice(start, min(start + block_size, n))
            if name in model.fields:
                part = model.fields[name].transform(fields[name][rows])
            else:
                part = _soft_bins(name, np.asarray(fields[name][rows]), fields, rows)
            blocks[rows, lo:hi] = l2_normalize(part)
    return blocks


def weigh_fields(blocks: np.ndarray, layout: dict[str, tuple[int, int]], weights: dict[str, float]) -> np.ndarray:
    """Vectors from unweighted field blocks: each block times sqrt(its weight), then L2-normalized."""
    scale = np.ones(blocks.shape[1], dtype=np.float32)
    for name, (lo, hi) in layout.items():
        scale[lo:hi] = np.sqrt(max(weights.get(name, 1.0), 0.0))
    return l2_normalize(blocks * scale)


def choose_field_weights(evaluate: Callable[[dict[str, float]], float], fields: Sequence[str],
                         grid: Sequence[float] = (0.0, 0.5, 1.0, 2.0, 4.0), rounds: int = 2,
                         ) -> tuple[dict[str, float], dict[str, float]]:
    """Coordinate ascent of the field weights from all ones: per round, each field in turn takes the grid value
    with the best ``evaluate(weights)`` (higher is better, e.g. content-alone nDCG on tuning users), the others
    fixed. Returns the weights and every evaluated point's score (key: ``field=value,...``). Ties keep the
    current value."""
    weights = {name: 1.0 for name in fields}
    scores: dict[str, float] = {}

    def score(candidate: dict[str, float]) -> float:
        key = ",".join(f"{name}={value:g}" for name, value in candidate.items())
        if key not in scores:
            scores[key] = float(evaluate(dict(candidate)))
        return scores[key]

    for _ in range(rounds):
        changed = False
        for name in fields:
            best_value, best_score = weights[name], score(weights)
            for value in grid:
                trial = {**weights, name: float(value)}
                if any(trial.values()) and score(trial) > best_score:
                    best_value, best_score = float(value), score(trial)
            changed |= best_value != weights[name]
            weights[name] = best_value
        if not changed:
            break
    return weights, scores


def _fit_field(name: str, documents: list[str], dim: int, seed: int) -> FieldModel:
    text = name == "text"
    vectorizer = HashingVectorizer(
        n_features=2**16 if text else 2**14, alternate_sign=False, norm=None, dtype=np.float32,
        **({"stop_words": "english", "ngram_range": (1, 2)} if text else {"token_pattern": r"\S+", "lowercase": False}),
    )
    counts = vectorizer.transform(documents)
    tfidf = TfidfTransformer(sublinear_tf=True).fit(counts)
    n_terms = int(np.count_nonzero(np.bincount(counts.indices, minlength=counts.shape[1])))
    n_components = max(1, min(dim, len(documents) - 1, n_terms - 1))
    if n_terms < 2:
        components = np.zeros((n_components, counts.shape[1]), dtype=np.float32)
    else:
        svd = TruncatedSVD(n_components=n_components, random_state=seed).fit(tfidf.transform(counts))
        components = svd.components_.astype(np.float32)
    return FieldModel(vectorizer, tfidf, components)


def _soft_bins(name: str, values: np.ndarray, fields: dict, rows: slice) -> np.ndarray:
    """Gaussian bumps around fixed centres (NaN → zero row): a year or a vote statistic as a small dense block,
    so nearby values are similar. A vote average counts only as much as its vote count supports."""
    if name == "year":
        centres, width, strength = _YEAR_CENTRES, 8.0, 1.0
    elif name == "vote_average":
        centres, width = _VOTE_CENTRES, 0.75
        counts = np.asarray(fields["vote_count"][rows], dtype=np.float64)
        strength = np.nan_to_num(np.minimum(np.log10(1 + counts) / 2, 1.0))[:, None]  # full weight from ~100 votes
    else:
        centres, width, strength = _COUNT_CENTRES, 0.5, 1.0
        values = np.log10(1 + values)
    bumps = np.exp(-0.5 * ((values[:, None] - centres[None, :]) / width) ** 2) * strength
    return np.nan_to_num(bumps).astype(np.float32)
