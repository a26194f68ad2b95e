"""Choose the ALS defaults by measurement: nDCG@10 of ALS alone and of the hybrid on a validation split.

Runs on the bundled sample (stratified 75/25, seed 42, train part split again 80/20 for validation, so the test
part stays untouched) and prints one row per setting.

Usage: python bench/tune_als.py --ranks 32,64 --regs 0.05,0.5 --alphas 0.5,1,5
"""

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

from spin_reel_assets.cleaning.inputs import find_input, read_links, read_movielens_movies, read_ratings
from spin_reel_assets.cleaning.movies import MovieLensIndex, clean_tmdb, read_tmdb
from spin_reel_assets.cleaning.ratings import clean_ratings, movie_key_map
from spin_reel_assets.recommender.evaluation import Scorer, index_ratings, search_weight
from spin_reel_assets.recommender import metrics
from spin_reel_assets.recommender.content import build_index, fit_content_model, movie_text
from spin_reel_assets.recommender.split import stratified_split
from spin_reel_assets.resources import BUNDLED_SAMPLE
from spin_reel_assets.recommender.spark_als import AlsParams, fit_factor_matrices, local_session


def sample_data(data_dir: Path):
    key_map = movie_key_map(read_links(find_input(data_dir, "links")))
    ratings = clean_ratings(read_ratings(find_input(data_dir, "ratings")), key_map).table
    movies = clean_tmdb(read_tmdb(find_input(data_dir, "tmdb")),
                        MovieLensIndex(read_movielens_movies(find_input(data_dir, "movies")), key_map)).table.sort_by("tmdb_id")
    texts = [movie_text(*(row[f] for f in ("title", "overview", "tagline", "genres", "keywords"))) for row in movies.to_pylist()]
    _, vectors = fit_content_model(texts)
    item_ids = movies.column("tmdb_id").to_numpy()
    _, interactions, _ = index_ratings(ratings.column("user_id").to_numpy(), ratings.column("tmdb_id").to_numpy().astype(np.int64),
                                       ratings.column("rating").to_numpy(), item_ids)
    return interactions, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ranks", default="16,32,64", help="comma-separated ALS ranks")
    parser.add_argument("--regs", default="0.01,0.05,0.5", help="comma-separated regParam values")
    parser.add_argument("--alphas", default="0.5,1,5", help="comma-separated confidence scales")
    args = parser.parse_args()
    spark = local_session()
    interactions, vectors = sample_data(BUNDLED_SAMPLE)
    train = interactions.subset(~stratified_split(interactions.users, 0.25, 42))
    is_valid = stratified_split(train.users, 0.2, 43)
    fit, valid = train.subset(~is_valid), train.matrix(is_valid)
    users = np.flatnonzero(np.diff(valid.indptr) > 0)
    index = build_index(vectors)
    grid = itertools.product(*(map(float if name != "ranks" else int, getattr(args, name).split(","))
                               for name in ("ranks", "regs", "alphas")))
    print("| rank | regParam | alpha | ALS nDCG@10 | hybrid nDCG@10 | weight | fit s |")
    print("|---|---|---|---|---|---|---|")
    for rank, reg, alpha in grid:
        started = time.perf_counter()
        params = AlsParams(rank=rank, reg_param=reg, alpha=alpha)
        u, v, _ = fit_factor_matrices(spark, fit.users, fit.items, fit.ratings, fit.n_users, fit.n_items, params, "/tmp/spin-reel-tune-ckpt")
        seconds = time.perf_counter() - started
        scorer = Scorer(fit.matrix(), u, v, vectors, index)
        als = metrics.ndcg_at_k(scorer.top_k(1.0, 10, users, imputed=False), valid[users], 10)
        weight, scores = search_weight(scorer, valid, users)
        print(f"| {rank} | {reg} | {alpha} | {als:.4f} | {scores[weight]:.4f} | {weight:.1f} | {seconds:.1f} |", flush=True)
    spark.stop()


if __name__ == "__main__":
    sys.exit(main())
