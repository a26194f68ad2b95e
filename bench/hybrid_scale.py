"""Micro-benchmark of the hybrid's library steps at MovieLens-25M / full-TMDB shape, no Spark and no stores.

    python bench/hybrid_scale.py                       (25M shape: 162k users, 60k fitted movies, 1M catalogue)
    python bench/hybrid_scale.py --scale 0.2           (a fifth of every size, for a quick look)
    python bench/hybrid_scale.py --before a9f4aa6      (also time the library as it was at that commit)
    python bench/hybrid_scale.py --only 'content index,scorer,schedule search'   (those steps only)

Inputs are seeded synthetic arrays of the real shapes: 1M content vectors (128-d, L2-normalized, topic-clustered,
2% empty texts), 64-d ALS factors for 162k users and 60k fitted movies scattered over the catalogue, and a CSR of
25M ratings with power-law user activity and movie popularity. Each step (the content index build, imputation,
profiles, user lists, explanations, similar-movie lists) runs on the code of this tree ("after") and, with
``--before``, on the recommender package extracted from an earlier commit, in the same process, the two versions
alternating step by step (the machine is shared: both see the same load at each step); this tree also makes the
user lists as the hybrid_recommendations asset does ("user lists, asset": its weight schedule and extra
candidates) and its similar-movie lists ("similar lists, asset": the movies with fitted factors only), then
blend_weights' schedule search on 5,000 tuning users with a fifth of their ratings held out ("scorer": the
evaluation's ``Scorer`` with its imputation; "schedule search": the 128 schedules ranked). Per step
the wall seconds and the peak RSS of the process (VmHWM, reset before each step) are printed, with the ratio.
Quality figures compare each result with an exact reference on a seeded sample: the share of the exact
candidate-stage top-20 found (user and similar lists) and the imputed factors' relative error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

REPO = Path(__file__).resolve().parents[1]
WEIGHT = 0.7  # the ALS share blend_weights chooses on the sample (similar-movie lists)
SCHEDULE_ARGS = dict(als_max=0.8, half_n=30.0, content=0.2)  # and its weight schedule for user lists
SAMPLE = 2000  # rows of each exactness sample


# --- inputs ---------------------------------------------------------------------------------------


def unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norms > 0, norms, 1)).astype(np.float32)


def make_inputs(scale: float, seed: int = 42) -> dict:
    rng = np.random.default_rng(seed)
    n_users, n_fitted, n_items = int(162_000 * scale), int(60_000 * scale), int(1_000_000 * scale)
    n_ratings, rank, dim = int(25_000_000 * scale), 64, 128
    # Content: each movie mixes a main and a secondary topic (of 2,000) with noise, like SVD'd TF-IDF; 2% empty.
    topics = unit(rng.normal(size=(2000, dim)))
    content = np.empty((n_items, dim), dtype=np.float32)
    for start in range(0, n_items, 100_000):
        size = min(100_000, n_items - start)
        main, second = rng.integers(0, 2000, size), rng.integers(0, 2000, size)
        block = topics[main] + 0.5 * topics[second] + rng.normal(scale=0.7 / np.sqrt(dim), size=(size, dim))
        content[start : start + size] = unit(block)
    content[rng.random(n_items) < 0.02] = 0
    # Fitted movies scattered over the catalogue (tmdb ids of rated movies are not the first ones).
    fitted = np.sort(rng.choice(n_items, size=n_fitted, replace=False))
    popularity = 1.0 / np.arange(1, n_fitted + 1) ** 0.9
    popularity = popularity[rng.permutation(n_fitted)]
    # Factors: a weak content component (ALS and content agree a little), popularity in the norm.
    mix = rng.normal(scale=1 / np.sqrt(dim), size=(dim, rank)).astype(np.float32)
    item_f = (content[fitted] @ mix + 0.5 * rng.normal(scale=1 / np.sqrt(rank), size=(n_fitted, rank))).astype(np.float32)
    item_f *= (0.3 + popularity / popularity.max()) [:, None].astype(np.float32) ** 0.3
    user_f = rng.normal(scale=1 / np.sqrt(rank), size=(n_users, rank)).astype(np.float32)
    fitted_factors = np.full((n_items, rank), np.nan, dtype=np.float32)
    fitted_factors[fitted] = item_f
    # Ratings: power-law activity (at least 20 per user, as MovieLens), Zipf popularity over the fitted movies.
    activity = rng.pareto(1.2, n_users) + 1
    counts = np.minimum(20 + (activity / activity.sum() * (n_ratings - 20 * n_users)).astype(np.int64), n_fitted // 2)
    users = np.repeat(np.arange(n_users), counts)
    items = fitted[rng.choice(n_fitted, size=len(users), p=popularity / popularity.sum())]
    keys = np.unique(users.astype(np.int64) * n_items + items)
    values = rng.choice(np.arange(1, 11) / 2, size=len(keys)).astype(np.float32)
    rated = sp.csr_matrix((values, (keys // n_items, keys % n_items)), shape=(n_users, n_items))
    rated.sort_indices()
    return {"user_factors": user_f, "fitted_factors": fitted_factors, "fitted": fitted, "content": content,
            "rated": rated, "tuning": tuning_split(rated)}


# --- the library of a commit ------------------------------------------------------------------------


LIBRARY = ("hybrid", "content", "evaluation")  # the modules each version's steps use


def library_at(commit: str, folder: Path):
    """The recommender package of ``commit``, importable as ``spin_reel_before.recommender``."""
    package = folder / "spin_reel_before"
    (package / "recommender").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    names = subprocess.run(["git", "ls-tree", "--name-only", commit, "spin_reel_assets/recommender/"], cwd=REPO,
                           check=True, capture_output=True, text=True).stdout.split()
    for name in names:
        if name.endswith(".py"):
            source = subprocess.run(["git", "show", f"{commit}:{name}"], cwd=REPO, check=True, capture_output=True,
                                    text=True).stdout
            (package / "recommender" / Path(name).name).write_text(source)
    sys.path.insert(0, str(folder))
    return tuple(importlib.import_module(f"spin_reel_before.recommender.{name}") for name in LIBRARY)


# --- measuring ---------------------------------------------------------------------------------------


def _status(key: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    return 0


def measured(label: str, results: dict, step, *args, **kwargs):
    """Run ``step``; record its seconds and the process's peak RSS during it (VmHWM reset first)."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # resets VmHWM to the current RSS
    before = _status("VmRSS:")
    started = time.perf_counter()
    out = step(*args, **kwargs)
    seconds = time.perf_counter() - started
    peak = _status("VmHWM:")
    results[label] = {"seconds": round(seconds, 2), "peak_mb": round(peak / 2**20), "added_mb": round((peak - before) / 2**20)}
    print(f" {label:16} {seconds:8.1f} s  peak {peak / 2**20:7.0f} MB (+{(peak - before) / 2**20:.0f})", flush=True)
    return out


def overlap(got_rows: np.ndarray, got_items: np.ndarray, ref_rows: np.ndarray, ref_items: np.ndarray) -> float:
    """Share of the reference's (row, item) pairs that the result has."""
    width = int(max(got_items.max(initial=0), ref_items.max(initial=0))) + 1
    got = np.unique(got_rows.astype(np.int64) * width + got_items)
    ref = np.unique(ref_rows.astype(np.int64) * width + ref_items)
    return float(np.isin(ref, got).mean()) if len(ref) else 1.0


def schedule_lists(hybrid, data: dict, state: dict) -> dict:
    """The user lists as the hybrid_recommendations asset makes them: the weight schedule over each user's rating
    count, the popularity prior, and the most rated and nearest unrated movies as extra candidates."""
    from spin_reel_assets.recommender.blend import Blender, WeightSchedule, popularity_prior
    from spin_reel_assets.recommender.evaluation import extra_candidates

    rated, (item_factors, imputed) = data["rated"], state["factors"]
    has_factors = np.zeros(rated.shape[1], dtype=bool)
    has_factors[data["fitted"]] = True
    blender = Blender(WeightSchedule(**SCHEDULE_ARGS), np.diff(rated.indptr),
                      popularity_prior(rated.indices, rated.shape[1]), has_factors)
    extra = extra_candidates(rated, state["profiles"], data["content"], imputed)
    return hybrid.recommend_users(data["user_factors"], item_factors, state["profiles"], data["content"], rated,
                                  blender, content_index=state["index"], als_items=data["fitted"], extra_items=extra)


def tuning_split(rated: sp.csr_matrix, users: int = 5_000, share: float = 0.2, seed: int = 11):
    """blend_weights' tuning shape: ``users`` seeded users with a random ``share`` of their ratings held out;
    returns (train, held-out, tuning users)."""
    rng = np.random.default_rng(seed)
    tuning = np.sort(rng.choice(rated.shape[0], size=min(users, rated.shape[0]), replace=False))
    row = np.repeat(np.arange(rated.shape[0]), np.diff(rated.indptr))
    held = np.isin(row, tuning) & (rng.random(rated.nnz) < share)
    coo = rated.tocoo()
    def part(mask):
        return sp.csr_matrix((coo.data[mask], (coo.row[mask], coo.col[mask])), shape=rated.shape)
    return part(~held), part(held), tuning


def schedule_search(evaluation, data: dict, state: dict) -> None:
    """blend_weights' schedule search over ``blend.SCHEDULE_GRID`` on the tuning users (the scorer's candidates
    are made on its first ranking, as in the asset)."""
    _, test, tuning = data["tuning"]
    evaluation.search_schedule(state["scorer"], test, tuning)


def steps(hybrid, content_lib, evaluation, data: dict, current: bool = False):
    """The library steps of one version, in order: (label, function) with each step's inputs from the previous;
    the ``current`` tree also makes the user lists as the asset does (``schedule_lists``; None for others)."""
    state: dict = {}
    yield "content index", lambda: state.__setitem__("index", content_lib.build_index(data["content"]))
    yield "impute", lambda: state.__setitem__("factors", hybrid.impute_item_factors(data["fitted_factors"],
                                                                                    data["content"]))
    yield "profiles", lambda: state.__setitem__("profiles", hybrid.content_profiles(data["rated"], data["content"]))
    yield "user lists", lambda: state.__setitem__("recs", hybrid.recommend_users(
        data["user_factors"], state["factors"][0], state["profiles"], data["content"], data["rated"], WEIGHT,
        content_index=state["index"], als_items=data["fitted"]))
    yield "user lists, asset", (lambda: schedule_lists(hybrid, data, state)) if current else None
    yield "explain", lambda: hybrid.explain(state["recs"]["user"], state["recs"]["item"], data["rated"],
                                            data["content"])
    yield "similar lists", lambda: state.__setitem__("similar", hybrid.similar_items(
        data["content"], state["factors"][0], WEIGHT, content_index=state["index"], candidates=100,
        als_items=data["fitted"]))
    # As the asset makes them: lists for the movies with fitted factors only (the web app ranks the others').
    yield "similar lists, asset", (lambda: hybrid.similar_items(
        data["content"], state["factors"][0], WEIGHT, content_index=state["index"], candidates=100,
        als_items=data["fitted"], items=data["fitted"])) if current else None
    yield "scorer", lambda: state.__setitem__("scorer", evaluation.Scorer(
        data["tuning"][0], data["user_factors"], data["fitted_factors"], data["content"], state["index"]))
    yield "schedule search", lambda: schedule_search(evaluation, data, state)
    yield "done", lambda: None
    state["recall"] = content_lib.recall_at_k_vs_exact(state["index"], data["content"], k=10)
    yield "figures", state


def figures(state: dict, quality: dict) -> dict:
    """Quality of one version's results against the exact references."""
    recs, similar, (item_factors, imputed) = state["recs"], state["similar"], state["factors"]
    users, items, cold = quality["users"], quality["items"], quality["cold"]
    in_sample = np.isin(recs["user"], users)
    similar_in_sample = np.isin(similar["item"], items)
    reference = quality["imputed"]
    has_reference = ~np.isnan(reference).any(axis=1)  # empty texts have no neighbours: no factors either way
    error = (np.linalg.norm(item_factors[cold][has_reference] - reference[has_reference], axis=1)
             / np.linalg.norm(reference[has_reference], axis=1))
    return {
        "index recall@10 vs exact": state["recall"],
        "user top-20 vs exact candidates": overlap(recs["user"][in_sample], recs["item"][in_sample],
                                                   users[quality["user_rows"]], quality["user_items"]),
        "similar top-20 vs exact": overlap(similar["item"][similar_in_sample], similar["similar"][similar_in_sample],
                                           quality["similar_rows"], quality["similar_items"]),
        "imputed median rel. error": float(np.nanmedian(error)) if len(error) else 0.0,
        "imputed movies": int(imputed.sum()),
        "user rows": int(len(recs["user"])),
        "similar rows": int(len(similar["item"])),
    }


def exact_references(hybrid, content_lib, data: dict, seed: int = 7) -> dict:
    """Exact answers on seeded samples, from this tree's code with exact search (no index given)."""
    rng = np.random.default_rng(seed)
    n_users, n_items = data["rated"].shape
    fitted_factors, content = data["fitted_factors"], data["content"]
    cold_all = np.flatnonzero(np.isnan(fitted_factors).all(axis=1))
    cold = np.sort(rng.choice(cold_all, size=min(SAMPLE, len(cold_all)), replace=False))
    # Exact imputation of the sampled cold movies: the warm movies plus those, exactly searched.
    sub = np.sort(np.concatenate([data["fitted"], cold]))
    completed, _ = hybrid.impute_item_factors(fitted_factors[sub], content[sub], exact_pairs=np.inf)
    imputed = completed[np.searchsorted(sub, cold)]
    # With the approximate imputation, as the library computes it for all movies, then exact candidates.
    item_factors, _ = hybrid.impute_item_factors(fitted_factors, content)
    users = np.sort(rng.choice(n_users, size=min(SAMPLE, n_users), replace=False))
    rated = data["rated"][users]
    recs = hybrid.recommend_users(data["user_factors"][users], item_factors, hybrid.content_profiles(rated, content),
                                  content, rated, WEIGHT, content_index=None, als_items=data["fitted"])
    items = np.sort(rng.choice(n_items, size=min(SAMPLE, n_items), replace=False))
    similar = hybrid.similar_items(content, item_factors, WEIGHT, candidates=100, als_items=data["fitted"],
                                   items=items)
    return {"users": users, "user_rows": recs["user"], "user_items": recs["item"], "items": items,
            "similar_rows": similar["item"], "similar_items": similar["similar"], "cold": cold, "imputed": imputed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 25M shape (default 1)")
    parser.add_argument("--before", help="also run the recommender package of this commit (e.g. the branch start)")
    parser.add_argument("--only", help="comma-separated steps to run (with the steps they need, e.g. 'content "
                        "index,scorer,schedule search'); no quality figures then")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    sys.path.insert(0, str(REPO))
    from spin_reel_assets.recommender import content as content_after
    from spin_reel_assets.recommender import evaluation as evaluation_after
    from spin_reel_assets.recommender import hybrid as hybrid_after

    started = time.perf_counter()
    data = make_inputs(args.scale)
    n_users, n_items = data["rated"].shape
    print(f"inputs: {n_users:,} users, {len(data['fitted']):,} fitted of {n_items:,} movies, "
          f"{data['rated'].nnz:,} ratings, made in {time.perf_counter() - started:.0f} s", flush=True)
    if only is None:
        started = time.perf_counter()
        quality = exact_references(hybrid_after, content_after, data)
        print(f"exact references on {SAMPLE:,}-row samples in {time.perf_counter() - started:.0f} s", flush=True)

    # Versions alternate step by step, so that both see the same (shared, noisy) machine at each step.
    report = {}
    with tempfile.TemporaryDirectory() as folder:
        versions = [("after", hybrid_after, content_after, evaluation_after)]
        if args.before:
            versions.insert(0, (f"before ({args.before})", *library_at(args.before, Path(folder))))
        runs = {label: steps(*library, data, current=label == "after") for label, *library in versions}
        report = {label: {} for label in runs}
        while True:
            for label, run in runs.items():
                step, function = next(run)
                if step == "figures":
                    report[label]["figures"] = figures(function, quality) if only is None else {}
                elif step != "done" and function is not None and (only is None or step in only):
                    print(f"{label:18}", end="")
                    measured(step, report[label], function)
            if step == "figures":
                break
    for label, results in report.items():
        print(f"== {label}")
        for name, value in results["figures"].items():
            print(f"  {name:32} {value:.4f}" if isinstance(value, float) else f"  {name:32} {value:,}")

    if len(report) == 2:
        before, after = report.values()
        print(f"\n{'step':18}{'before s':>10}{'after s':>10}{'speed-up':>10}{'before MB':>11}{'after MB':>10}")
        for step in after:
            if step == "figures" or step not in before:
                continue
            b, a = before[step], after[step]
            print(f"{step:18}{b['seconds']:>10.1f}{a['seconds']:>10.1f}{b['seconds'] / max(a['seconds'], 1e-3):>9.1f}x"
                  f"{b['peak_mb']:>11,}{a['peak_mb']:>10,}")
        total_b = sum(v["seconds"] for k, v in before.items() if k != "figures")
        total_a = sum(v["seconds"] for k, v in after.items() if k in before and k != "figures")
        print(f"{'total':18}{total_b:>10.1f}{total_a:>10.1f}{total_b / max(total_a, 1e-3):>9.1f}x")
    print(json.dumps({"bench": "hybrid_scale", "scale": args.scale, "users": n_users, "movies": n_items,
                      "ratings": int(data["rated"].nnz), "runs": report}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
