#!/usr/bin/env python3
"""Checks `replay export --csv` with pandas: the CSV must be the notebook's panel exactly.

Usage:
    python3 tools/compare_panel_csv.py --csv panel.csv --expected panel_pandas.jsonl [--actual panel_replay.jsonl]

--csv:      the output of `replay export FILE --csv OUT` (no --with-revision).
--expected: the notebook's panel (tools/notebook_panel.py --out).
--actual:   optional, the panel file the CSV was exported from (replay run --out): the CSV must also
            equal its last revision per key exactly.

The CSV is read twice, with pd.read_csv's default float converter (pandas >= 3.1 reads floats
round-trip by default and deprecates float_precision) and with float_precision="round_trip" (what
older pandas needs). Each read must hold: the header = the notebook's columns in its order; the rows =
the notebook's keys in its order (user_id, event_date); every value bit for bit (float64 bit
patterns; an empty field (NaN) exactly where the panel has null; event_date text equal). Column
dtypes that differ from the notebook's are listed for information (a count column with no empty
field reads as int64 where the notebook holds float64; values are equal). Exit 0 when everything
agrees, 1 otherwise, 2 on unreadable input. Reuses tools/compare_panel.py's readers.
"""

import argparse
import sys
import warnings

import numpy as np
import pandas as pd

from compare_panel import InputError, Problems, read_actual, read_expected


def as_float64(values):
    """A list of JSON values (int, float, None) as float64, None -> NaN."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype="float64")


def differing(a, b):
    """Where a and b differ: NaN in one only, or two numbers with different float64 bit patterns."""
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    return (nan_a != nan_b) | (~nan_a & ~nan_b & (a.view(np.int64) != b.view(np.int64)))


def compare_frame(frame, label, records, columns, keys, out):
    """Compares one CSV read with a panel given as {key: record}; returns the number of failures."""
    failures = 0
    if list(frame.columns) != columns:
        out.append(f"{label}: header differs from the notebook's columns: {list(frame.columns)[:5]} ...")
        return 1
    csv_keys = list(zip(frame["user_id"].tolist(), frame["event_date"].astype(str).tolist()))
    if csv_keys != keys:
        missing = len(set(keys) - set(csv_keys))
        extra = len(set(csv_keys) - set(keys))
        out.append(f"{label}: rows differ from the panel's keys in order: {len(csv_keys)} rows, "
                   f"{missing} keys missing, {extra} extra")
        return 1
    ordered = [records[k] for k in keys]
    for c in columns:
        if c == "event_date":
            continue
        expected = as_float64([r.get(c) for r in ordered])
        try:
            actual = frame[c].to_numpy(dtype="float64", na_value=np.nan)
        except (TypeError, ValueError) as error:
            failures += 1
            out.append(f"{label}: {c}: not numbers ({error})")
            continue
        diff = differing(actual, expected)
        if diff.any():
            failures += 1
            i = int(np.flatnonzero(diff)[0])
            out.append(f"{label}: {c}: {int(diff.sum())} values differ, e.g. {keys[i]}: "
                       f"csv {float(actual[i])!r}, expected {float(expected[i])!r}")
    return failures


def main(argv=None):
    parser = argparse.ArgumentParser(description="Check replay export's CSV against the notebook's panel with pandas.")
    parser.add_argument("--csv", required=True, help="replay export FILE --csv OUT")
    parser.add_argument("--expected", required=True, help="panel from tools/notebook_panel.py")
    parser.add_argument("--actual", default=None, help="the panel file exported (replay run --out)")
    args = parser.parse_args(argv)
    try:
        expected, columns = read_expected(args.expected)
        actual = None
        if args.actual:
            actual, _, _ = read_actual(args.actual, Problems())
    except (InputError, OSError) as error:
        print(f"compare_panel_csv: {error}", file=sys.stderr)
        return 2
    # The notebook's panel is in its row order already (tools/notebook_panel.py writes user_day as sorted).
    keys = list(expected.keys())

    reads = {}
    try:
        reads["read_csv default"] = pd.read_csv(args.csv)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas 3.1 deprecates float_precision (round-trip is its default)
            reads['float_precision="round_trip"'] = pd.read_csv(args.csv, float_precision="round_trip")
    except (OSError, ValueError) as error:
        print(f"compare_panel_csv: {args.csv}: {error}", file=sys.stderr)
        return 2

    out = []
    failures = 0
    for label, frame in reads.items():
        failures += compare_frame(frame, f"{label} vs notebook", expected, columns, keys, out)
        if actual is not None:
            failures += compare_frame(frame, f"{label} vs replay's last revisions", actual, columns, keys, out)
    frame = reads["read_csv default"]
    floats = {c for c in columns if any(isinstance(r.get(c), float) for r in expected.values())}
    dtype_notes = [f"{c} {frame[c].dtype}" for c in columns
                   if c in floats and frame[c].dtype != np.float64]
    if dtype_notes:
        out.append(f"note: {len(dtype_notes)} columns the notebook holds as float64 read as another dtype "
                   f"(values equal): {', '.join(dtype_notes)}")
    if failures == 0:
        against = "the notebook's panel" + (" and replay's last revisions" if actual is not None else "")
        out.append(f"AGREE: CSV {len(keys)} rows x {len(columns)} columns = {against}, header and row order "
                   f"included, {len(keys) * len(columns)} values bit for bit (read_csv default and "
                   f'float_precision="round_trip")')
    else:
        out.append(f"DISAGREE: {failures} failed check(s)")
    print("\n".join(out))
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
