"""The recommendation-quality protocol end to end on the bundled sample, without Dagster.

    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/quality.py                      (temporal protocol)
    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/quality.py --protocol stratified
    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/quality.py --tune-als 'rank=32,64 reg=0.1,0.5 alpha=1,5 scaling=none,log,bm25'

Reads the sample with the project's cleaning functions, builds the field-wise content vectors (content.py), splits
the ratings by the protocol (split.protocol_split), fits Spark ALS on the train part (spark_als.fit_factor_matrices,
confidence-scaled), chooses field weights, cold-item route and segment blend weights on the tuning users
(evaluation.select_model), and prints the quality table of the evaluation users (evaluation.quality_table), EASE
included as a reference. These are the four stages the assets wrap (als_validation_model, blend_weights,
hybrid_recommendations' scoring, recommendation_quality). ``--tune-als`` instead fits every ALS setting of the
grid and prints ALS-alone and hybrid nDCG@10 on the tuning users only (the evaluation users stay unseen).
Factor matrices are cached under .state/quality-cache by split and ALS parameters.
"""

import argparse
import dataclasses
import hashlib
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

from spin_reel_assets.cleaning.inputs import find_input, read_links, read_movielens_movies, read_ratings
from spin_reel_assets.cleaning.movies import MovieLensIndex, clean_tmdb, read_tmdb
from spin_reel_assets.cleaning.ratings import clean_ratings, movie_key_map
from spin_reel_assets.recommender import metrics
from spin_reel_assets.recommender.content import (SOURCE_FIELDS, build_index, embed_fields, fit_movie_content,
                                                  movie_fields, weigh_fields)
from spin_reel_assets.recommender.evaluation import (Scorer, ease_top_k, index_ratings, markdown_table,
                                                     quality_table, search_blend_weights, select_model)
from spin_reel_assets.recommender.blend import RatingClock
from spin_reel_assets.recommender.spark_als import AlsParams, fit_factor_matrices, local_session, scale_confidence
from spin_reel_assets.recommender.split import protocol_split
from spin_reel_assets.resources import BUNDLED_SAMPLE
from spin_reel_assets.schema import MOVIE_ID, RATED_AT, RATING, USER_ID

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".state" / "quality-cache"
# Per protocol: (test_fraction, new_user_share). Stratified keeps today's 75/25 without simulated new users, so
# its figure compares with the earlier 0.390.
PROTOCOL_DEFAULTS = {"temporal": (0.2, 0.2), "stratified": (0.25, 0.0)}
COLUMNS = ["ndcg@10", "precision@10", "recall@10", "coverage", *[f"ndcg@10 users {label}" for label, _, _ in
           metrics.USER_SEGMENTS], "cold hits@10", "warm hits@10", "cold recall@10", "cold shown@10"]


def load_sample(data_dir: Path):
    key_map = movie_key_map(read_links(find_input(data_dir, "links")))
    ratings = clean_ratings(read_ratings(find_input(data_dir, "ratings")), key_map).table
    movies = clean_tmdb(read_tmdb(find_input(data_dir, "tmdb")),
                        MovieLensIndex(read_movielens_movies(find_input(data_dir, "movies")), key_map)).table
    movies = movies.sort_by(MOVIE_ID)
    columns = {name: movies.column(name).to_pylist() for name in SOURCE_FIELDS}
    item_ids = movies.column(MOVIE_ID).to_numpy()
    _, interactions, known = index_ratings(ratings.column(USER_ID).to_numpy(),
                                           ratings.column(MOVIE_ID).to_numpy().astype(np.int64),
                                           ratings.column(RATING).to_numpy(), item_ids)
    stamps = ratings.column(RATED_AT).cast("int64").to_numpy()[known]
    return interactions, stamps, columns


def fit_cached(spark, train, params: AlsParams, key: str):
    """Spark ALS on the confidence-scaled train ratings; factors cached by split key and parameters."""
    digest = hashlib.sha1(json.dumps([key, dataclasses.asdict(params)]).encode()).hexdigest()[:16]
    path = CACHE / f"{digest}.npz"
    if path.exists():
        cached = np.load(path)
        return cached["users"], cached["items"], 0.0
    started = time.perf_counter()
    values = scale_confidence(train.users, train.items, train.ratings, params.scaling)
    users, items, _ = fit_factor_matrices(spark, train.users, train.items, values, train.n_users, train.n_items,
                                          params, str(CACHE / "checkpoints"))
    seconds = time.perf_counter() - started
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, users=users, items=items)
    return users, items, seconds


def release_times(years) -> np.ndarray:
    """Seconds of 1 January of each movie's release year, NaN when unknown."""
    years = np.array([np.nan if year is None else year for year in years], dtype=np.float64)
    stamps = np.full(len(years), np.nan)
    known = ~np.isnan(years)
    stamps[known] = (years[known].astype(np.int64) - 1970).astype("datetime64[Y]").astype("datetime64[s]").astype(np.int64)
    return stamps


def parse_grid(text: str) -> list[dict]:
    names = {"rank": ("rank", int), "reg": ("reg_param", float), "alpha": ("alpha", float),
             "iter": ("max_iter", int), "scaling": ("scaling", str)}
    axes = {}
    for part in text.split():
        name, values = part.split("=")
        field, kind = names[name]
        axes[field] = [kind(v) for v in values.split(",")]
    return [dict(zip(axes, point)) for point in itertools.product(*axes.values())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", default="temporal", choices=sorted(PROTOCOL_DEFAULTS))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--tune-als", default="", help="grid, e.g. 'rank=32,64 reg=0.1,0.5 alpha=1 scaling=log'")
    parser.add_argument("--als", default="", help="ALS parameters overriding AlsParams, e.g. 'rank=64 scaling=log'")
    args = parser.parse_args()
    started = time.perf_counter()
    interactions, stamps, columns = load_sample(BUNDLED_SAMPLE)
    test_fraction, new_share = PROTOCOL_DEFAULTS[args.protocol]
    split = protocol_split(interactions.users, stamps, args.protocol, test_fraction, new_share, seed=args.seed)
    train, test = interactions.subset(split.train), interactions.matrix(split.test)
    train_matrix = train.matrix()
    model, _ = fit_movie_content(movie_fields(columns), seed=args.seed)
    blocks = embed_fields(model, movie_fields(columns))
    index = build_index(weigh_fields(blocks, model.layout, {}))  # the faiss_index asset's: unweighted fields
    print(f"{args.protocol}: {split.train.sum()} train / {split.test.sum()} test ratings, "
          f"{len(split.tuning_users)} tuning / {len(split.evaluation_users)} evaluation users, "
          f"{len(split.new_users)} simulated new users; content {model.dim} dims, "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    key = f"{args.protocol}-{args.seed}-{hashlib.sha1(split.train.tobytes()).hexdigest()[:12]}"
    spark = local_session()

    if args.tune_als:
        print("| rank | regParam | alpha | iter | scaling | ALS tuning nDCG@10 | hybrid tuning nDCG@10 | fit s |")
        print("|---|---|---|---|---|---|---|---|")
        vectors = weigh_fields(blocks, model.layout, {})
        for point in parse_grid(args.tune_als):
            params = dataclasses.replace(AlsParams(), **point)
            u, v, seconds = fit_cached(spark, train, params, key)
            scorer = Scorer(train_matrix, u, v, vectors, index, cold_route="ridge")
            users = split.tuning_users
            als = metrics.ndcg_at_k(scorer.top_k(1.0, 10, users, imputed=False), test[users], 10)
            weights = search_blend_weights(scorer, test, users, cold_als_grid=(1.0,))
            hyb = metrics.ndcg_at_k(scorer.top_k(weights, 10, users), test[users], 10)
            print(f"| {params.rank} | {params.reg_param} | {params.alpha} | {params.max_iter} | {params.scaling} "
                  f"| {als:.4f} | {hyb:.4f} | {seconds:.1f} |", flush=True)
        spark.stop()
        return

    params = dataclasses.replace(AlsParams(), **(parse_grid(args.als)[0] if args.als else {}))
    user_factors, item_factors, fit_seconds = fit_cached(spark, train, params, key)
    spark.stop()
    started = time.perf_counter()
    clock = RatingClock.from_ratings(train.users, train.items, stamps[split.train], train.n_users,
                                     release_times(columns["year"]))
    selection, routes = select_model(train_matrix, test, split.tuning_users, user_factors, item_factors, blocks,
                                     model.layout, index, clock)
    select_seconds = time.perf_counter() - started
    started = time.perf_counter()
    users = split.evaluation_users
    other = next(route for route in routes if route != selection.cold_route)
    references = {f"hybrid, {other} cold route": routes[other][0].top_k(routes[other][1], 10, users)}
    ease = ease_top_k(train_matrix, users, 10)
    if ease is not None:
        references["EASE (reference)"] = ease
    table = quality_table(routes[selection.cold_route][0], test, users, selection.blend, 10, references)
    eval_seconds = time.perf_counter() - started

    print(f"ALS {params}: fit {fit_seconds:.1f} s (0 = cached); selection {select_seconds:.1f} s; "
          f"evaluation {eval_seconds:.1f} s")
    print(f"field weights: {selection.field_weights}")
    print(f"prior: {selection.blend.prior} (tuning nDCG@10 {selection.grids['prior']})")
    print(f"cold route: {selection.cold_route} (tuning nDCG@10 {selection.grids['cold_route']})")
    print(f"similar-movie ALS share: {selection.item_weight}")
    for (label, _, _), weights in zip(selection.blend.segments, selection.blend.weights):
        print(f"  users {label}: {weights}")
    print()
    print(markdown_table({name: {c: row[c] for c in COLUMNS} for name, row in table.items()}))
    print()
    print("evaluation users per segment: " + ", ".join(
        f"{label} {int(table['hybrid'][f'users {label}'])}" for label, _, _ in metrics.USER_SEGMENTS))
    best = {c: max(table["als"][c], table["popularity"][c]) for c in COLUMNS if c.startswith("ndcg")}
    print("hybrid / max(ALS, popularity): " + ", ".join(
        f"{c.replace('ndcg@10 ', '') or 'all'} {table['hybrid'][c] / best[c]:.3f}" for c in best if best[c] > 0))


if __name__ == "__main__":
    sys.exit(main())
