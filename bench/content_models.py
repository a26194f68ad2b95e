"""Which content model and which cold route serve the hybrid best, over several temporal splits of the sample.

    SPARK_LOCAL_IP=127.0.0.1 python bench/content_models.py --seeds 42 1 2 3

For each split seed (the temporal protocol of ``recommendation_quality``: each user's latest 20 % held out, 20 % of
the users simulated as new users; ALS factors cached like ``bench/quality.py``'s) and each content model, the
weight schedule is chosen on the tuning users exactly as ``blend_weights`` does, then the evaluation users'
nDCG@10 is measured, with the cold route of the assets (neighbours) and the ridge map at the same schedule:

- ``text``: the assets' model, one hashed TF-IDF over title, tagline, overview and the genre and keyword tags,
  TruncatedSVD to 128 dimensions (``content.fit_content_model``);
- ``fields, equal``: the field-wise model (``content.fit_movie_content``, a block per TMDB field, 128 dimensions),
  every field weighted 1;
- ``fields, chosen``: the same with the field weights chosen on the tuning users by content alone
  (``evaluation.search_field_weights``).

Prints one row per seed and model, then the means: how much of the difference between models is the split.
"""

import argparse
import hashlib
import time

import numpy as np

from quality import PROTOCOL_DEFAULTS, fit_cached, load_sample
from spin_reel_assets.recommender import metrics
from spin_reel_assets.recommender.blend import schedule_key
from spin_reel_assets.recommender.content import (build_index, embed_fields, fit_content_model, fit_movie_content,
                                                  movie_fields, movie_text, weigh_fields)
from spin_reel_assets.recommender.evaluation import Scorer, content_top_k, search_field_weights, search_schedule
from spin_reel_assets.recommender.spark_als import AlsParams, local_session
from spin_reel_assets.recommender.split import protocol_split
from spin_reel_assets.resources import BUNDLED_SAMPLE


def text_vectors(columns: dict) -> np.ndarray:
    texts = [movie_text(title or "", overview or "", tagline or "", genres or [], keywords or [])
             for title, overview, tagline, genres, keywords in zip(
                 columns["title"], columns["overview"], columns["tagline"], columns["genres"], columns["keywords"])]
    return fit_content_model(texts)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2, 3])
    args = parser.parse_args()
    interactions, stamps, columns = load_sample(BUNDLED_SAMPLE)
    fields = movie_fields(columns)
    field_model, _ = fit_movie_content(fields)
    blocks = embed_fields(field_model, fields)
    equal = weigh_fields(blocks, field_model.layout, {})
    text = text_vectors(columns)
    indexes = {"text": build_index(text), "fields": build_index(equal)}  # fields: the equal-weight index, as stored
    test_fraction, new_share = PROTOCOL_DEFAULTS["temporal"]
    spark = local_session()
    print("| seed | content model | schedule | hybrid nDCG@10 (cold hits) | with the ridge route (cold hits) "
          "| content alone | seconds |")
    print("|---|---|---|---|---|---|---|")
    results: dict[str, list[float]] = {}
    for seed in args.seeds:
        split = protocol_split(interactions.users, stamps, "temporal", test_fraction, new_share, seed=seed)
        train, test = interactions.subset(split.train), interactions.matrix(split.test)
        matrix = train.matrix()
        key = f"temporal-{seed}-{hashlib.sha1(split.train.tobytes()).hexdigest()[:12]}"
        user_factors, item_factors, _ = fit_cached(spark, train, AlsParams(), key)
        tuning, evaluation = split.tuning_users, split.evaluation_users
        chosen, _ = search_field_weights(matrix, test, tuning, blocks, field_model.layout)
        models = {"text": (text, indexes["text"]), "fields, equal": (equal, indexes["fields"]),
                  "fields, chosen": (weigh_fields(blocks, field_model.layout, chosen), indexes["fields"])}
        cold = np.diff(matrix.tocsc().indptr) == 0
        for name, (vectors, index) in models.items():
            started = time.perf_counter()
            scores, hits = {}, {}
            for route in ("neighbours", "ridge"):
                scorer = Scorer(matrix, user_factors, item_factors, vectors, index, cold_route=route)
                if route == "neighbours":
                    schedule, _ = search_schedule(scorer, test, tuning)
                top = scorer.top_k(schedule, 10, evaluation)
                scores[route] = metrics.ndcg_at_k(top, test[evaluation], 10)
                report = metrics.segment_report(top, test[evaluation], scorer.n_train[evaluation], cold, 10)
                hits[route] = int(report["cold hits@10"])
            alone = metrics.ndcg_at_k(content_top_k(matrix[evaluation], vectors, 10), test[evaluation], 10)
            results.setdefault(name, []).append(scores["neighbours"])
            print(f"| {seed} | {name} | {schedule_key(schedule)} | {scores['neighbours']:.4f} ({hits['neighbours']}) "
                  f"| {scores['ridge']:.4f} ({hits['ridge']}) | {alone:.4f} | {time.perf_counter() - started:.0f} |",
                  flush=True)
    spark.stop()
    for name, values in results.items():
        print(f"{name}: mean hybrid nDCG@10 {np.mean(values):.4f} over {len(values)} seeds "
              f"({min(values):.4f}–{max(values):.4f})")


if __name__ == "__main__":
    main()
