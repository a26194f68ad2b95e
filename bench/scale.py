"""Scale benchmark: the whole graph on synthetic MovieLens-layout data of growing size.

    python bench/scale.py --sizes 1000000 5000000 25000000      (make bench-scale)
    python bench/scale.py --sizes 1000000 --merge earlier.json   (re-measure some sizes, keep the others)

For each size, ``spin-reel synth`` files (cached under .state/bench-data) are materialized asset by asset into fresh
stores, each asset in its own process (time, and peak memory of its process tree with the Spark JVM). Prints a table,
each asset's growth exponent in ratings (the slope of log time over log ratings; 1 is linear) and a JSON line.
"""

import argparse
import json
import math
import sys
from pathlib import Path

from bench_data import dataset
from models import ORDER, measure_graph


# (label, asset, metadata key): figures the assets record, printed per size beside the goals of the scale issue.
GOALS = [
    ("PostgreSQL COPY rows/s", "ratings_table", "copy_rows_per_second"),
    ("PostgreSQL whole load s", "ratings_table", "load_seconds"),
    ("JDBC read rows/s", "als_model", "read_rows_per_second"),
    ("Spark ALS s/iteration", "als_model", "seconds_per_iteration"),
    ("MongoDB write s", "movies_collection", "write_seconds"),
    ("FAISS recall@10 vs exact", "faiss_index", "recall@10_vs_exact"),
    ("FAISS index build s", "faiss_index", "index_seconds"),
]


def exponent(sizes: list[int], seconds: list[float]) -> float | None:
    """Least-squares slope of log(seconds) on log(size)."""
    points = [(math.log(n), math.log(s)) for n, s in zip(sizes, seconds) if s and s > 0]
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000, 25_000_000], help="ratings per run")
    parser.add_argument("--merge", type=Path, help="a JSON line printed by an earlier run: its sizes join the table "
                        "(sizes measured again here replace them)")
    args = parser.parse_args()
    runs = {}
    if args.merge:
        earlier = json.loads(args.merge.read_text().strip().splitlines()[-1])
        for size in earlier["sizes"]:
            runs[size] = {row["asset"]: row["runs"][str(size)] for row in earlier["assets"] if row["runs"].get(str(size))}
    for size in args.sizes:
        label, folder = dataset(size)
        print(f"== {label}", flush=True)
        runs[size] = {row["asset"]: row for row in measure_graph(folder)}
    sizes = sorted(runs)
    print(f"\n{'asset':26}" + "".join(f"{f'{n:,} s':>16}{'MB':>8}" for n in sizes) + f"{'exponent':>10}")
    report = []
    for asset in ORDER:
        rows = [runs[n].get(asset) for n in sizes]
        seconds = [row["seconds"] if row and row["ok"] else None for row in rows]
        growth = exponent([n for n, s in zip(sizes, seconds) if s], [s for s in seconds if s])
        cells = "".join(f"{row['seconds']:>16.1f}{row['peak_mb']:>8}" if row else f"{'-':>16}{'-':>8}" for row in rows)
        print(f"{asset:26}{cells}{growth:>10.2f}" if growth is not None else f"{asset:26}{cells}{'-':>10}")
        report.append({"asset": asset, "runs": {str(n): runs[n].get(asset) for n in sizes}, "exponent": growth})
    totals = [sum(row["seconds"] for row in runs[n].values()) for n in sizes]
    print(f"{'total':26}" + "".join(f"{t:>16.1f}{'':>8}" for t in totals))
    print()
    for label, asset, key in GOALS:
        values = [runs[n].get(asset, {}).get("figures", {}).get(key) for n in sizes]
        print(f"{label:34}" + "".join(f"{v:>16,.0f}" if isinstance(v, (int, float)) and v >= 10 else
                                       f"{v:>16.3f}" if isinstance(v, float) else f"{'-':>16}" for v in values))
    print(json.dumps({"bench": "scale", "sizes": sizes, "assets": report, "total_seconds": dict(zip(map(str, sizes), totals))}))
    complete = all(row["ok"] for run in runs.values() for row in run.values()) and all(len(run) == len(ORDER) for run in runs.values())
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
