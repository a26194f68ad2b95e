"""The project as dg and pip see it: dg loads the definitions, every import is a declared dependency, and the
constraints file pins exactly the tested set."""

import ast
import json
import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
DG = Path(sys.executable).with_name("dg")


def run_dg(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "VIRTUAL_ENV": str(Path(sys.executable).parents[1])}
    return subprocess.run([str(DG), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_dg_check_defs_loads_every_definition():
    done = run_dg("check", "defs")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "All definitions loaded successfully" in done.stdout + done.stderr


def test_dg_list_defs_shows_the_graph_by_stage():
    done = run_dg("list", "defs", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    listed = json.loads(done.stdout)
    groups = {asset["asset_key"]: asset["group_name"] for asset in listed["assets"]}
    assert groups == {
        "ratings_file": "ingest", "movies_file": "ingest", "links_file": "ingest", "tmdb_file": "ingest",
        "clean_ratings": "ingest", "clean_movies": "ingest",
        "ratings_table": "stores", "movies_table": "stores", "movies_collection": "stores",
        "als_model": "models", "als_validation_model": "models", "faiss_index": "models",
        "blend_weights": "serving", "hybrid_recommendations": "serving", "serving_form": "serving",
        "recommendation_quality": "serving",
    }
    checks = {check["key"] for check in listed["asset_checks"]}
    assert "clean_ratings:clean_ratings_are_sound" in checks and "hybrid_recommendations:every_user_has_top_n" in checks
    assert {sensor["name"] for sensor in listed["sensors"]} == {"automation", "input_files_sensor"}


def test_the_packaged_dg_config_matches_pyproject():
    """An installed wheel has no pyproject.toml: spin_reel_assets/dg.toml must say the same."""
    packaged = tomllib.loads((REPO / "spin_reel_assets" / "dg.toml").read_text())
    assert packaged["directory_type"] == PYPROJECT["tool"]["dg"]["directory_type"]
    assert packaged["project"] == PYPROJECT["tool"]["dg"]["project"]


def _imported_top_level(package: Path) -> set[str]:
    names = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_imported_distribution_is_declared():
    declared = {_requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}
    distributions = packages_distributions()
    ours = {"spin_reel_assets", "spin_reel_web"}
    missing = {}
    for package in ours:
        for module in _imported_top_level(REPO / package) - ours - set(sys.stdlib_module_names):
            names = {name.lower().replace("_", "-") for name in distributions.get(module, [module])}
            if not names & declared:
                missing[module] = sorted(names)
    assert not missing, f"imported but not in [project.dependencies]: {missing}"


def test_constraints_pin_every_dependency_to_the_installed_version():
    pins = dict(line.split("==") for line in (REPO / "constraints.txt").read_text().split() if "==" in line)
    pins = {_requirement_name(name): version for name, version in pins.items()}
    from importlib.metadata import version

    requirements = PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["test"]
    for requirement in requirements:
        name = _requirement_name(requirement)
        assert name in pins, f"{name} is not pinned in constraints.txt (run `make lock`)"
        assert pins[name] == version(name), f"{name}: installed {version(name)}, constraints.txt {pins[name]}"



def large_memory_job():
    """Two independent steps tagged LARGE_MEMORY and one untagged, on the project's executor."""
    import time

    import dagster as dg

    from spin_reel_assets.conditions import LARGE_MEMORY
    from spin_reel_assets.defs.executor import defs

    def sleeper(name: str, tags: dict):
        @dg.op(name=name, tags=tags)
        def sleep() -> None:
            time.sleep(2)

        return sleep

    @dg.job(executor_def=defs.executor)
    def job():
        sleeper("large_a", LARGE_MEMORY)()
        sleeper("large_b", LARGE_MEMORY)()
        sleeper("small", {})()

    return job


def test_runs_keep_the_large_memory_steps_apart(tmp_path):
    """The executor of every run holds back a second LARGE_MEMORY step (the steps that hold ratings, content
    vectors and factors together: two at once were the 25M run's memory peak), and only those."""
    import dagster as dg

    from spin_reel_assets.conditions import LARGE_MEMORY
    from spin_reel_assets.definitions import defs

    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = dg.execute_job(dg.reconstructable(large_memory_job), instance)
        assert result.success
        times = {}
        for record in instance.get_records_for_run(result.run_id).records:
            event = record.event_log_entry
            if event.dagster_event and event.dagster_event.event_type_value in ("STEP_START", "STEP_SUCCESS"):
                times.setdefault(event.step_key, []).append(event.timestamp)
    (a_start, a_end), (b_start, b_end), (small_start, _) = times["large_a"], times["large_b"], times["small"]
    assert a_end <= b_start or b_end <= a_start  # never both at once
    assert small_start < max(a_start, b_start)  # the untagged step did not wait for both
    (key, value), = LARGE_MEMORY.items()
    tagged = {spec.key.to_user_string() for assets in defs().assets for spec in assets.specs
              if assets.op.tags.get(key) == value}
    assert tagged == {"blend_weights", "hybrid_recommendations", "recommendation_quality"}


def test_step_priorities_put_the_als_fits_first_and_fall_along_every_edge():
    """Of the ready steps, the executor starts the one with the highest dagster/priority first: every asset has one,
    an asset always outranks what depends on it, and the ratings side up to the two ALS fits outranks the content
    side, so on 2 processes the fits never wait behind the MongoDB write or the content index."""
    import dagster as dg

    from spin_reel_assets.definitions import defs

    definitions = defs()
    rank = {spec.key.to_user_string(): int(assets.op.tags["dagster/priority"])
            for assets in definitions.assets if isinstance(assets, dg.AssetsDefinition) and assets.is_materializable
            for spec in assets.specs}
    graph = definitions.resolve_asset_graph()
    edges = [(parent.to_user_string(), key.to_user_string()) for key in graph.materializable_asset_keys
             for parent in graph.get(key).parent_keys if parent.to_user_string() in rank]
    assert len(edges) >= 15 and all(rank[parent] > rank[child] for parent, child in edges)
    ratings_side = {"clean_ratings", "ratings_table", "als_model", "als_validation_model"}
    assert min(rank[key] for key in ratings_side) > max(rank[key] for key in set(rank) - ratings_side)
