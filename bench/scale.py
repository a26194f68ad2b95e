"""Scale benchmark: the whole graph on synthetic MovieLens-layout data of growing size.

    python bench/scale.py --sizes 1000000 5000000 25000000      (make bench-scale)
    python bench/scale.py --sizes 1000000 --merge earlier.json   (re-measure some sizes, keep the others)

    python bench/scale.py --sizes 1000000 --real-only           (only the real run, e.g. to check it works)

For each size, ``spin-reel synth`` files (cached under .state/bench-data) are materialized asset by asset into fresh
stores, each asset in its own process (time, and peak memory of its process tree with the Spark JVM). Then one real
run: ``dagster asset materialize --select '*' -m spin_reel_assets.definitions`` (the CLI, default multiprocess
executor, so independent branches overlap) into other fresh stores, its wall time and the peak memory of its whole
process tree (step processes and Spark JVMs included), the summed RSS sampled from /proc every 0.25 s and the summed
PSS (shared pages counted once, proportionally) read at new RSS highs, at most every 2 s, the steps running at the
peak, each step's time from the run's event log and the project's own time (the steps less the ALS fits and the MongoDB server's inserts); then a
TMDB-only change (a copy of the TMDB file gains a movie) and a timed ``spin-reel rebuild`` with what it rebuilt
(``--no-tmdb-rebuild`` skips it). Prints a table, each asset's growth exponent in ratings (the slope of log time
over log ratings; 1 is linear), the real runs, and a JSON line.
"""

import argparse
import gzip
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench_data import bench_stores, dataset
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


PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_memory(pid: int, pss: bool = True) -> tuple[int, int, int, dict[str, int]]:
    """(summed RSS bytes, summed PSS bytes or 0 without ``pss``, processes, RSS bytes by command name) of ``pid``
    and all its descendants, from /proc. RSS comes from ``statm`` (constant time); PSS from ``smaps_rollup``, which
    walks the page tables: about 75 ms for a 4.7 GB process, so sampling it 4 times a second took a third of the
    2-core machine at 25M. The names (``java`` for Spark's JVMs, ``python`` or ``dagster`` for step processes) say
    what a peak is made of."""
    rss = total_pss = count = 0
    by_name: dict[str, int] = {}
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/statm") as handle:
                resident = int(handle.read().split()[1]) * PAGE
            with open(f"/proc/{current}/comm") as handle:
                name = handle.read().strip()
            rss += resident
            by_name[name] = by_name.get(name, 0) + resident
            if pss:
                with open(f"/proc/{current}/smaps_rollup") as handle:
                    total_pss += sum(int(line.split()[1]) * 1024 for line in handle if line.startswith("Pss:"))
            count += 1
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    stack.extend(int(child) for child in handle.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
            continue
    return rss, total_pss, count, by_name


NEW_TMDB_ID = 2_100_000_000  # the movie the TMDB-only rebuild adds (fits int4, above every synthetic id)


def _tracked(command: list[str], env: dict, log: Path) -> dict:
    """Runs ``command``: wall seconds, peak RSS/PSS (MB) and most processes of its process tree, success."""
    peak = {"rss": 0, "pss": 0, "processes": 0}
    started = time.perf_counter()
    with open(log, "ab") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, cwd=Path(__file__).parents[1])

        def sample() -> None:
            pss_read = 0.0
            while process.poll() is None:
                rss, _, count, by_name = tree_memory(process.pid, pss=False)
                if rss > peak["rss"]:
                    peak["at"], peak["by_name"] = time.time(), by_name
                    # PSS only near a new RSS high, at most every 2 s: reading it is what costs.
                    if time.monotonic() - pss_read >= 2.0:
                        peak["pss"] = max(peak["pss"], tree_memory(process.pid)[1])
                        pss_read = time.monotonic()
                peak["rss"] = max(peak["rss"], rss)
                peak["processes"] = max(peak["processes"], count)
                time.sleep(0.25)

        sampler = threading.Thread(target=sample)
        sampler.start()
        process.wait()
        sampler.join()
    if process.returncode:
        sys.stderr.write(log.read_text(errors="replace")[-3000:])
    return {"seconds": round(time.perf_counter() - started, 1), "peak_rss_mb": round(peak["rss"] / 2**20),
            "peak_pss_mb": round(peak["pss"] / 2**20), "max_processes": peak["processes"], "ok": process.returncode == 0,
            "peak_at": peak.get("at"),
            "peak_rss_mb_by_process": {name: round(size / 2**20) for name, size in sorted(peak.get("by_name", {}).items())}}


def _run_ids(home: Path) -> set[str]:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        return {run.run_id for run in instance.get_runs()}


def _steps(home: Path, before: set[str]) -> dict[str, dict]:
    """Per step of the runs not in ``before``: its seconds, start and end (epoch), and its asset's numeric metadata."""
    import dagster as dg

    steps: dict[str, dict] = {}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for run in instance.get_runs():
            if run.run_id in before:
                continue
            started: dict[str, float] = {}
            for record in instance.all_logs(run.run_id):
                event = record.dagster_event
                if event is None or not event.step_key:
                    continue
                if event.event_type_value == "STEP_START":
                    started[event.step_key] = record.timestamp
                elif event.event_type_value == "STEP_SUCCESS":
                    begin = started.get(event.step_key, record.timestamp)
                    steps.setdefault(event.step_key, {}).update(
                        step_seconds=round(record.timestamp - begin, 1), start=begin, end=record.timestamp)
                elif event.event_type_value == "ASSET_MATERIALIZATION":
                    metadata = record.asset_materialization.metadata
                    steps.setdefault(event.step_key, {}).update(
                        {key: value.value for key, value in metadata.items() if isinstance(value.value, (int, float))},
                        materialized=True)
    return steps


def running_at(steps: dict[str, dict], moment: float | None) -> list[str]:
    """The steps that were running at ``moment`` (epoch seconds): whose memory the peak is."""
    return sorted(key for key, step in steps.items() if moment and step.get("start", 0) <= moment <= step.get("end", 0))


def own_code_seconds(steps: dict[str, dict]) -> float:
    """Summed step time outside the Spark ALS fits and the Mongo server's inserts (the scale issue's "own code")."""
    fits = sum(steps.get(asset, {}).get(key, 0) for asset, key in
               (("als_model", "train_seconds"), ("als_validation_model", "fit_seconds")))
    mongo = steps.get("movies_collection", {}).get("write_seconds", 0)
    return round(sum(step.get("step_seconds", 0) for step in steps.values()) - fits - mongo, 1)


def _add_a_movie(tmdb_file: Path) -> None:
    """A TMDB-only change: the file gains one movie (its last row again, under a new id)."""
    with open(tmdb_file, "rb+") as handle:
        handle.seek(max(0, tmdb_file.stat().st_size - 1_000_000))
        last = handle.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
        first_field, rest = last.split(b",", 1)
        handle.seek(0, os.SEEK_END)
        handle.write(b"\n" + (b'"%d"' % NEW_TMDB_ID if first_field.startswith(b'"') else b"%d" % NEW_TMDB_ID) + b"," + rest + b"\n")


def real_run(data_dir: Path, tmdb_rebuild: bool = True) -> dict:
    """One ``dagster asset materialize --select '*'`` of the whole graph into fresh stores (wall seconds, peak tree
    RSS/PSS in MB, most processes at once, success, per-asset step seconds and the own-code sum); then a TMDB-only
    change (the TMDB file, copied, gains a movie) and ``spin-reel rebuild``: the same figures and which assets it
    rebuilt (none of them a Spark fit, if the graph is right)."""
    with bench_stores() as (postgres_url, mongo_uri, name, work):
        home = work / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").touch()  # SQLite storage in DAGSTER_HOME, as `make stores`
        tmdb = work / "TMDB_movie_dataset_v11.csv"
        source = next(data_dir.glob("TMDB_movie_dataset_v11.csv*"))
        with (gzip.open if source.suffix == ".gz" else open)(source, "rb") as original, open(tmdb, "wb") as copy:
            shutil.copyfileobj(original, copy, 1 << 24)
        env = {**os.environ, "DAGSTER_HOME": str(home), "SPIN_REEL_ARTIFACTS_DIR": str(work / "artifacts"),
               "SPIN_REEL_POSTGRES_URL": postgres_url, "SPIN_REEL_MONGO_URI": mongo_uri, "SPIN_REEL_MONGO_DB": name,
               "SPIN_REEL_DATA_DIR": str(data_dir), "SPIN_REEL_TMDB_FILE": str(tmdb), "SPARK_LOCAL_IP": "127.0.0.1"}
        spin_reel = [str(Path(sys.executable).with_name("spin-reel")), "rebuild"]
        log = work / "materialize.log"
        # Observed first, so the materializations record the inputs' data versions a later rebuild compares with.
        subprocess.run(spin_reel + ["--dry-run"], env=env, check=True, capture_output=True)
        dagster = Path(sys.executable).with_name("dagster")
        before = _run_ids(home)
        result = _tracked([str(dagster), "asset", "materialize", "--select", "*", "-m", "spin_reel_assets.definitions"],
                          env, log)
        result["steps"] = _steps(home, before)
        result["own_code_seconds"] = own_code_seconds(result["steps"])
        result["at_peak"] = running_at(result["steps"], result["peak_at"])
        if result["ok"] and tmdb_rebuild:
            _add_a_movie(tmdb)
            before = _run_ids(home)
            rebuild = _tracked(spin_reel, env, log)
            rebuild["steps"] = _steps(home, before)
            # (its other step observes the input files: hashing them)
            rebuild["rebuilt"] = sorted(key for key, step in rebuild["steps"].items() if step.get("materialized"))
            rebuild["at_peak"] = running_at(rebuild["steps"], rebuild["peak_at"])
            result["tmdb_rebuild"] = rebuild
        return result


def _print_real(size: int, row: dict) -> None:
    print(f"{size:<26,}{row['seconds']:>10.1f}{row['peak_rss_mb']:>10,}{row['peak_pss_mb']:>10,}{row['max_processes']:>7}"
          f"{row.get('own_code_seconds', 0):>10.1f}{'' if row['ok'] else '  FAILED'}")
    rebuild = row.get("tmdb_rebuild")
    if rebuild:
        share = rebuild["seconds"] / row["seconds"]
        print(f"{'  TMDB-only rebuild':<26}{rebuild['seconds']:>10.1f}{rebuild['peak_rss_mb']:>10,}{rebuild['peak_pss_mb']:>10,}"
              f"{rebuild['max_processes']:>7}{'':>10}  {share:.0%} of the run; rebuilt {', '.join(rebuild['rebuilt'])}"
              f"{'' if rebuild['ok'] else '  FAILED'}")
    for label, run in (("run", row), ("rebuild", rebuild or {})):
        if run.get("at_peak") is not None:
            print(f"  {label} peak memory while running: {', '.join(run['at_peak']) or '(between steps)'}; RSS MB by "
                  "process name: " + ", ".join(f"{name} {mb:,}" for name, mb in run.get("peak_rss_mb_by_process", {}).items()))
        if run.get("steps"):
            print(f"  {label} step seconds: " + ", ".join(f"{key} {step.get('step_seconds', 0):.0f}"
                                                          for key, step in run["steps"].items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000, 25_000_000], help="ratings per run")
    parser.add_argument("--real-only", action="store_true", help="skip the asset-by-asset pass, only the real run")
    parser.add_argument("--no-tmdb-rebuild", action="store_true", help="skip the TMDB-only rebuild after the real run")
    parser.add_argument("--merge", type=Path, help="a JSON line printed by an earlier run: its sizes join the table "
                        "(sizes measured again here replace them)")
    args = parser.parse_args()
    runs, real = {}, {}
    if args.merge:
        earlier = json.loads(args.merge.read_text().strip().splitlines()[-1])
        for size in earlier["sizes"]:
            runs[size] = {row["asset"]: row["runs"][str(size)] for row in earlier["assets"] if row["runs"].get(str(size))}
        real = {int(size): run for size, run in earlier.get("real_runs", {}).items()}
    for size in args.sizes:
        label, folder = dataset(size)
        print(f"== {label}", flush=True)
        if not args.real_only:
            runs[size] = {row["asset"]: row for row in measure_graph(folder)}
        real[size] = real_run(folder, tmdb_rebuild=not args.no_tmdb_rebuild)
        print(f"real run (dagster asset materialize --select '*'): {real[size]['seconds']:.1f} s, peak tree RSS "
              f"{real[size]['peak_rss_mb']:,} MB, PSS {real[size]['peak_pss_mb']:,} MB"
              f"{'' if real[size]['ok'] else '  FAILED'}", flush=True)
    print(f"\n{'real run':26}{'wall s':>10}{'RSS MB':>10}{'PSS MB':>10}{'procs':>7}{'own s':>10}")
    for size in sorted(real):
        _print_real(size, real[size])
    if args.real_only and not runs:
        print(json.dumps({"bench": "scale", "sizes": [], "assets": [], "real_runs": {str(n): r for n, r in real.items()}}))
        return 0 if all(row["ok"] for row in real.values()) else 1
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
    print(json.dumps({"bench": "scale", "sizes": sizes, "assets": report, "total_seconds": dict(zip(map(str, sizes), totals)),
                      "real_runs": {str(n): r for n, r in real.items()}}))
    complete = (all(row["ok"] for run in runs.values() for row in run.values())
                and all(len(run) == len(ORDER) for run in runs.values()) and all(row["ok"] for row in real.values()))
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
