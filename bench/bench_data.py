"""Input folders for the benchmarks: the bundled sample, or synthetic MovieLens-layout files generated once."""

import subprocess
import sys
from pathlib import Path

from spin_reel_assets.resources import BUNDLED_SAMPLE

REPO = Path(__file__).resolve().parents[1]


def synthetic(ratings: int) -> Path:
    """A folder of ``spin-reel synth`` files with ``ratings`` ratings (cached under .state/bench-data)."""
    folder = REPO / ".state" / "bench-data" / f"synth-{ratings}"
    if not (folder / "ratings.csv").exists():
        subprocess.run([sys.executable, "-m", "spin_reel_assets.cli", "synth", "--ratings", str(ratings), "--users",
                        str(max(ratings // 150, 100)), "--movies", str(max(ratings // 400, 500)), "--tmdb-movies",
                        str(max(ratings // 50, 2000)), "--out", str(folder), "--quiet"], check=True)
    return folder


def dataset(ratings: int) -> tuple[str, Path]:
    """(label, folder): the bundled sample for 0, else a synthetic folder."""
    return ("bundled sample", BUNDLED_SAMPLE) if ratings == 0 else (f"synthetic {ratings:,}", synthetic(ratings))
