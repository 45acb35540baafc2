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

INPUT is the outer archive 18164998.zip (which holds KuaiRec.zip), or the inner KuaiRec.zip,
or a bare CSV file in the small_matrix/big_matrix format (read with pd.read_csv directly).

Output: one JSON object per panel row, in the panel's order (user_id, event_date), keys in the
notebook's column order; event_date as "YYYY-MM-DD"; floats with round-trip precision; NaN as
null; int64 columns as JSON ints, float64 columns as JSON floats (26.0).

Needs pandas 3.x (the notebook ran on pandas 3; measured against 3.1.1).
"""

import argparse
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


def read_interactions(input_path, member, nrows):
    """Read the interaction rows exactly as the notebook does (nested zip, pd.read_csv(nrows=))."""
    input_path = Path(input_path)
    if input_path.suffix.lower() != ".zip":
        # Bare CSV (tests): same read_csv call, no archive.
        return pd.read_csv(input_path, nrows=nrows)
    with ZipFile(input_path) as outer_zip:
        if "KuaiRec.zip" in outer_zip.namelist():
            inner_zip_bytes = outer_zip.read("KuaiRec.zip")
        else:
            # INPUT is already the inner KuaiRec.zip.
            inner_zip_bytes = input_path.read_bytes()
    with ZipFile(BytesIO(inner_zip_bytes)) as inner_zip:
        with inner_zip.open(member) as file:
            interactions = pd.read_csv(file, nrows=nrows)
    return interactions


def build_panel(interactions):
    """The notebook's cells from 'Load and Normalize' to 'Candidate Treatment Definitions'."""
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
    args = parser.parse_args(argv)

    if not pd.__version__.startswith("3."):
        print(f"warning: pandas {pd.__version__}; the notebook ran on pandas 3.x", file=sys.stderr)

    interactions = read_interactions(args.input, MATRIX_MEMBERS[args.matrix], args.rows)
    rows_read = len(interactions)
    if args.drop_duplicates:
        interactions = interactions.drop_duplicates().reset_index(drop=True)
    interactions, user_day, thresholds = build_panel(interactions)
    write_panel(user_day, args.out)

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
