"""The catalogue's MongoDB queries on the served sample: what they match, and that an index serves them."""

from __future__ import annotations

import pymongo
import pytest

from spin_reel_assets.schema import MOVIES_COLLECTION
from spin_reel_web.catalog import POPULAR_ORDER, title_prefix_filter


@pytest.fixture(scope="module")
def movies(served_stack):
    client = pymongo.MongoClient(served_stack.mongo_uri)
    yield client[served_stack.mongo_db][MOVIES_COLLECTION.name]
    client.close()


def stages(plan: dict):
    """Every stage of an explain plan tree."""
    yield plan
    for child in [plan.get("inputStage"), *plan.get("inputStages", [])]:
        if child:
            yield from stages(child)


def index_scans(explained: dict) -> list[dict]:
    return [stage["keyPattern"] for stage in stages(explained["queryPlanner"]["winningPlan"]) if stage["stage"] == "IXSCAN"]


@pytest.mark.parametrize("prefix", ["toy story", "t", "the ", "amel", "star wars"])
def test_prefix_range_holds_exactly_the_titles_with_the_prefix(movies, prefix):
    expected = {d["_id"] for d in movies.find({}, {"title_lower": 1}) if d["title_lower"].startswith(prefix)}
    assert expected
    assert {d["_id"] for d in movies.find(title_prefix_filter(prefix), {"_id": 1})} == expected


def test_search_and_popular_list_are_served_from_indexes(movies):
    total = movies.estimated_document_count()
    search = movies.find(title_prefix_filter("toy story")).sort(POPULAR_ORDER).limit(10).explain()
    assert index_scans(search) == [{"title_lower": 1}]
    assert search["executionStats"]["totalDocsExamined"] < 10 < total
    popular = movies.find().sort(POPULAR_ORDER).limit(10).explain()
    assert index_scans(popular) == [dict(POPULAR_ORDER)]
    assert "SORT" not in {stage["stage"] for stage in stages(popular["queryPlanner"]["winningPlan"])}
