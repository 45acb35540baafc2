#!/usr/bin/env python3
"""The notebook's dense user-day panel as DuckDB SQL: the batch tool a user would pick instead of replay.

bench/run times it against replay. It does what such a user does: extract the interactions CSV from the nested
archive to a temporary file (DuckDB reads neither a zip nor a zip in a zip), then run one SQL query that builds the
notebook's panel (user-day aggregates, densified over every user and day, lags, 3-day prior sums, leads, future
sums, the two treatment flags with the whole panel's thresholds) and writes it as CSV, ordered by user and day.

Usage:
    python3 tools/duckdb_panel.py INPUT --out panel.csv [--matrix small|big] [--threads N]

INPUT is the outer archive (18164998.zip holding KuaiRec.zip), the inner KuaiRec.zip, or a bare CSV.
`--check ORACLE.jsonl` compares the result with tools/notebook_panel.py's panel (every column, to 1e-9), so the
benchmark's peer is known to compute the same panel.
"""

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
from io import BytesIO
from pathlib import Path
from zipfile import ZipFile

import duckdb

MEMBERS = {"small": "KuaiRec 2.0/data/small_matrix.csv", "big": "KuaiRec 2.0/data/big_matrix.csv"}
LAGGED = ["active_day", "interactions", "total_play_duration_sec", "avg_watch_ratio", "high_watch_share"]
LEAD_BASES = ["active_day", "interactions", "total_play_duration_sec"]
LEAD_NAMES = {"active_day": "active_days", "interactions": "interactions", "total_play_duration_sec": "play_duration_sec"}
HORIZONS = range(1, 8)


def extract(input_path, member, folder):
    """The interactions CSV as a file DuckDB can read: the input itself when it is a CSV, else extracted."""
    if not input_path.lower().endswith(".zip"):
        return input_path
    target = os.path.join(folder, "matrix.csv")
    with ZipFile(input_path) as outer:
        if "KuaiRec.zip" in outer.namelist():
            # The inner zip is stored (not compressed) in the download: read it in place through the outer one.
            with outer.open("KuaiRec.zip") as inner_file, ZipFile(BytesIO(inner_file.read())) as inner:
                with inner.open(member) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
        else:
            with outer.open(member) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
    return target


def panel_sql(csv_path):
    """One query: the notebook's panel, ordered by user and day, with the notebook's column names and order."""
    lag_columns = []
    for column in LAGGED:
        lag_columns.append(f"coalesce(lag({column}) OVER w, 0) AS lag_1_{column}")
        lag_columns.append(
            f"coalesce(sum({column}) OVER (w ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING), 0) AS prior_3day_{column}")
    lead_columns = [f"lead({c}, {h}) OVER w AS lead_{h}_{c}" for c in LEAD_BASES for h in HORIZONS]
    futures = []
    for n in (3, 7):
        for c in LEAD_BASES:
            futures.append(" + ".join(f"lead_{h}_{c}" for h in range(1, n + 1)) + f" AS future_{n}day_{LEAD_NAMES[c]}")
    return f"""
WITH raw AS (
    SELECT user_id, video_id, play_duration, video_duration, watch_ratio,
           try_strptime(CAST(CAST(round(date) AS BIGINT) AS VARCHAR), '%Y%m%d')::DATE AS event_date
    FROM read_csv('{csv_path}', header = true, columns = {{
        'user_id': 'BIGINT', 'video_id': 'BIGINT', 'play_duration': 'BIGINT', 'video_duration': 'BIGINT',
        'time': 'VARCHAR', 'date': 'DOUBLE', 'timestamp': 'DOUBLE', 'watch_ratio': 'DOUBLE'}})
), observed AS (
    SELECT user_id, event_date,
           count(*) AS interactions, count(DISTINCT video_id) AS unique_videos,
           sum(play_duration) AS total_play_duration_ms, avg(play_duration) AS avg_play_duration_ms,
           avg(video_duration) AS avg_video_duration_ms, avg(watch_ratio) AS avg_watch_ratio,
           count(*) FILTER (WHERE watch_ratio >= 0.8) AS high_watch_count,
           count(*) FILTER (WHERE watch_ratio >= 1.0) AS complete_or_rewatch_count
    FROM raw WHERE event_date IS NOT NULL GROUP BY user_id, event_date
), days AS (
    SELECT CAST(d AS DATE) AS event_date
    FROM (SELECT min(event_date) AS lo, max(event_date) AS hi FROM observed), range(lo, hi + INTERVAL 1 DAY, INTERVAL 1 DAY) t(d)
), dense AS (
    SELECT u.user_id, days.event_date,
           coalesce(o.interactions, 0) AS interactions, coalesce(o.unique_videos, 0) AS unique_videos,
           coalesce(o.total_play_duration_ms, 0) AS total_play_duration_ms,
           coalesce(o.avg_play_duration_ms, 0) AS avg_play_duration_ms,
           coalesce(o.avg_video_duration_ms, 0) AS avg_video_duration_ms,
           coalesce(o.avg_watch_ratio, 0) AS avg_watch_ratio,
           coalesce(o.high_watch_count, 0) AS high_watch_count,
           coalesce(o.complete_or_rewatch_count, 0) AS complete_or_rewatch_count,
           coalesce(o.total_play_duration_ms / 1000, 0) AS total_play_duration_sec,
           coalesce(o.avg_play_duration_ms / 1000, 0) AS avg_play_duration_sec,
           coalesce(o.avg_video_duration_ms / 1000, 0) AS avg_video_duration_sec,
           coalesce(o.high_watch_count / o.interactions, 0) AS high_watch_share,
           coalesce(o.complete_or_rewatch_count / o.interactions, 0) AS complete_or_rewatch_share,
           CASE WHEN coalesce(o.interactions, 0) > 0 THEN 1 ELSE 0 END AS active_day
    FROM (SELECT DISTINCT user_id FROM observed) u CROSS JOIN days
    LEFT JOIN observed o ON o.user_id = u.user_id AND o.event_date = days.event_date
), lagged AS (
    SELECT *, {", ".join(lag_columns)}, {", ".join(lead_columns)}
    FROM dense WINDOW w AS (PARTITION BY user_id ORDER BY event_date)
), thresholds AS (
    SELECT quantile_cont(interactions, 0.75) AS high_intensity, quantile_cont(high_watch_share, 0.5) AS high_share
    FROM dense WHERE active_day = 1
)
SELECT lagged.*,
       lead_1_active_day AS next_day_active, lead_1_interactions AS next_day_interactions,
       lead_1_total_play_duration_sec AS next_day_play_duration_sec,
       {", ".join(futures)},
       CASE WHEN active_day = 1 AND interactions >= high_intensity THEN 1 ELSE 0 END AS treatment_high_intensity,
       CASE WHEN active_day = 1 AND high_watch_share >= high_share THEN 1 ELSE 0 END AS treatment_high_watch_exposure
FROM lagged, thresholds
ORDER BY user_id, event_date
"""


def check(out_csv, oracle_jsonl):
    """Compares the CSV with the notebook oracle's panel: same rows in order, every column to 1e-9."""
    import csv

    with open(out_csv, newline="") as f, open(oracle_jsonl) as g:
        rows = csv.DictReader(f)
        count = 0
        for row, line in zip(rows, g, strict=True):
            want = json.loads(line)
            for key, value in want.items():
                got = row[key]
                if key == "event_date":
                    ok = got == value
                elif value is None:
                    ok = got == ""
                else:
                    ok = got != "" and math.isclose(float(got), float(value), rel_tol=1e-9, abs_tol=1e-9)
                if not ok:
                    sys.exit(f"duckdb_panel: row {count + 1} ({want['user_id']}, {want['event_date']}): {key} = {got!r}, the notebook has {value!r}")
            count += 1
    print(f"duckdb_panel: {count} rows agree with {oracle_jsonl}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input")
    parser.add_argument("--out", required=True)
    parser.add_argument("--matrix", choices=sorted(MEMBERS), default="small")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--check", metavar="ORACLE.jsonl")
    a = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="duckdb-panel-", dir=os.path.dirname(os.path.abspath(a.out))) as folder:
        csv_path = extract(a.input, MEMBERS[a.matrix], folder)
        connection = duckdb.connect()
        if a.threads:
            connection.execute(f"SET threads = {a.threads}")
        connection.execute(f"SET temp_directory = '{folder}'")
        query = panel_sql(csv_path.replace("'", "''"))
        connection.execute(f"COPY ({query}) TO '{a.out}' (HEADER, DELIMITER ',')")
    if a.check:
        check(a.out, a.check)


if __name__ == "__main__":
    main()
