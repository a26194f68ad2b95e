"""Spark ALS: the partitioned JDBC read of the ratings table, training, and factors as numpy arrays."""

from __future__ import annotations

import os
import re
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pyarrow as pa

from spin_reel_assets.schema import MOVIE_ID, RATING, USER_ID


@dataclass(frozen=True)
class AlsParams:
    """ALS hyperparameters; the defaults of the als_model asset's ``AlsConfig``.

    Re-chosen on the temporal protocol (``split.protocol_split``: each user's last 20 % by time held out, 20 %
    simulated new users, 152 tuning users) of the bundled sample by ``bench/quality.py --tune-als``, nDCG@10 on
    the tuning users only (ALS alone / hybrid with segment weights), rank 64, 15 iterations:

    | scaling | regParam | alpha | ALS | hybrid |
    |---|---|---|---|---|
    | none | 0.5 | 1 | **0.1033** | **0.1264** |
    | log | 0.5 | 1 | 0.0974 | 0.1261 |
    | bm25 | 0.5 | 1 | 0.0907 | 0.1245 |
    | log | 0.1 | 1 | 0.1004 | 0.1240 |
    | log | 0.1 | 3 | 0.0866 | 0.1182 |
    | log | 1.0 | 1 | 0.0855 | 0.1230 |
    | log | 1.0 | 3 | 0.0979 | 0.1262 |

    So the raw rating stays the confidence (``scaling`` "none"): log and BM25 weighting (``scale_confidence``)
    do not help ALS on this protocol. Earlier, on the stratified split: rank 64 / regParam 0.5 / alpha 1 beat
    alpha 5 and regParam 0.05; alpha 5 and 20 over-trust heavy raters, regParam 2 collapses the factors, rank 128
    was no better and 5x slower. Implicit preferences: explicit ALS reaches only ~0.006 (recommendation_quality).
    """

    rank: int = 64
    max_iter: int = 15
    reg_param: float = 0.5
    implicit_prefs: bool = True
    alpha: float = 1.0
    seed: int = 42
    num_blocks: int = 4
    scaling: str = "none"  # confidence scaling of the ratings before ALS, see scale_confidence


SCALINGS = ("none", "log", "bm25")


def scale_confidence(users: np.ndarray, items: np.ndarray, ratings: np.ndarray, scaling: str,
                     k1: float = 100.0, b: float = 0.8) -> np.ndarray:
    """The values implicit ALS turns into confidence (c = 1 + alpha·value), from ratings as index arrays.

    ``none``: the rating itself; ``log``: log(1 + rating) (Hu, Koren & Volinsky), so a 5 is not ten times a 0.5;
    ``bm25``: Okapi BM25 as in benfred/implicit, rating · (k1 + 1) / (k1 · (1 − b + b · n_u / mean n) + rating) ·
    idf(item), which discounts heavy raters and popular items. A pure transform: same rows, same order.
    """
    ratings = np.asarray(ratings, dtype=np.float64)
    if scaling == "none":
        return ratings.astype(np.float32)
    if scaling == "log":
        return np.log1p(ratings).astype(np.float32)
    if scaling == "bm25":
        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        per_user = np.bincount(users)
        per_item = np.bincount(items)
        n_users = np.count_nonzero(per_user)
        idf = np.log(n_users / (1.0 + per_item))
        length = (1.0 - b) + b * per_user / per_user[per_user > 0].mean()
        return (ratings * (k1 + 1.0) / (k1 * length[users] + ratings) * idf[items]).astype(np.float32)
    raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")


@dataclass
class AlsArtifact:
    """A fitted Spark ``ALSModel`` with the parameters it was trained with (saved beside it)."""

    model: object
    params: AlsParams


class JdbcSetupError(RuntimeError):
    """Spark cannot load the JDBC driver or reach the database, or no executor starts; the message is one line."""


@contextmanager
def jdbc_errors(jdbc_url: str) -> Iterator[None]:
    """Turn the JVM's trace for a missing driver class or an unreachable database into a JdbcSetupError."""
    try:
        yield
    except Exception as error:  # py4j / pyspark errors carry the JVM trace (driver or executor side) in their text
        text = str(error)
        missing_class = "org.postgresql.Driver" in text and ("ClassNotFoundException" in text or "NoClassDefFoundError" in text)
        if missing_class or "No suitable driver" in text:
            raise JdbcSetupError(
                "the PostgreSQL JDBC driver (org.postgresql.Driver) is not on the Spark executors' classpath: "
                "SPIN_REEL_JDBC_JAR must be a jar the driver can read (Spark ships it) or a local: path present on "
                "every executor") from None
        # Spark 4 reports a failed connection as FAILED_JDBC.CONNECTION; executor-side, pgjdbc's own text remains.
        if "FAILED_JDBC.CONNECTION" in text or re.search(r"Connection to \S+ refused|UnknownHostException", text):
            raise JdbcSetupError(f"Spark cannot connect to PostgreSQL at {jdbc_url} (host, port or credentials): "
                                 "SPIN_REEL_POSTGRES_URL must name a server the driver and every executor reach") from None
        raise


def probe_jdbc(spark, reader, executor_wait: float) -> None:
    """Run a one-row query as a Spark task, so what the executors lack fails here, in one line.

    A task that has not finished after ``executor_wait`` seconds is cancelled: no executor came up (a ``local:``
    jar missing on the executors makes each one exit at start, and the master relaunches them forever; an
    executor larger than any worker's free memory or cores is never launched) and Spark itself would wait forever.
    """
    context = spark.sparkContext
    tag = f"spin-reel-jdbc-probe-{uuid.uuid4().hex[:8]}"
    timer = threading.Timer(executor_wait, context.cancelJobsWithTag, [tag])
    context.addJobTag(tag)
    timer.start()
    try:
        reader.option("query", "SELECT 1 AS probe").load().collect()
    except Exception:
        if timer.is_alive():
            raise
        raise JdbcSetupError(
            f"no Spark executor ran a task within {executor_wait:g}s on {context.master}: check the workers' logs "
            "(a local: SPIN_REEL_JDBC_JAR missing on the executors makes each exit at start; SPIN_REEL_SPARK_EXECUTOR_"
            "MEMORY/CORES larger than a worker offers keeps them from launching)") from None
    finally:
        timer.cancel()
        context.removeJobTag(tag)


def read_ratings_jdbc(spark, jdbc_url: str, properties: dict[str, str], table: str, bounds: tuple[int, int],
                      num_partitions: int = 4, fetchsize: int = 50_000, executor_wait: float = 300):
    """The ratings table over JDBC, split by user_id into ``num_partitions`` parallel reads.

    ``fetchsize`` makes the PostgreSQL driver stream rows with a cursor; without it the driver buffers the whole
    result in memory. ``bounds`` are the table's own min/max user_id. A one-row probe runs first on an executor
    (``probe_jdbc``): a driver class or database the executors lack fails here in one line (JdbcSetupError).
    """
    def jdbc():
        reader = spark.read.format("jdbc").option("url", jdbc_url)
        for key, value in properties.items():
            reader = reader.option(key, value)
        return reader

    with jdbc_errors(jdbc_url):
        probe_jdbc(spark, jdbc(), executor_wait)
        return (
            jdbc()
            .option("dbtable", table)
            .option("partitionColumn", USER_ID)
            .option("lowerBound", bounds[0])
            .option("upperBound", bounds[1] + 1)
            .option("numPartitions", num_partitions)
            .option("fetchsize", fetchsize)
            .load()
            .select(USER_ID, MOVIE_ID, RATING)
        )


def ratings_frame(spark, ratings: pa.Table):
    """An in-memory ratings table as a Spark DataFrame (for evaluation splits)."""
    columns = ratings.select([USER_ID, MOVIE_ID, RATING])
    return spark.createDataFrame(columns.to_pandas())


def train_als(ratings_df, params: AlsParams, checkpoint_dir: str):
    """Fit ALS on a DataFrame of (user_id, tmdb_id, rating); deterministic for a seed.

    With ``implicit_prefs`` the rating is the confidence (c = 1 + alpha·r): every rated movie is a positive
    signal, better ones stronger, which ranks far better than fitting the rating values (explicit ALS).
    """
    from pyspark.ml.recommendation import ALS

    spark = ratings_df.sparkSession
    if "://" not in checkpoint_dir:  # a URL (hdfs://, s3a://) is Spark's to create
        os.makedirs(checkpoint_dir, exist_ok=True)
    spark.sparkContext.setCheckpointDir(checkpoint_dir)
    als = ALS(
        rank=params.rank,
        maxIter=params.max_iter,
        regParam=params.reg_param,
        implicitPrefs=params.implicit_prefs,
        alpha=params.alpha,
        seed=params.seed,
        numUserBlocks=params.num_blocks,
        numItemBlocks=params.num_blocks,
        userCol=USER_ID,
        itemCol=MOVIE_ID,
        ratingCol=RATING,
        coldStartStrategy="drop",
        checkpointInterval=5,
    )
    return als.fit(ratings_df)


def factor_matrix(factors_df, ids: np.ndarray) -> np.ndarray:
    """Spark factors (id, features) aligned to ``ids``: row i holds the factors of ids[i], NaN when it has none."""
    frame = factors_df.toPandas()
    rank = len(frame["features"].iloc[0]) if len(frame) else 0
    matrix = np.full((len(ids), rank), np.nan, dtype=np.float32)
    if len(frame):
        position = np.searchsorted(ids, frame["id"].to_numpy())
        position = np.clip(position, 0, len(ids) - 1)
        found = ids[position] == frame["id"].to_numpy()
        matrix[position[found]] = np.stack(frame["features"].to_numpy()[found]).astype(np.float32)
    return matrix


def ratings_dataframe(spark, users: np.ndarray, items: np.ndarray, ratings: np.ndarray):
    """Ratings given as index arrays as a Spark DataFrame (user_id, tmdb_id, rating), sent to Spark as Arrow
    without a pandas copy; once it returns Spark holds its own copy, so the caller may free the arrays."""
    return spark.createDataFrame(
        pa.table({USER_ID: users.astype(np.int32), MOVIE_ID: items.astype(np.int32), RATING: ratings.astype(np.float32)}))


def fit_factors(frame, n_users: int, n_items: int, params: AlsParams, checkpoint_dir: str) -> tuple[np.ndarray, np.ndarray, object]:
    """Fit ALS on a ``ratings_dataframe``; factors as (n_users × rank, n_items × rank) with NaN rows for
    users/items absent from the data, and the fitted model (to score held-out pairs)."""
    model = train_als(frame, params, checkpoint_dir)
    return (factor_matrix(model.userFactors, np.arange(n_users)), factor_matrix(model.itemFactors, np.arange(n_items)), model)


def fit_factor_matrices(spark, users: np.ndarray, items: np.ndarray, ratings: np.ndarray, n_users: int,
                        n_items: int, params: AlsParams, checkpoint_dir: str) -> tuple[np.ndarray, np.ndarray, object]:
    """``fit_factors`` on ratings given as index arrays."""
    return fit_factors(ratings_dataframe(spark, users, items, ratings), n_users, n_items, params, checkpoint_dir)


def predict_pairs(model, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Model predictions for (user, item) index pairs, NaN where ALS has no factors (cold start dropped)."""
    spark = model.userFactors.sparkSession
    frame = spark.createDataFrame(
        pa.table({"row": np.arange(len(users)), USER_ID: users.astype(np.int32), MOVIE_ID: items.astype(np.int32)}).to_pandas()
    )
    scored = model.transform(frame).select("row", "prediction").toPandas()
    predictions = np.full(len(users), np.nan, dtype=np.float64)
    predictions[scored["row"].to_numpy()] = scored["prediction"].to_numpy()
    return predictions


def local_session(config: dict[str, str] | None = None):
    """A Spark session outside Dagster (benchmarks, tuning) built as SparkResource builds it, logging errors only."""
    from spin_reel_assets.resources import spark_config_from_env, start_spark_session

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    spark = start_spark_session(config or spark_config_from_env())
    spark.sparkContext.setLogLevel("ERROR")
    return spark
