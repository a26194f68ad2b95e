"""The executor of every run: Dagster's multiprocess executor (one process per step, independent steps at once,
as many as there are CPUs), except that steps tagged ``LARGE_MEMORY`` run one at a time. Of the ready steps the
one with the highest ``dagster/priority`` starts first (``conditions.STEP_RANKS``)."""

import dagster as dg

from spin_reel_assets.conditions import LARGE_MEMORY

# At MovieLens-25M with a 1M-movie TMDB file each of these steps holds the ratings, the content vectors and the
# factors; hybrid_recommendations beside recommendation_quality was the run's memory peak (10.2 GB RSS). One at a
# time costs little wall time: on 2 cores the two compete for the CPU anyway.
defs = dg.Definitions(executor=dg.multiprocess_executor.configured(
    {"tag_concurrency_limits": [{"key": key, "value": value, "limit": 1} for key, value in LARGE_MEMORY.items()]}
))
