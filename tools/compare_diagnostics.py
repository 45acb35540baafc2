#!/usr/bin/env python3
"""Differential test of the diagnostics: `replay report --json` against the notebook's tables
(tools/notebook_panel.py --diagnostics-json), and the readiness CSVs byte for byte.

Usage:
    python3 tools/compare_diagnostics.py --expected pandas.json --actual replay.json
                                         [--expected-csv a.csv --actual-csv b.csv] [--tolerance 1e-9]

Per table: the same set of rows (matched on the table's key columns), the same columns, and per
cell: both null, or numbers with |a - b| <= tol * max(1, |b|) (b = expected; 26 == 26.0), or equal
strings (date-time strings within 1 ms: pandas' timestamp-derived times carry float noise), or
equal booleans. Row order is checked where the notebook's order is deterministic. item_activity:
pandas orders tied impressions arbitrarily (quicksort), so a replay row may be any video tied with
the 10th one (checked against the oracle's `_item_activity_ties`). Exit 0 when everything agrees.
"""

import argparse
import datetime
import json
import math
import sys

KEYS = {
    "join_coverage": ["metric"],
    "coverage_summary": ["metric"],
    "missingness": ["column"],
    "engagement_summary": ["column"],
    "user_activity": ["column"],
    "thresholds": ["candidate_treatment"],
    "treatment_summary": ["column"],
    "daily_panel_summary": ["event_date"],
    "naive_associations": ["treatment", "outcome"],
    "confounding_balance": ["treatment", "covariate"],
    "metadata_diagnostics": ["metric"],
    "metadata_segments": ["user_active_degree"],
    "item_daily_summary": ["column"],
    "readiness_checks": ["check"],
    "item_activity": ["video_id"],
    "watch_ratio_histogram": ["bin_start"],
    "play_duration_histogram": ["bin_start"],
    "user_interactions_histogram": ["bin_start"],
    "user_active_days_histogram": ["bin_start"],
    "item_show_count_histogram": ["bin_start"],
    "item_play_rate_histogram": ["bin_start"],
}
# Tables whose row order the notebook fixes (the others sort with ties, in an arbitrary order).
ORDERED = {
    "coverage_summary", "engagement_summary", "user_activity", "thresholds", "treatment_summary",
    "daily_panel_summary", "naive_associations", "confounding_balance", "metadata_diagnostics",
    "item_daily_summary", "readiness_checks", "watch_ratio_histogram", "play_duration_histogram",
    "user_interactions_histogram", "user_active_days_histogram", "item_show_count_histogram", "item_play_rate_histogram",
}


def as_time(value):
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return datetime.datetime.fromisoformat(value)
    except ValueError:
        return None


def same(a, b, tol):
    """(ok, scaled difference) of one cell."""
    if a is None or b is None:
        return a is None and b is None, 0.0
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b, 0.0
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        d = abs(a - b) / max(1.0, abs(b))
        return d <= tol, d
    ta, tb = as_time(a), as_time(b)
    if ta is not None and tb is not None:
        return abs((ta - tb).total_seconds()) <= 0.001, 0.0
    return a == b, 0.0


def norm_key(row, keys):
    out = []
    for k in keys:
        v = row.get(k)
        t = as_time(v)
        out.append(t.date().isoformat() if t is not None and t.time() == datetime.time() else v)
    return tuple(out)


def compare(expected, actual, tol):
    problems = []
    checked = 0
    worst = 0.0
    for name, keys in KEYS.items():
        if name not in expected:
            continue  # e.g. a bare CSV input has no metadata tables
        exp_rows, act_rows = expected[name], actual.get(name)
        if act_rows is None:
            problems.append(f"{name}: missing from the replay report")
            continue
        if name == "item_activity":
            ties = {norm_key(r, keys): r for r in expected.get("_item_activity_ties", [])}
            pool = {norm_key(r, keys): r for r in exp_rows}
            pool.update(ties)
            if len(act_rows) != len(exp_rows):
                problems.append(f"{name}: {len(act_rows)} rows, pandas has {len(exp_rows)}")
            for r in act_rows:
                k = norm_key(r, keys)
                if k not in pool:
                    problems.append(f"{name}: video {k} is not among pandas' top rows or their ties")
            exp_index = {k: r for k, r in pool.items()}
            must = [norm_key(r, keys) for r in exp_rows if norm_key(r, keys) not in ties]
            act_keys = [norm_key(r, keys) for r in act_rows]
            for k in must:
                if k not in act_keys:
                    problems.append(f"{name}: video {k} (above the tie) is missing")
            pairs = [(exp_index[k], r) for k, r in zip(act_keys, act_rows) if k in exp_index]
        else:
            exp_index = {norm_key(r, keys): r for r in exp_rows}
            act_index = {norm_key(r, keys): r for r in act_rows}
            if set(exp_index) != set(act_index):
                problems.append(
                    f"{name}: row keys differ: missing {sorted(set(exp_index) - set(act_index), key=str)[:5]}, "
                    f"extra {sorted(set(act_index) - set(exp_index), key=str)[:5]}")
            if name in ORDERED and [norm_key(r, keys) for r in exp_rows] != [norm_key(r, keys) for r in act_rows]:
                problems.append(f"{name}: rows are in a different order")
            pairs = [(exp_index[k], act_index[k]) for k in exp_index if k in act_index]
        for e, a in pairs:
            if set(e) != set(a):
                problems.append(f"{name}: columns differ: pandas {sorted(e)}, replay {sorted(a)}")
                continue
            for column, b in e.items():
                ok, d = same(a[column], b, tol)
                checked += 1
                if isinstance(d, float) and not math.isnan(d):
                    worst = max(worst, d)
                if not ok:
                    problems.append(f"{name} {norm_key(e, keys)} {column}: replay {a[column]!r}, pandas {b!r}")
    return problems, checked, worst


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expected", required=True)
    parser.add_argument("--actual", required=True)
    parser.add_argument("--expected-csv")
    parser.add_argument("--actual-csv")
    parser.add_argument("--tolerance", type=float, default=1e-9)
    args = parser.parse_args(argv)
    try:
        with open(args.expected, encoding="utf-8") as f:
            expected = json.load(f)
        with open(args.actual, encoding="utf-8") as f:
            actual = json.load(f)
    except (OSError, ValueError) as error:
        print(f"cannot read the reports: {error}", file=sys.stderr)
        return 2
    problems, checked, worst = compare(expected, actual, args.tolerance)
    if args.expected_csv and args.actual_csv:
        with open(args.expected_csv, encoding="utf-8") as f:
            a = f.read()
        with open(args.actual_csv, encoding="utf-8") as f:
            b = f.read()
        if a != b:
            problems.append(f"readiness CSV differs:\n--- pandas\n{a}--- replay\n{b}")
    for p in problems[:40]:
        print(p)
    if problems:
        print(f"diagnostics: {len(problems)} problem(s)")
        return 1
    print(f"diagnostics: {checked} cells in {len([k for k in KEYS if k in expected])} tables agree "
          f"(max scaled difference {worst:.3g}); readiness CSV identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
