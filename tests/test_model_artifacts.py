"""Round trips of the model IO managers: the Spark ALS model with its parameters, the FAISS index with its mapping."""

import os

import dagster as dg
import numpy as np
import pytest
from dagster_pyspark import LazyPySparkResource
from upath import UPath

from spin_reel_assets.io_managers.model_files import (
    ITEM_FACTORS_FILE,
    USER_FACTORS_FILE,
    AlsFactorsIOManager,
    ContentIndex,
    FaissIndexIOManager,
    SparkModelIOManager,
    read_factors,
    swap_into_place,
    write_factors,
)
from spin_reel_assets.recommender.content import build_index, embed, fit_content_model
from spin_reel_assets.recommender.factors import AlsFactors, FactorTable
from spin_reel_assets.recommender.spark_als import AlsArtifact, AlsParams, factor_matrix, train_als

from .conftest import spark_config

TEXTS = [
    "a toy cowboy and a space ranger lost in the city", "space ranger rescues toys from a claw machine",
    "a clownfish father crosses the ocean to find his son", "sharks and turtles in the open ocean",
    "a detective hunts a serial killer in the rain", "a killer leaves riddles for a detective",
    "a chef rat cooks in a paris restaurant", "a young cook in paris dreams of a restaurant",
]


RATINGS = [(u, i, float(1 + (u * i) % 5)) for u in range(1, 21) for i in range(1, 16) if (u + i) % 3]


def content_index(exact_max: int = 200_000) -> ContentIndex:
    model, vectors = fit_content_model(TEXTS, dim=4, seed=1)
    ids = np.array([862, 863, 12, 13, 807, 808, 2062, 2063], dtype=np.int64)[::-1].copy()  # not sorted on purpose
    return ContentIndex(build_index(vectors, exact_max=exact_max), ids, model)


@pytest.mark.parametrize("where", ["folder", "object store"])
def test_faiss_index_round_trip_keeps_the_tmdb_mapping_and_the_text_model(tmp_path, where):
    base = str(tmp_path) if where == "folder" else f"memory://spin-reel-test-{os.getpid()}/artifacts"
    original = content_index()
    loaded = {}

    @dg.asset(io_manager_key="faiss")
    def faiss_index() -> ContentIndex:
        return original

    @dg.asset
    def reader(faiss_index: ContentIndex) -> None:
        loaded["index"] = faiss_index

    assert dg.materialize([faiss_index, reader], resources={"faiss": FaissIndexIOManager(base_dir=base)}).success
    back = loaded["index"]
    np.testing.assert_array_equal(back.ids, original.ids)
    np.testing.assert_allclose(back.vectors(), original.vectors())
    _, expected = original.index.search(original.vectors()[:2], 3)
    _, found = back.index.search(original.vectors()[:2], 3)
    np.testing.assert_array_equal(found, expected)
    # the fitted text model travels with the index: new text embeds into the same space
    np.testing.assert_allclose(embed(back.model, ["a space ranger toy"]), embed(original.model, ["a space ranger toy"]))
    assert UPath(base).joinpath("faiss_index", "index.faiss").exists()


def test_a_failed_save_keeps_the_previous_model_folder(tmp_path):
    target = tmp_path / "faiss_index"
    swap_into_place(lambda folder: (folder.mkdir(), (folder / "index.faiss").write_text("v1")), target)

    def broken(folder):
        folder.mkdir()
        (folder / "index.faiss").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        swap_into_place(broken, target)
    assert (target / "index.faiss").read_text() == "v1"
    assert [p.name for p in tmp_path.iterdir()] == ["faiss_index"]  # no staging folder left behind


@pytest.mark.spark
def test_spark_model_round_trip_keeps_factors_and_parameters(tmp_path):
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    pyspark = LazyPySparkResource(spark_config=spark_config())
    params = AlsParams(rank=4, max_iter=3, num_blocks=1)
    loaded = {}

    @dg.asset(io_manager_key="spark_models")
    def als_model(pyspark: LazyPySparkResource) -> AlsArtifact:
        frame = pyspark.spark_session.createDataFrame(RATINGS, ["user_id", "tmdb_id", "rating"])
        return AlsArtifact(train_als(frame, params, str(tmp_path / "checkpoints")), params)

    @dg.asset
    def reader(als_model: AlsArtifact) -> None:
        loaded["model"] = als_model

    resources = {"pyspark": pyspark, "spark_models": SparkModelIOManager(base_dir=str(tmp_path / "artifacts"), pyspark=pyspark)}
    result = dg.materialize([als_model, reader], resources=resources)
    assert result.success
    back = loaded["model"]
    assert back.params == params
    users = np.arange(1, 21)
    saved = factor_matrix(back.model.userFactors, users)
    assert saved.shape == (20, 4) and not np.isnan(saved).any()
    # refitting with the same seed gives the same factors: the saved model is the fitted one
    spark = back.model.userFactors.sparkSession
    frame = spark.createDataFrame(RATINGS, ["user_id", "tmdb_id", "rating"])
    refit = factor_matrix(train_als(frame, params, str(tmp_path / "checkpoints")).userFactors, users)
    np.testing.assert_allclose(saved, refit, rtol=1e-4, atol=1e-5)


def test_factors_saved_beside_the_spark_model_load_without_spark(tmp_path):
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    pyspark = LazyPySparkResource(spark_config=spark_config())
    params = AlsParams(rank=4, max_iter=3, num_blocks=1)
    base = str(tmp_path / "artifacts")
    loaded = {}

    @dg.asset(io_manager_key="spark_models")
    def als_model(pyspark: LazyPySparkResource) -> AlsArtifact:
        frame = pyspark.spark_session.createDataFrame(RATINGS, ["user_id", "tmdb_id", "rating"])
        return AlsArtifact(train_als(frame, params, str(tmp_path / "checkpoints")), params)

    @dg.asset
    def spark_reader(als_model: AlsArtifact) -> None:
        loaded["model"] = als_model

    @dg.asset(ins={"als_model": dg.AssetIn(input_manager_key="als_factors")})
    def factors_reader(als_model: AlsFactors) -> None:
        loaded["factors"] = als_model

    resources = {"pyspark": pyspark, "spark_models": SparkModelIOManager(base_dir=base, pyspark=pyspark),
                 "als_factors": AlsFactorsIOManager(base_dir=base)}
    assert dg.materialize([als_model, spark_reader, factors_reader], resources=resources).success
    assert (tmp_path / "artifacts" / "als_model" / USER_FACTORS_FILE).exists()
    assert (tmp_path / "artifacts" / "als_model" / "model").is_dir()  # the Spark model stays for who wants it
    model, factors = loaded["model"].model, loaded["factors"]
    assert factors.params == params
    # the same matrices as the Spark model's, aligned to any ids (unknown ids → NaN rows, as factor_matrix)
    users = np.array([20, 3, 1, 999, 7])
    items = np.arange(0, 18)
    np.testing.assert_array_equal(factors.user_matrix(users), factor_matrix(model.userFactors, np.sort(users))[
        np.argsort(np.argsort(users))])
    np.testing.assert_array_equal(factors.item_matrix(items), factor_matrix(model.itemFactors, items))
    assert np.isnan(factors.user_matrix(users)[3]).all() and not np.isnan(factors.user_matrix(users)[[0, 1, 2, 4]]).any()
    assert factors.users.ids.tolist() == list(range(1, 21)) and factors.users.factors.dtype == np.float32

    # A later run reads the factors with no Spark resource at all: no JVM for a reader of factors.
    loaded.clear()
    assert dg.materialize([dg.AssetSpec("als_model"), factors_reader],
                          resources={"als_factors": AlsFactorsIOManager(base_dir=base)}).success
    np.testing.assert_array_equal(loaded["factors"].items.factors, factors.items.factors)


def test_factor_files_round_trip_and_alignment(tmp_path):
    params = AlsParams(rank=3)
    rng = np.random.default_rng(0)
    users = FactorTable.from_unsorted(np.array([30, 10, 20]), rng.normal(size=(3, 3)))
    items = FactorTable(np.empty(0, dtype=np.int64), np.empty((0, 3), dtype=np.float32))  # no item factors at all
    write_factors(tmp_path / "f", AlsFactors(users, items, params))
    back = read_factors(tmp_path / "f")
    assert back.params == params and back.users.ids.tolist() == [10, 20, 30]
    np.testing.assert_array_equal(back.users.factors, users.factors)
    assert back.item_matrix(np.array([1, 2])).shape == (2, 3) and np.isnan(back.item_matrix(np.array([1, 2]))).all()
    aligned = back.user_matrix(np.array([20, 5, 30]))
    np.testing.assert_array_equal(aligned[[0, 2]], users.factors[[1, 2]])
    assert np.isnan(aligned[1]).all()
    with pytest.raises(ValueError):
        FactorTable(np.array([2, 1]), np.zeros((2, 3), dtype=np.float32))
    (tmp_path / "f" / ITEM_FACTORS_FILE).unlink()
    with pytest.raises(FileNotFoundError, match=ITEM_FACTORS_FILE):
        read_factors(tmp_path / "f")
