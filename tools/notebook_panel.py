#!/usr/bin/env python3
"""Reference oracle: the seed notebook's dense user-day panel, computed by pandas.

This is a TRANSCRIPTION of /work/shared/seed/notebook01_kuairec_sequence_eda.txt, not a
re-implementation. The cells that build `interactions` and `user_day` are copied verbatim
(display()/plotting removed, paths parameterised). Quirks are kept on purpose: event_time
format inference, rows without a date dropped by groupby, nrows cutting a user, global
thresholds, min_count sums, fillna(0) places. Do not "fix" anything here.

Usage:
    python3 tools/notebook_panel.py INPUT --out panel.jsonl [--matrix small|big] [--rows N]
                                     [--thresholds-json FILE]
                                     [--diagnostics-json FILE] [--readiness-csv FILE]

INPUT is the outer archive 18164998.zip (which holds KuaiRec.zip), or the inner KuaiRec.zip,
or a bare CSV file in the small_matrix/big_matrix format (read with pd.read_csv directly).

Output: one JSON object per panel row, in the panel's order (user_id, event_date), keys in the
notebook's column order; event_date as "YYYY-MM-DD"; floats with round-trip precision; NaN as
null; int64 columns as JSON ints, float64 columns as JSON floats (26.0).

Needs pandas 3.x (the notebook ran on pandas 3; measured against 3.1.1).
"""

import argparse
import ast
import json
import math
import sys
import warnings
from io import BytesIO
from pathlib import Path
from zipfile import ZipFile

import numpy as np
import pandas as pd

# The notebook does warnings.filterwarnings("ignore", category=FutureWarning); pandas 3.1 also
# emits a Pandas4Warning (a DeprecationWarning) for the event_time fillna across datetime units.
warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", category=getattr(pd.errors, "Pandas4Warning", FutureWarning))

MATRIX_MEMBERS = {
    "small": "KuaiRec 2.0/data/small_matrix.csv",
    "big": "KuaiRec 2.0/data/big_matrix.csv",
}


def _inner_zip_bytes(input_path):
    """The inner KuaiRec.zip's bytes: read from the outer download, or INPUT itself when it is the inner zip."""
    input_path = Path(input_path)
    with ZipFile(input_path) as outer_zip:
        if "KuaiRec.zip" in outer_zip.namelist():
            return outer_zip.read("KuaiRec.zip")
    return input_path.read_bytes()


def read_interactions(input_path, member, nrows):
    """Read the interaction rows exactly as the notebook does (nested zip, pd.read_csv(nrows=))."""
    input_path = Path(input_path)
    if input_path.suffix.lower() != ".zip":
        # Bare CSV (tests): same read_csv call, no archive.
        return pd.read_csv(input_path, nrows=nrows)
    with ZipFile(BytesIO(_inner_zip_bytes(input_path))) as inner_zip:
        with inner_zip.open(member) as file:
            interactions = pd.read_csv(file, nrows=nrows)
    return interactions


def build_panel(interactions, on_loaded=None):
    """The notebook's cells from 'Load and Normalize' to 'Candidate Treatment Definitions'.

    on_loaded(interactions) is called where the notebook's coverage, missingness, engagement and
    repeated-measures cells run (after the load cell, before the user-day cell adds columns)."""
    # ---- cell: Load and Normalize the Interaction Sample (verbatim after read_csv) ----
    # Convert KuaiRec's numeric date field into a proper datetime date.
    date_numeric = pd.to_numeric(interactions["date"], errors="coerce").round().astype("Int64")
    interactions["event_date"] = pd.to_datetime(
        date_numeric.astype("string"),
        format="%Y%m%d",
        errors="coerce",
    )
    # The timestamp column is Unix time in seconds. It is the most reliable event-time field.
    interactions["event_timestamp"] = pd.to_datetime(
        pd.to_numeric(interactions["timestamp"], errors="coerce"),
        unit="s",
        errors="coerce",
    )
    # Keep a parsed version of the original time field as a backup and diagnostic.
    interactions["event_time_from_text"] = pd.to_datetime(interactions["time"], errors="coerce")
    interactions["event_time"] = interactions["event_time_from_text"].fillna(interactions["event_timestamp"])
    # Add human-readable duration columns. The original millisecond fields are retained.
    interactions["play_duration_sec"] = interactions["play_duration"] / 1_000
    interactions["video_duration_sec"] = interactions["video_duration"] / 1_000
    interactions["watch_ratio_capped_5"] = interactions["watch_ratio"].clip(lower=0, upper=5)
    interactions = interactions.sort_values(["user_id", "event_time", "video_id"]).reset_index(drop=True)
    if on_loaded is not None:
        on_loaded(interactions)

    # ---- cell: Build the Observed User-Day Table (verbatim) ----
    HIGH_WATCH_THRESHOLD = 0.8
    COMPLETE_OR_REWATCH_THRESHOLD = 1.0
    interactions["high_watch"] = (interactions["watch_ratio"] >= HIGH_WATCH_THRESHOLD).astype(int)
    interactions["complete_or_rewatch"] = (interactions["watch_ratio"] >= COMPLETE_OR_REWATCH_THRESHOLD).astype(int)
    user_day_observed = (
        interactions.groupby(["user_id", "event_date"])
        .agg(
            interactions=("video_id", "size"),
            unique_videos=("video_id", "nunique"),
            total_play_duration_ms=("play_duration", "sum"),
            avg_play_duration_ms=("play_duration", "mean"),
            avg_video_duration_ms=("video_duration", "mean"),
            avg_watch_ratio=("watch_ratio", "mean"),
            high_watch_count=("high_watch", "sum"),
            complete_or_rewatch_count=("complete_or_rewatch", "sum"),
        )
        .reset_index()
    )
    user_day_observed["total_play_duration_sec"] = user_day_observed["total_play_duration_ms"] / 1_000
    user_day_observed["avg_play_duration_sec"] = user_day_observed["avg_play_duration_ms"] / 1_000
    user_day_observed["avg_video_duration_sec"] = user_day_observed["avg_video_duration_ms"] / 1_000
    user_day_observed["high_watch_share"] = user_day_observed["high_watch_count"] / user_day_observed["interactions"]
    user_day_observed["complete_or_rewatch_share"] = user_day_observed["complete_or_rewatch_count"] / user_day_observed["interactions"]
    user_day_observed = user_day_observed.sort_values(["user_id", "event_date"]).reset_index(drop=True)

    # ---- cell: Densify the User-Day Panel (verbatim) ----
    all_users = np.sort(user_day_observed["user_id"].unique())
    all_dates = pd.date_range(
        user_day_observed["event_date"].min(),
        user_day_observed["event_date"].max(),
        freq="D",
    )
    dense_index = pd.MultiIndex.from_product(
        [all_users, all_dates],
        names=["user_id", "event_date"],
    )
    user_day = (
        user_day_observed.set_index(["user_id", "event_date"])
        .reindex(dense_index)
        .reset_index()
    )
    count_and_sum_columns = [
        "interactions",
        "unique_videos",
        "total_play_duration_ms",
        "high_watch_count",
        "complete_or_rewatch_count",
        "total_play_duration_sec",
    ]
    rate_and_average_columns = [
        "avg_play_duration_ms",
        "avg_video_duration_ms",
        "avg_watch_ratio",
        "avg_play_duration_sec",
        "avg_video_duration_sec",
        "high_watch_share",
        "complete_or_rewatch_share",
    ]
    user_day[count_and_sum_columns] = user_day[count_and_sum_columns].fillna(0)
    user_day[rate_and_average_columns] = user_day[rate_and_average_columns].fillna(0)
    user_day["active_day"] = (user_day["interactions"] > 0).astype(int)
    user_day = user_day.sort_values(["user_id", "event_date"]).reset_index(drop=True)

    # ---- cell: Add Lagged State Variables (verbatim) ----
    lag_columns = [
        "active_day",
        "interactions",
        "total_play_duration_sec",
        "avg_watch_ratio",
        "high_watch_share",
    ]
    for column in lag_columns:
        user_day[f"lag_1_{column}"] = user_day.groupby("user_id")[column].shift(1)
        user_day[f"prior_3day_{column}"] = user_day.groupby("user_id")[column].transform(
            lambda series: series.shift(1).rolling(window=3, min_periods=1).sum()
        )
    lagged_columns = [column for column in user_day.columns if column.startswith("lag_1_") or column.startswith("prior_3day_")]
    user_day[lagged_columns] = user_day[lagged_columns].fillna(0)

    # ---- cell: Add Forward-Looking Outcomes (verbatim) ----
    future_base_columns = ["active_day", "interactions", "total_play_duration_sec"]
    future_horizons = [1, 2, 3, 4, 5, 6, 7]
    for column in future_base_columns:
        for horizon in future_horizons:
            user_day[f"lead_{horizon}_{column}"] = user_day.groupby("user_id")[column].shift(-horizon)
    user_day["next_day_active"] = user_day["lead_1_active_day"]
    user_day["next_day_interactions"] = user_day["lead_1_interactions"]
    user_day["next_day_play_duration_sec"] = user_day["lead_1_total_play_duration_sec"]
    user_day["future_3day_active_days"] = user_day[[f"lead_{horizon}_active_day" for horizon in [1, 2, 3]]].sum(axis=1, min_count=3)
    user_day["future_3day_interactions"] = user_day[[f"lead_{horizon}_interactions" for horizon in [1, 2, 3]]].sum(axis=1, min_count=3)
    user_day["future_3day_play_duration_sec"] = user_day[[f"lead_{horizon}_total_play_duration_sec" for horizon in [1, 2, 3]]].sum(axis=1, min_count=3)
    user_day["future_7day_active_days"] = user_day[[f"lead_{horizon}_active_day" for horizon in future_horizons]].sum(axis=1, min_count=7)
    user_day["future_7day_interactions"] = user_day[[f"lead_{horizon}_interactions" for horizon in future_horizons]].sum(axis=1, min_count=7)
    user_day["future_7day_play_duration_sec"] = user_day[[f"lead_{horizon}_total_play_duration_sec" for horizon in future_horizons]].sum(axis=1, min_count=7)

    # ---- cell: Candidate Treatment Definitions (verbatim, display removed) ----
    active_user_days = user_day["active_day"] == 1
    high_intensity_threshold = user_day.loc[active_user_days, "interactions"].quantile(0.75)
    high_watch_share_threshold = user_day.loc[active_user_days, "high_watch_share"].median()
    user_day["treatment_high_intensity"] = (
        active_user_days & (user_day["interactions"] >= high_intensity_threshold)
    ).astype(int)
    user_day["treatment_high_watch_exposure"] = (
        active_user_days & (user_day["high_watch_share"] >= high_watch_share_threshold)
    ).astype(int)

    thresholds = {
        "high_intensity_threshold": high_intensity_threshold,
        "high_watch_share_threshold": high_watch_share_threshold,
    }
    return interactions, user_day, thresholds


def _json_number(value):
    """A Python number for json: NaN/inf -> None, numpy scalars -> int/float."""
    if value is None:
        return None
    value = float(value) if not isinstance(value, (int, np.integer)) else int(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def column_as_json_values(series):
    """A column as a list of JSON-ready Python values (ints stay ints, NaN -> None)."""
    if series.name == "event_date":
        return [None if pd.isna(v) else v.strftime("%Y-%m-%d") for v in series]
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return [None if pd.isna(v) else int(v) for v in series]
    if pd.api.types.is_integer_dtype(dtype):
        if pd.api.types.is_extension_array_dtype(dtype):
            return [None if pd.isna(v) else int(v) for v in series]
        return series.to_numpy().tolist()
    if pd.api.types.is_float_dtype(dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan).tolist()
        return [v if math.isfinite(v) else None for v in values]
    return [None if pd.isna(v) else v for v in series.tolist()]


def write_panel(user_day, out_path):
    columns = list(user_day.columns)
    # user_id first, event_date second (already so in the notebook; enforce the contract).
    ordered = ["user_id", "event_date"] + [c for c in columns if c not in ("user_id", "event_date")]
    value_lists = [column_as_json_values(user_day[c]) for c in ordered]
    dumps = json.dumps
    with open(out_path, "w", encoding="utf-8") as out:
        buffer = []
        for row in zip(*value_lists):
            buffer.append(dumps(dict(zip(ordered, row)), allow_nan=False))
            if len(buffer) >= 10_000:
                out.write("\n".join(buffer) + "\n")
                buffer.clear()
        if buffer:
            out.write("\n".join(buffer) + "\n")


# ---------------------------------------------------------------------------------------------
# The notebook's diagnostic tables (--diagnostics-json), cell by cell, display()/plots removed.
# ---------------------------------------------------------------------------------------------

USER_FEATURES_MEMBER = "KuaiRec 2.0/data/user_features.csv"
ITEM_CATEGORIES_MEMBER = "KuaiRec 2.0/data/item_categories.csv"
ITEM_DAILY_FEATURES_MEMBER = "KuaiRec 2.0/data/item_daily_features.csv"
ITEM_DAILY_SAMPLE_ROWS = 150_000


def interaction_level_tables(interactions):
    """Cells 'Basic Shape and Coverage', 'Missingness', 'Engagement Distribution', 'User and Item
    Repeated Measures' (verbatim), run on the loaded, sorted interactions."""
    out = {}
    coverage_summary = pd.DataFrame(
        [
            {"metric": "interaction_rows", "value": len(interactions)},
            {"metric": "unique_users", "value": interactions["user_id"].nunique()},
            {"metric": "unique_videos", "value": interactions["video_id"].nunique()},
            {"metric": "unique_event_dates", "value": interactions["event_date"].nunique()},
            {"metric": "first_event_date", "value": interactions["event_date"].min()},
            {"metric": "last_event_date", "value": interactions["event_date"].max()},
            {"metric": "first_event_time", "value": interactions["event_time"].min()},
            {"metric": "last_event_time", "value": interactions["event_time"].max()},
        ]
    )
    out["coverage_summary"] = coverage_summary
    missingness = (
        interactions.isna()
        .mean()
        .sort_values(ascending=False)
        .rename("missing_rate")
        .reset_index()
        .rename(columns={"index": "column"})
    )
    out["missingness"] = missingness
    engagement_summary = interactions[
        ["play_duration_sec", "video_duration_sec", "watch_ratio", "watch_ratio_capped_5"]
    ].describe(percentiles=[0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]).T
    out["engagement_summary"] = engagement_summary
    user_activity = (
        interactions.groupby("user_id")
        .agg(
            interactions=("video_id", "size"),
            unique_videos=("video_id", "nunique"),
            active_days=("event_date", "nunique"),
            first_date=("event_date", "min"),
            last_date=("event_date", "max"),
            avg_watch_ratio=("watch_ratio", "mean"),
            total_play_duration_sec=("play_duration_sec", "sum"),
        )
        .reset_index()
    )
    item_activity = (
        interactions.groupby("video_id")
        .agg(
            impressions=("user_id", "size"),
            unique_users=("user_id", "nunique"),
            avg_watch_ratio=("watch_ratio", "mean"),
            avg_play_duration_sec=("play_duration_sec", "mean"),
        )
        .reset_index()
        .sort_values("impressions", ascending=False)
    )
    # display(user_activity[[...]].describe().T) and display(item_activity.head(10))
    out["user_activity"] = user_activity[["interactions", "unique_videos", "active_days", "avg_watch_ratio", "total_play_duration_sec"]].describe().T
    out["item_activity"] = item_activity.head(10)
    # Not notebook tables: the exact counts behind its sns.histplot charts (see histogram_frame).
    out["watch_ratio_histogram"] = histogram_frame(interactions["watch_ratio_capped_5"], 60)
    out["play_duration_histogram"] = histogram_frame(interactions["play_duration_sec"], 60)
    out["user_interactions_histogram"] = histogram_frame(user_activity["interactions"], 40)
    out["user_active_days_histogram"] = histogram_frame(user_activity["active_days"], 30)
    # Not a notebook table: every video tied with the 10th one, so the comparer can accept any
    # tie order (sort_values' quicksort orders ties arbitrarily).
    boundary = item_activity.head(10)["impressions"].min() if len(item_activity) else None
    out["_item_activity_ties"] = item_activity.loc[item_activity["impressions"].eq(boundary)]
    return out


def histogram_frame(series, bins):
    """The bins sns.histplot(data, x=..., bins=N) draws: seaborn drops missing and infinite values, takes
    np.histogram_bin_edges(values, bins=N) and counts with np.histogram(values, bins=edges)."""
    values = series.to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    edges = np.histogram_bin_edges(values, bins=bins)
    counts, _ = np.histogram(values, bins=edges)
    return pd.DataFrame({"bin_start": edges[:-1], "bin_end": edges[1:], "count": counts})


def read_metadata(input_path):
    """Cell 'Load User, Item, and Daily Item Metadata' (verbatim); None for a bare CSV input."""
    input_path = Path(input_path)
    if input_path.suffix.lower() != ".zip":
        return None
    with ZipFile(BytesIO(_inner_zip_bytes(input_path))) as inner_zip:
        with inner_zip.open(USER_FEATURES_MEMBER) as file:
            user_features = pd.read_csv(file)
        with inner_zip.open(ITEM_CATEGORIES_MEMBER) as file:
            item_categories = pd.read_csv(file)
        daily_usecols = [
            "video_id",
            "date",
            "show_cnt",
            "show_user_num",
            "play_cnt",
            "play_user_num",
            "complete_play_cnt",
            "like_cnt",
            "comment_cnt",
            "share_cnt",
            "collect_cnt",
        ]
        with inner_zip.open(ITEM_DAILY_FEATURES_MEMBER) as file:
            item_daily = pd.read_csv(file, usecols=daily_usecols, nrows=ITEM_DAILY_SAMPLE_ROWS)

    # Convert category strings such as "[27, 9]" into counts and first-category diagnostics.
    def parse_category_list(value):
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return []
        return parsed if isinstance(parsed, list) else []

    category_lists = item_categories["feat"].map(parse_category_list)
    item_categories["category_count"] = category_lists.map(len)
    item_categories["first_category"] = category_lists.map(lambda values: values[0] if values else np.nan)
    item_daily["event_date"] = pd.to_datetime(item_daily["date"].astype("string"), format="%Y%m%d", errors="coerce")
    item_daily["item_play_rate"] = np.where(
        item_daily["show_cnt"] > 0,
        item_daily["play_cnt"] / item_daily["show_cnt"],
        np.nan,
    )
    item_daily["item_like_rate_per_play"] = np.where(
        item_daily["play_cnt"] > 0,
        item_daily["like_cnt"] / item_daily["play_cnt"],
        np.nan,
    )
    return user_features, item_categories, item_daily


ITEM_CONTEXT_COLUMNS = ["item_mean_show_cnt", "item_mean_play_rate", "item_first_categories"]


def join_context(interactions, user_day, input_path, user_columns, item_context):
    """Not in the notebook: the joins of `replay run --with-user-features[=COLUMNS] --with-item-context`,
    written with the notebook's own calls: its 'Join Metadata for Diagnostic Checks' cell merges
    user_features on user_id (how="left"), its metadata cell parses item_categories' feat lists into
    first_category and computes item_play_rate from item_daily_features (read whole here, not the
    150,000-row sample). Per user-day, over its distinct videos (ordered by video_id, then file order):
    the mean show_cnt and item_play_rate of their item_daily rows on that date (NaN values dropped) and the
    number of distinct first categories (0 on an inactive day)."""
    with ZipFile(BytesIO(_inner_zip_bytes(input_path))) as inner_zip:
        with inner_zip.open(USER_FEATURES_MEMBER) as file:
            user_features = pd.read_csv(file)
        with inner_zip.open(ITEM_CATEGORIES_MEMBER) as file:
            item_categories = pd.read_csv(file)
        with inner_zip.open(ITEM_DAILY_FEATURES_MEMBER) as file:
            item_daily = pd.read_csv(file, usecols=["video_id", "date", "show_cnt", "play_cnt"])
    keys = ["user_id", "event_date"]
    if user_columns is not None:
        chosen = user_columns or [c for c in user_features.columns if c != "user_id"]
        reserved = set(user_day.columns) | set(ITEM_CONTEXT_COLUMNS) | {"revision", "final"}
        features = user_features[["user_id"] + chosen].drop_duplicates("user_id", keep="first")
        features = features.rename(columns={c: "user_" + c for c in chosen if c in reserved})
        user_day = user_day.merge(features, on="user_id", how="left")
    if item_context:
        def parse_category_list(value):
            try:
                parsed = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                return []
            return parsed if isinstance(parsed, list) else []

        category_lists = item_categories["feat"].map(parse_category_list)
        item_categories["first_category"] = category_lists.map(lambda values: values[0] if values else np.nan)
        item_daily["event_date"] = pd.to_datetime(item_daily["date"].astype("string"), format="%Y%m%d", errors="coerce")
        item_daily["item_play_rate"] = np.where(
            item_daily["show_cnt"] > 0,
            item_daily["play_cnt"] / item_daily["show_cnt"],
            np.nan,
        )
        day_videos = (
            interactions[["user_id", "event_date", "video_id"]]
            .dropna(subset=["event_date"])
            .drop_duplicates()
            .sort_values(["user_id", "event_date", "video_id"], kind="stable")
        )
        # The matched rows only (an inner merge keeps day_videos' order), each mean over its non-NaN values: a frame
        # sorted by its keys and free of NaN, for which pandas 3.1 takes np.add.reduceat (see ItemContext.swift).
        daily = day_videos.merge(
            item_daily[["video_id", "event_date", "show_cnt", "item_play_rate"]], on=["video_id", "event_date"], how="inner")
        means = (
            daily.dropna(subset=["show_cnt"]).groupby(keys).agg(item_mean_show_cnt=("show_cnt", "mean")).reset_index()
            .merge(
                daily.dropna(subset=["item_play_rate"]).groupby(keys).agg(item_mean_play_rate=("item_play_rate", "mean"))
                .reset_index(), on=keys, how="outer")
        )
        categories = (
            day_videos.merge(
                item_categories.drop_duplicates("video_id", keep="first")[["video_id", "first_category"]],
                on="video_id", how="left")
            .groupby(keys)
            .agg(item_first_categories=("first_category", "nunique"))
            .reset_index()
        )
        user_day = user_day.merge(means, on=keys, how="left").merge(categories, on=keys, how="left")
        user_day["item_first_categories"] = user_day["item_first_categories"].fillna(0).astype(int)
    return user_day


def join_coverage(interactions, user_day, input_path, user_columns, item_context):
    """replay's `join_coverage` table (not in the notebook): the missing-key rates of the joins, over the
    panel's user-days and the distinct videos of its active user-days, from pandas merges with indicator=True."""
    with ZipFile(BytesIO(_inner_zip_bytes(input_path))) as inner_zip:
        with inner_zip.open(USER_FEATURES_MEMBER) as file:
            user_features = pd.read_csv(file)
        with inner_zip.open(ITEM_CATEGORIES_MEMBER) as file:
            item_categories = pd.read_csv(file)
        with inner_zip.open(ITEM_DAILY_FEATURES_MEMBER) as file:
            item_daily = pd.read_csv(file, usecols=["video_id", "date"])
    rows = [{"metric": "user_days", "value": len(user_day)}]
    if user_columns is not None:
        known = user_day["user_id"].isin(user_features["user_id"])
        rows.append({"metric": "user_days_without_user_features", "value": int((~known).sum())})
        rows.append({"metric": "missing_user_features_rate", "value": float((~known).mean())})
    if item_context:
        item_daily["event_date"] = pd.to_datetime(item_daily["date"].astype("string"), format="%Y%m%d", errors="coerce")
        day_videos = interactions[["user_id", "event_date", "video_id"]].dropna(subset=["event_date"]).drop_duplicates()
        found = day_videos.merge(
            item_daily[["video_id", "event_date"]].drop_duplicates(), on=["video_id", "event_date"], how="left", indicator=True)
        found["matched"] = found["_merge"] == "both"
        per_day = found.groupby(["user_id", "event_date"])["matched"].any()
        categorized = day_videos["video_id"].isin(item_categories["video_id"])
        rows += [
            {"metric": "active_user_days", "value": int(len(per_day))},
            {"metric": "active_user_days_without_item_daily_rate", "value": float((~per_day).mean())},
            {"metric": "user_day_videos", "value": int(len(day_videos))},
            {"metric": "missing_item_daily_rate", "value": float((~found["matched"]).mean())},
            {"metric": "missing_item_category_rate", "value": float((~categorized).mean())},
        ]
    return pd.DataFrame(rows)


def panel_level_tables(interactions, user_day, thresholds_values, metadata):
    """Cells from 'Candidate Treatment Definitions' (its tables) to 'Causal Readiness Checklist' (verbatim)."""
    out = {}
    high_intensity_threshold = thresholds_values["high_intensity_threshold"]
    high_watch_share_threshold = thresholds_values["high_watch_share_threshold"]
    thresholds = pd.DataFrame(
        [
            {
                "candidate_treatment": "treatment_high_intensity",
                "rule": "active day and interactions >= active-day 75th percentile",
                "threshold": high_intensity_threshold,
            },
            {
                "candidate_treatment": "treatment_high_watch_exposure",
                "rule": "active day and high_watch_share >= active-day median",
                "threshold": high_watch_share_threshold,
            },
        ]
    )
    treatment_summary = user_day[
        ["treatment_high_intensity", "treatment_high_watch_exposure"]
    ].agg(["mean", "sum"]).T.rename(columns={"mean": "share_of_user_days", "sum": "treated_user_days"})
    out["thresholds"] = thresholds
    out["treatment_summary"] = treatment_summary

    daily_panel_summary = (
        user_day.groupby("event_date")
        .agg(
            active_rate=("active_day", "mean"),
            high_intensity_rate=("treatment_high_intensity", "mean"),
            high_watch_exposure_rate=("treatment_high_watch_exposure", "mean"),
            next_day_active_rate=("next_day_active", "mean"),
        )
        .reset_index()
    )
    out["daily_panel_summary"] = daily_panel_summary

    def summarize_naive_association(data, treatment_col, outcome_cols):
        rows = []
        analytic = data.loc[data["active_day"].eq(1)].copy()
        for outcome_col in outcome_cols:
            subset = analytic.dropna(subset=[treatment_col, outcome_col])
            grouped = subset.groupby(treatment_col)[outcome_col].agg(["mean", "count", "std"])
            if set(grouped.index) >= {0, 1}:
                control_mean = grouped.loc[0, "mean"]
                treated_mean = grouped.loc[1, "mean"]
                rows.append(
                    {
                        "treatment": treatment_col,
                        "outcome": outcome_col,
                        "control_mean": control_mean,
                        "treated_mean": treated_mean,
                        "difference": treated_mean - control_mean,
                        "relative_lift": (treated_mean / control_mean - 1) if control_mean != 0 else np.nan,
                        "control_days": grouped.loc[0, "count"],
                        "treated_days": grouped.loc[1, "count"],
                    }
                )
        return pd.DataFrame(rows)

    outcome_columns = [
        "next_day_active",
        "future_3day_active_days",
        "future_3day_interactions",
        "future_7day_active_days",
    ]
    naive_associations = pd.concat(
        [
            summarize_naive_association(user_day, "treatment_high_intensity", outcome_columns),
            summarize_naive_association(user_day, "treatment_high_watch_exposure", outcome_columns),
        ],
        ignore_index=True,
    )
    out["naive_associations"] = naive_associations

    def standardized_mean_differences(data, treatment_col, covariate_cols):
        analytic = data.loc[data["active_day"].eq(1)].dropna(subset=[treatment_col]).copy()
        rows = []
        for covariate in covariate_cols:
            treated = analytic.loc[analytic[treatment_col].eq(1), covariate].dropna()
            control = analytic.loc[analytic[treatment_col].eq(0), covariate].dropna()
            pooled_sd = np.sqrt((treated.var(ddof=1) + control.var(ddof=1)) / 2)
            rows.append(
                {
                    "treatment": treatment_col,
                    "covariate": covariate,
                    "treated_mean": treated.mean(),
                    "control_mean": control.mean(),
                    "smd": (treated.mean() - control.mean()) / pooled_sd if pooled_sd and not np.isnan(pooled_sd) else np.nan,
                }
            )
        return pd.DataFrame(rows)

    pre_treatment_covariates = [
        "lag_1_active_day",
        "lag_1_interactions",
        "lag_1_total_play_duration_sec",
        "lag_1_avg_watch_ratio",
        "prior_3day_active_day",
        "prior_3day_interactions",
        "prior_3day_total_play_duration_sec",
        "prior_3day_high_watch_share",
    ]
    confounding_balance = pd.concat(
        [
            standardized_mean_differences(user_day, "treatment_high_intensity", pre_treatment_covariates),
            standardized_mean_differences(user_day, "treatment_high_watch_exposure", pre_treatment_covariates),
        ],
        ignore_index=True,
    )
    out["confounding_balance"] = confounding_balance

    if metadata is not None:
        user_features, item_categories, item_daily = metadata
        user_metadata_columns = [
            "user_id",
            "user_active_degree",
            "is_lowactive_period",
            "is_live_streamer",
            "is_video_author",
            "follow_user_num",
            "fans_user_num",
            "friend_user_num",
            "register_days",
        ]
        interaction_metadata_sample = (
            interactions.merge(user_features[user_metadata_columns], on="user_id", how="left")
            .merge(item_categories[["video_id", "category_count", "first_category"]], on="video_id", how="left")
        )
        metadata_diagnostics = pd.DataFrame(
            [
                {"metric": "rows", "value": len(interaction_metadata_sample)},
                {"metric": "missing_user_active_degree_rate", "value": interaction_metadata_sample["user_active_degree"].isna().mean()},
                {"metric": "missing_item_category_rate", "value": interaction_metadata_sample["category_count"].isna().mean()},
                {"metric": "unique_user_activity_segments", "value": interaction_metadata_sample["user_active_degree"].nunique(dropna=True)},
                {"metric": "unique_first_categories", "value": interaction_metadata_sample["first_category"].nunique(dropna=True)},
            ]
        )
        out["metadata_diagnostics"] = metadata_diagnostics
        out["metadata_segments"] = (
            interaction_metadata_sample.groupby("user_active_degree")
            .agg(
                rows=("video_id", "size"),
                users=("user_id", "nunique"),
                avg_watch_ratio=("watch_ratio", "mean"),
                avg_play_duration_sec=("play_duration_sec", "mean"),
            )
            .sort_values("rows", ascending=False)
        ).reset_index()
        item_daily_summary = item_daily[
            [
                "show_cnt",
                "show_user_num",
                "play_cnt",
                "play_user_num",
                "complete_play_cnt",
                "like_cnt",
                "comment_cnt",
                "share_cnt",
                "collect_cnt",
                "item_play_rate",
                "item_like_rate_per_play",
            ]
        ].describe(percentiles=[0.05, 0.25, 0.5, 0.75, 0.95]).T
        out["item_daily_summary"] = item_daily_summary
        out["item_show_count_histogram"] = histogram_frame(item_daily["show_cnt"], 60)
        out["item_play_rate_histogram"] = histogram_frame(item_daily["item_play_rate"], 60)

    active_days_per_user = user_day.groupby("user_id")["active_day"].sum()
    future_3day_available = user_day["future_3day_active_days"].notna().mean()
    future_7day_available = user_day["future_7day_active_days"].notna().mean()
    treatment_rates = user_day[["treatment_high_intensity", "treatment_high_watch_exposure"]].mean()
    readiness_checks = pd.DataFrame(
        [
            {
                "check": "at least 50 users in sample",
                "value": user_day["user_id"].nunique(),
                "passes": user_day["user_id"].nunique() >= 50,
            },
            {
                "check": "median user has at least 7 active days",
                "value": active_days_per_user.median(),
                "passes": active_days_per_user.median() >= 7,
            },
            {
                "check": "at least 30 calendar dates",
                "value": user_day["event_date"].nunique(),
                "passes": user_day["event_date"].nunique() >= 30,
            },
            {
                "check": "high-intensity treatment has non-trivial variation",
                "value": treatment_rates["treatment_high_intensity"],
                "passes": 0.01 < treatment_rates["treatment_high_intensity"] < 0.99,
            },
            {
                "check": "high-watch treatment has non-trivial variation",
                "value": treatment_rates["treatment_high_watch_exposure"],
                "passes": 0.01 < treatment_rates["treatment_high_watch_exposure"] < 0.99,
            },
            {
                "check": "future 3-day outcomes available for most rows",
                "value": future_3day_available,
                "passes": future_3day_available >= 0.80,
            },
            {
                "check": "future 7-day outcomes available for most rows",
                "value": future_7day_available,
                "passes": future_7day_available >= 0.70,
            },
            {
                "check": "lagged confounders have no missing values after filling panel starts",
                "value": user_day[pre_treatment_covariates].isna().mean().max(),
                "passes": user_day[pre_treatment_covariates].isna().mean().max() == 0,
            },
        ]
    )
    out["readiness_checks"] = readiness_checks
    return out


DESCRIBED_TABLES = {"engagement_summary", "user_activity", "treatment_summary", "item_daily_summary"}


def _json_cell(value):
    """One DataFrame cell as JSON: numbers, strings, booleans, null; Timestamps as 'YYYY-MM-DD HH:MM:SS.mmm'."""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _json_number(value)
    return value if isinstance(value, str) else str(value)


def table_as_rows(name, frame):
    """A DataFrame as a list of row objects; a described/transposed table's index becomes 'column'."""
    if name in DESCRIBED_TABLES:
        frame = frame.reset_index().rename(columns={"index": "column"})
    return [{str(k): _json_cell(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def main(argv=None):
    parser = argparse.ArgumentParser(description="The seed notebook's user-day panel, computed by pandas.")
    parser.add_argument("input", help="18164998.zip (outer), KuaiRec.zip (inner), or a bare matrix CSV")
    parser.add_argument("--out", required=True, help="output JSON lines file")
    parser.add_argument("--matrix", choices=sorted(MATRIX_MEMBERS), default="small")
    parser.add_argument("--rows", type=int, default=None, help="the notebook's nrows (default: all rows; the notebook used 300000)")
    parser.add_argument("--thresholds-json", default=None, help="write the two thresholds and row counts here")
    parser.add_argument(
        "--drop-duplicates", action="store_true",
        help="not in the notebook: drop_duplicates() after reading (the oracle for replay run --dedupe)")
    parser.add_argument("--diagnostics-json", default=None, help="write the notebook's diagnostic tables here")
    parser.add_argument("--readiness-csv", default=None, help="write readiness_checks.to_csv(index=False) here")
    parser.add_argument(
        "--with-user-features", nargs="?", const="", default=None, metavar="COLUMNS",
        help="not in the notebook: join user_features.csv (every column, or these comma-separated ones)")
    parser.add_argument(
        "--with-item-context", action="store_true",
        help="not in the notebook: join each user-day's item context (see join_context)")
    args = parser.parse_args(argv)

    if not pd.__version__.startswith("3."):
        print(f"warning: pandas {pd.__version__}; the notebook ran on pandas 3.x", file=sys.stderr)

    interactions = read_interactions(args.input, MATRIX_MEMBERS[args.matrix], args.rows)
    rows_read = len(interactions)
    if args.drop_duplicates:
        interactions = interactions.drop_duplicates().reset_index(drop=True)
    diagnostics = {}
    want_diagnostics = args.diagnostics_json or args.readiness_csv
    on_loaded = (lambda frame: diagnostics.update(interaction_level_tables(frame))) if want_diagnostics else None
    interactions, user_day, thresholds = build_panel(interactions, on_loaded=on_loaded)
    if args.with_user_features is not None or args.with_item_context:
        user_columns = None
        if args.with_user_features is not None:
            user_columns = [c for c in args.with_user_features.split(",") if c]
        user_day = join_context(interactions, user_day, args.input, user_columns, args.with_item_context)
        if want_diagnostics:
            diagnostics["join_coverage"] = join_coverage(
                interactions, user_day, args.input, user_columns, args.with_item_context)
    write_panel(user_day, args.out)
    if want_diagnostics:
        diagnostics.update(panel_level_tables(interactions, user_day, thresholds, read_metadata(args.input)))
        if args.diagnostics_json:
            payload = {name: table_as_rows(name, frame) for name, frame in diagnostics.items()}
            with open(args.diagnostics_json, "w", encoding="utf-8") as f:
                json.dump(payload, f, indent=1, allow_nan=False)
                f.write("\n")
        if args.readiness_csv:
            diagnostics["readiness_checks"].to_csv(args.readiness_csv, index=False)

    if args.thresholds_json:
        payload = {
            "high_intensity_threshold": _json_number(thresholds["high_intensity_threshold"]),
            "high_watch_share_threshold": _json_number(thresholds["high_watch_share_threshold"]),
            "rows_read": rows_read,
            "panel_rows": len(user_day),
        }
        with open(args.thresholds_json, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2)
            f.write("\n")
    print(
        f"rows_read={rows_read} panel_rows={len(user_day)} "
        f"users={user_day['user_id'].nunique()} dates={user_day['event_date'].nunique()} "
        f"high_intensity_threshold={thresholds['high_intensity_threshold']!r} "
        f"high_watch_share_threshold={thresholds['high_watch_share_threshold']!r}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
