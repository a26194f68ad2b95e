"""The synthetic MovieLens/TMDB generator: layouts identical to the real files, MovieLens-like statistics,
determinism, and latent structure a recommender can find."""

from __future__ import annotations

import csv
import gzip
import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spin_reel_assets.devtools import synth

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
SMALL = dict(ratings=50_000, users=500, movies=1_500, tmdb_movies=4_000)
TINY = dict(ratings=12_000, users=200, movies=400, tmdb_movies=1_000)
ML_GENRES = {ml for ml, _, _ in synth.GENRES if ml} | {synth.NO_GENRES}
TMDB_GENRES = set(synth.TMDB_GENRE_NAMES)


def _generate(out: Path, **kwargs) -> synth.SynthSummary:
    return synth.generate(synth.SynthConfig(out=out, **kwargs))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    summary = _generate(out, **SMALL)
    assert summary.rows == {"ratings": SMALL["ratings"], "movies": SMALL["movies"], "links": SMALL["movies"],
                            "tmdb": SMALL["tmdb_movies"]}
    return out


@pytest.fixture(scope="module")
def ratings(data: Path) -> pd.DataFrame:
    return pd.read_csv(data / "ratings.csv")


@pytest.fixture(scope="module")
def movies(data: Path) -> pd.DataFrame:
    return pd.read_csv(data / "movies.csv")


@pytest.fixture(scope="module")
def links(data: Path) -> pd.DataFrame:
    return pd.read_csv(data / "links.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def tmdb_rows(data: Path) -> list[list[str]]:
    with open(data / "TMDB_movie_dataset_v11.csv", newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle, strict=True))


def _first_line(path: Path) -> bytes:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        return handle.readline()


# --- layout ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ratings", "movies", "links", "tmdb"])
def test_headers_and_line_ends_are_those_of_the_real_files(data: Path, kind: str):
    name = synth.FILE_NAMES[kind]
    real = _first_line(SAMPLE / f"{name}.gz")
    assert _first_line(data / name) == real  # same names, same quoting, same CRLF (MovieLens) / LF (TMDB)


def test_ratings_rows_look_like_movielens(data: Path, ratings: pd.DataFrame):
    lines = (data / "ratings.csv").read_bytes().split(b"\r\n")
    assert lines[-1] == b"" and all(re.fullmatch(rb"\d+,\d+,[0-5]\.[05],\d{9,10}", line) for line in lines[1:-1])
    assert set(ratings["rating"].unique()) <= {v / 2 for v in range(1, 11)}
    assert len(ratings) == SMALL["ratings"]
    # sorted by userId, then movieId; users numbered 1..n
    key = ratings["userId"].to_numpy() * 10**7 + ratings["movieId"].to_numpy()
    assert (np.diff(key) > 0).all()  # strictly: also no duplicate (user, movie) pair
    assert not ratings.duplicated(["userId", "movieId"]).any()
    assert ratings["userId"].min() == 1 and ratings["userId"].max() == SMALL["users"]


def test_rating_distribution_is_movielens(ratings: pd.DataFrame):
    share = ratings["rating"].value_counts(normalize=True).reindex([v / 2 for v in range(1, 11)], fill_value=0)
    real = pd.read_csv(SAMPLE / "ratings.csv.gz")["rating"].value_counts(normalize=True).sort_index()
    assert np.allclose(real.to_numpy(), synth.RATING_PROBS)  # the hard-coded distribution is the sample's
    total_variation = 0.5 * np.abs(share.to_numpy() - synth.RATING_PROBS).sum()
    assert total_variation < 0.05


def test_every_user_has_at_least_20_ratings_and_activity_is_skewed(ratings: pd.DataFrame):
    per_user = ratings.groupby("userId").size()
    assert len(per_user) == SMALL["users"]
    assert per_user.min() >= 20
    assert per_user.max() > 4 * per_user.median()


def test_movie_popularity_is_heavy_tailed(ratings: pd.DataFrame, movies: pd.DataFrame):
    per_movie = ratings.groupby("movieId").size().sort_values(ascending=False)
    top = per_movie.iloc[: len(movies) // 10].sum()
    assert top / len(ratings) > 0.40
    assert per_movie.iloc[0] > 20 * per_movie.median()


def test_timestamps_are_plausible(ratings: pd.DataFrame, movies: pd.DataFrame):
    when = pd.to_datetime(ratings["timestamp"], unit="s")
    assert when.min() >= pd.Timestamp("1995-01-01") and when.max() <= pd.Timestamp("2024-01-01")
    year = movies.set_index("movieId")["title"].str.extract(r"\((\d{4})\)$")[0].astype(int)
    assert (when.dt.year.to_numpy() >= year.reindex(ratings["movieId"]).to_numpy()).all()  # never before release


def test_movies_titles_genres_and_quoting(data: Path, movies: pd.DataFrame):
    assert movies["movieId"].is_monotonic_increasing and movies["movieId"].is_unique
    assert movies["movieId"].max() > len(movies)  # ids with gaps, as in MovieLens
    assert movies["title"].str.fullmatch(r".+ \(\d{4}\)").all()
    assert {g for genres in movies["genres"] for g in genres.split("|")} <= ML_GENRES
    assert movies["title"].str.contains(", The (", regex=False).any()  # "Matrix, The (1999)"
    # quoted exactly as MovieLens (and the csv module's minimal quoting) does: only with a comma or a quote inside
    raw = (data / "movies.csv").read_bytes().decode("utf-8")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["movieId", "title", "genres"])
    writer.writerows(movies.astype(str).itertuples(index=False))
    assert buffer.getvalue() == raw
    assert raw.count('"') > 0


def test_links_cover_every_movie(data: Path, ratings: pd.DataFrame, movies: pd.DataFrame, links: pd.DataFrame):
    assert (data / "links.csv").read_bytes().endswith(b"\r\n")
    assert links["movieId"].astype(int).tolist() == movies["movieId"].tolist()
    assert set(ratings["movieId"]) <= set(links["movieId"].astype(int))
    assert links["imdbId"].str.fullmatch(r"\d{7}").all() and links["imdbId"].is_unique
    empty = links["tmdbId"] == ""
    assert 1 <= empty.sum() <= 0.01 * len(links)  # a handful without tmdbId, as in the real file
    assert links.loc[~empty, "tmdbId"].str.fullmatch(r"\d+").all() and links.loc[~empty, "tmdbId"].is_unique


def test_tmdb_layout(data: Path, tmdb_rows: list[list[str]]):
    header, rows = tmdb_rows[0], tmdb_rows[1:]
    assert header == list(synth.TMDB_COLUMNS)
    assert len(rows) == SMALL["tmdb_movies"]
    assert all(len(row) == 24 for row in rows)
    # every field double-quoted, LF line ends: writing the parsed rows back with QUOTE_ALL gives the same bytes
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(tmdb_rows)
    assert buffer.getvalue().encode("utf-8") == (data / "TMDB_movie_dataset_v11.csv").read_bytes()


def test_tmdb_values(tmdb_rows: list[list[str]], links: pd.DataFrame):
    table = pd.DataFrame(tmdb_rows[1:], columns=tmdb_rows[0])
    linked = set(links.loc[links["tmdbId"] != "", "tmdbId"])
    assert linked <= set(table["id"])  # ratings map through links onto TMDB rows
    assert table["id"].str.fullmatch(r"\d+").all()
    assert 1 <= table["id"].duplicated().sum() <= 0.01 * len(table)  # a few duplicate ids for the pipeline to drop
    adult = table["adult"] == "True"
    assert set(table["adult"]) == {"True", "False"} and 0 < adult.mean() < 0.05
    assert not (adult & table["id"].isin(linked)).any()  # rated movies are never adult
    assert table["release_date"].str.fullmatch(r"(\d{4}-\d{2}-\d{2})?").all()
    for column in ("vote_count", "revenue", "runtime", "budget"):
        assert table[column].str.fullmatch(r"\d+").all()
    assert (table["budget"] == "0").mean() > 0.5 and (table["revenue"] == "0").mean() > 0.5
    for column in ("vote_average", "popularity"):
        assert table[column].str.fullmatch(r"\d+\.\d+").all()
    assert table["poster_path"].str.fullmatch(r"(/[0-9A-Za-z]{27}\.jpg)?").all()
    assert (table["poster_path"] == "").any() and (table["poster_path"] != "").mean() > 0.5
    assert table["imdb_id"].str.fullmatch(r"(tt\d{7,8})?").all()
    genres = {g for value in table["genres"] for g in value.split(", ") if value}
    assert genres <= TMDB_GENRES and {"Science Fiction", "Family"} <= genres
    assert (table["keywords"] != "").mean() > 0.2 and (table["overview"] != "").mean() > 0.9
    # the file is sorted by vote_count, most voted first, like the Kaggle file
    votes = table["vote_count"].astype(int).to_numpy()
    assert (np.diff(votes) <= 0).all()


def test_tmdb_follows_movielens_popularity_and_ratings(ratings: pd.DataFrame, links: pd.DataFrame, tmdb_rows):
    table = pd.DataFrame(tmdb_rows[1:], columns=tmdb_rows[0]).drop_duplicates("id")
    linked = links[links["tmdbId"] != ""].astype({"movieId": int})
    stats = ratings.groupby("movieId")["rating"].agg(["size", "mean"])
    merged = linked.merge(table, left_on="tmdbId", right_on="id").join(stats, on="movieId").dropna()
    assert np.corrcoef(np.log1p(merged["size"]), np.log1p(merged["vote_count"].astype(int)))[0, 1] > 0.6
    assert np.corrcoef(np.log(merged["popularity"].astype(float)), np.log1p(merged["vote_count"].astype(int)))[0, 1] > 0.6
    enough = merged[merged["size"] >= 20]
    assert np.corrcoef(enough["mean"], enough["vote_average"].astype(float))[0, 1] > 0.5


def test_movielens_and_tmdb_agree_on_genres_and_years(movies: pd.DataFrame, links: pd.DataFrame, tmdb_rows):
    table = pd.DataFrame(tmdb_rows[1:], columns=tmdb_rows[0]).drop_duplicates("id")
    merged = movies.merge(links.astype({"movieId": int}), on="movieId").merge(table, left_on="tmdbId", right_on="id")
    to_tmdb = {ml: tmdb for ml, tmdb, _ in synth.GENRES if ml}
    tmdb_only = {tmdb for ml, tmdb, _ in synth.GENRES if not ml}  # History, TV Movie
    for ml_genres, tmdb_genres in zip(merged["genres_x"], merged["genres_y"]):
        if ml_genres != synth.NO_GENRES:
            expected = {to_tmdb[g] for g in ml_genres.split("|") if to_tmdb[g]}
            assert expected == set(filter(None, tmdb_genres.split(", "))) - tmdb_only
    assert (merged["title_x"].str.extract(r"\((\d{4})\)$")[0] == merged["release_date"].str[:4]).all()


# --- determinism and the command line -----------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path):
    _generate(tmp_path / "a", **TINY)
    _generate(tmp_path / "b", **TINY)
    _generate(tmp_path / "c", **TINY, seed=7)
    for name in synth.FILE_NAMES.values():
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "ratings.csv").read_bytes() != (tmp_path / "c" / "ratings.csv").read_bytes()
    assert (tmp_path / "a" / "TMDB_movie_dataset_v11.csv").read_bytes() != (tmp_path / "c" / "TMDB_movie_dataset_v11.csv").read_bytes()


def test_gzip_holds_the_same_bytes_and_is_deterministic(tmp_path: Path):
    _generate(tmp_path / "plain", **TINY)
    _generate(tmp_path / "gz1", **TINY, gzip=True)
    _generate(tmp_path / "gz2", **TINY, gzip=True)
    for name in synth.FILE_NAMES.values():
        assert not (tmp_path / "gz1" / name).exists()
        packed = (tmp_path / "gz1" / f"{name}.gz").read_bytes()
        assert packed == (tmp_path / "gz2" / f"{name}.gz").read_bytes()
        assert gzip.decompress(packed) == (tmp_path / "plain" / name).read_bytes()


def test_cli_writes_the_files(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "spin_reel_assets.devtools.cli", "synth", "--ratings", "8000", "--users", "100", "--movies", "300",
         "--tmdb-movies", "700", "--out", str(tmp_path / "out"), "--seed", "3", "--gzip"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "ratings/s" in result.stdout
    for name in synth.FILE_NAMES.values():
        assert (tmp_path / "out" / f"{name}.gz").stat().st_size > 0
    assert not list((tmp_path / "out").glob("*.part"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--ratings", "1000", "--users", "100"], "at least 2,000"),
        (["--ratings", "10000", "--users", "10", "--movies", "100"], "too many"),
        (["--ratings", "5000", "--users", "100", "--movies", "200", "--tmdb-movies", "150"], "--tmdb-movies"),
        (["--ratings", "5000", "--users", "100", "--movies", "10"], "--movies"),
        (["--ratings", "-3"], "--ratings"),
        (["--ratings", "lots"], "--ratings"),
    ],
)
def test_cli_rejects_nonsense_without_a_traceback(tmp_path: Path, args: list[str], message: str):
    result = subprocess.run([sys.executable, "-m", "spin_reel_assets.devtools.cli", "synth", *args, "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert message in result.stderr and "error:" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir())


# --- signal --------------------------------------------------------------------------------------------------------


def _codes(ratings: pd.DataFrame):
    users = ratings["userId"].astype("category").cat.codes.to_numpy()
    items = ratings["movieId"].astype("category").cat.codes.to_numpy()
    return users, items, ratings["rating"].to_numpy(dtype=np.float64)


def _bias_model(users, items, values, n_users, n_items, reg=5.0, sweeps=10):
    mean = values.mean()
    user_bias, item_bias = np.zeros(n_users), np.zeros(n_items)
    for _ in range(sweeps):
        residual = values - mean - user_bias[users]
        item_bias = np.bincount(items, residual, n_items) / (np.bincount(items, minlength=n_items) + reg)
        residual = values - mean - item_bias[items]
        user_bias = np.bincount(users, residual, n_users) / (np.bincount(users, minlength=n_users) + reg)
    return mean, user_bias, item_bias


def _als(users, items, residual, n_users, n_items, rank=8, reg=10.0, sweeps=8, seed=0):
    rng = np.random.default_rng(seed)
    user_f, item_f = rng.normal(0, 0.1, (n_users, rank)), rng.normal(0, 0.1, (n_items, rank))

    def solve(rows, cols, other, n_rows):
        order = np.argsort(rows, kind="stable")
        bounds = np.searchsorted(rows[order], np.arange(n_rows + 1))
        out = np.zeros((n_rows, rank))
        for r in range(n_rows):
            idx = order[bounds[r] : bounds[r + 1]]
            if len(idx):
                f = other[cols[idx]]
                out[r] = np.linalg.solve(f.T @ f + reg * np.eye(rank), f.T @ residual[idx])
        return out

    for _ in range(sweeps):
        user_f = solve(users, items, item_f, n_users)
        item_f = solve(items, users, user_f, n_items)
    return user_f, item_f


def test_matrix_factorization_beats_biases_on_held_out_ratings(ratings: pd.DataFrame):
    users, items, values = _codes(ratings)
    n_users, n_items = users.max() + 1, items.max() + 1
    test = np.random.default_rng(0).random(len(values)) < 0.1
    train = ~test
    mean, user_bias, item_bias = _bias_model(users[train], items[train], values[train], n_users, n_items)
    baseline = mean + user_bias[users] + item_bias[items]
    user_f, item_f = _als(users[train], items[train], values[train] - baseline[train], n_users, n_items)
    factorized = baseline + np.einsum("ij,ij->i", user_f[users], item_f[items])
    rmse_bias = np.sqrt(np.mean((baseline[test] - values[test]) ** 2))
    rmse_mf = np.sqrt(np.mean((factorized[test] - values[test]) ** 2))
    assert rmse_mf < rmse_bias - 0.03, (rmse_bias, rmse_mf)


def test_genres_carry_user_taste(ratings: pd.DataFrame, movies: pd.DataFrame):
    """A user's liking for a genre, measured on half of their movies of that genre, predicts the other half."""
    users, items, values = _codes(ratings)
    mean, user_bias, item_bias = _bias_model(users, items, values, users.max() + 1, items.max() + 1)
    frame = ratings.assign(residual=values - mean - user_bias[users] - item_bias[items])
    frame = frame.merge(movies[["movieId", "genres"]], on="movieId")
    frame["genre"] = frame["genres"].str.split("|")
    frame = frame.explode("genre")
    frame["half"] = np.random.default_rng(1).integers(0, 2, len(frame))
    halves = frame.groupby(["userId", "genre", "half"])["residual"].agg(["mean", "size"]).unstack("half")
    halves = halves[(halves["size"] >= 5).all(axis=1)]
    assert len(halves) > 200
    assert np.corrcoef(halves["mean"][0], halves["mean"][1])[0, 1] > 0.15


# --- the pipeline's readers take the files as they are -------------------------------------------------------------


def test_pipeline_readers_accept_the_files(data: Path):
    inputs = pytest.importorskip("spin_reel_assets.cleaning.inputs")
    tmdb = pytest.importorskip("spin_reel_assets.cleaning.movies")
    for kind, reader in (("ratings", inputs.read_ratings), ("links", inputs.read_links),
                         ("movies", inputs.read_movielens_movies)):
        raw = reader(inputs.find_input(data, kind))
        assert raw.bad_lines == [] and raw.table.num_rows == (SMALL["ratings"] if kind == "ratings" else SMALL["movies"])
    raw = tmdb.read_tmdb(inputs.find_input(data, "tmdb"))
    assert raw.bad_lines == [] and raw.table.num_rows == SMALL["tmdb_movies"]
    cleaned = tmdb.clean_tmdb(raw, None)
    reasons = set(cleaned.quarantine.column("reason").to_pylist())
    assert {tmdb.ADULT, tmdb.DUPLICATE_ID} <= reasons
