#!/usr/bin/env python3
"""Differential test: replay's revision stream against the notebook's panel (tools/notebook_panel.py).

Usage:
    python3 tools/compare_panel.py --expected panel_pandas.jsonl --actual panel_replay.jsonl
                                   [--tolerance 1e-9] [--report FILE]

--expected: one JSON object per panel row (user_id, event_date, then the panel columns).
--actual:   replay's output: JSON lines, each a user-day record with the same columns plus
            "revision" (int) and "final" (bool); a key (user_id, event_date) may appear several times.

Stream checks on --actual (per key, in file order):
  * revisions are 0, 1, 2, ... in file order (no gap, no repeat, no reordering);
  * exactly one line has final == true, and it is the key's last revision;
  * every revision-0 line has all lead_*, next_day_*, future_* fields null (not with --live);
  * all lag_1_*, prior_3day_*, treatment_* fields are identical across the key's revisions;
  * every line is strict JSON (no NaN/Infinity tokens) with an int revision and a bool final.
Panel checks (the last revision per key against --expected):
  * same set of keys (missing / extra counts and examples), same set of columns;
  * per column: both null, or both numbers with |a - b| <= tol * max(1, |b|) (b = expected);
    26 and 26.0 are equal; a bool is not a number; a string must match exactly.
Per column it reports how many values are bit-identical vs only within tolerance, and the max
absolute and scaled (|a-b| / max(1,|b|)) differences. Exit status 0 when everything agrees, 1 otherwise,
2 on unreadable input. Needs only the standard library; uses orjson when it is installed (set
COMPARE_PANEL_STDLIB_JSON=1 to force the standard json module).
"""

import argparse
import json
import math
import os
import sys
from collections import defaultdict

KEY_FIELDS = ("user_id", "event_date")
STREAM_FIELDS = ("revision", "final")
LEAD_PREFIXES = ("lead_", "next_day_", "future_")
FROZEN_PREFIXES = ("lag_1_", "prior_3day_", "treatment_")
MAX_EXAMPLES = 10


class InputError(Exception):
    pass


def _reject_constant(token):
    raise ValueError(f"non-standard JSON token {token}")


_STRICT_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_LENIENT_DECODER = json.JSONDecoder()

try:  # optional speed-up; orjson is strict RFC 8259 too (rejects NaN/Infinity)
    if os.environ.get("COMPARE_PANEL_STDLIB_JSON"):
        raise ImportError("stdlib json requested")
    import orjson as _orjson

    def _loads_strict(line):
        try:
            return _orjson.loads(line)
        except _orjson.JSONDecodeError as error:
            raise ValueError(str(error)) from None

except ImportError:  # the standard library is enough

    def _loads_strict(line):
        return _STRICT_DECODER.decode(line.decode("utf-8"))


def _norm_user(value):
    """user_id as a hashable canonical value: 14, 14.0 -> 14."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _key_of(record, where):
    try:
        return (_norm_user(record["user_id"]), record["event_date"])
    except KeyError as missing:
        raise InputError(f"{where}: record without {missing}") from None


def _fmt_key(key):
    return f"user_id={key[0]} event_date={key[1]}"


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same(a, b):
    """Exact equality for the stream checks (26 == 26.0; bool is not a number)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


class Problems:
    """Named failure counters, each with a few examples."""

    def __init__(self):
        self.counts = defaultdict(int)
        self.examples = defaultdict(list)

    def add(self, check, message):
        self.counts[check] += 1
        if len(self.examples[check]) < MAX_EXAMPLES:
            self.examples[check].append(message)

    def total(self):
        return sum(self.counts.values())


def read_expected(path):
    records = {}
    columns = None
    duplicates = []
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = _loads_strict(line)
            except ValueError as error:
                raise InputError(f"{path}:{lineno}: {error}") from None
            if columns is None:
                columns = list(record.keys())
            key = _key_of(record, f"{path}:{lineno}")
            if key in records:
                duplicates.append(key)
            records[key] = record
    if duplicates:
        raise InputError(f"{path}: {len(duplicates)} duplicate keys, e.g. {_fmt_key(duplicates[0])}")
    return records, columns or []


def read_actual(path, problems, live=False):
    """Read the revision stream, run the stream checks.

    Returns ({key: last revision record}, column order, line count).
    """
    last = {}            # key -> record with the highest revision seen
    seen = {}            # key -> number of lines seen
    finals = defaultdict(int)
    frozen = {}          # key -> tuple of the frozen-prefix values, from the key's first line
    column_order = None
    known_keys = None    # the key set of the first line; other shapes take the slow path
    lead_cols = frozen_cols = ()
    lines = 0
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            lines += 1
            try:
                record = _loads_strict(line)
            except ValueError as error:
                problems.add("strict JSON", f"line {lineno}: {error}")
                try:
                    record = _LENIENT_DECODER.decode(line.decode("utf-8", "replace"))
                except ValueError:
                    continue
            if known_keys is None:
                column_order = [c for c in record if c not in STREAM_FIELDS]
                known_keys = set(record.keys())
                lead_cols = tuple(c for c in record if c.startswith(LEAD_PREFIXES))
                frozen_cols = tuple(c for c in record if c.startswith(FROZEN_PREFIXES))
            if record.keys() == known_keys:
                my_lead, my_frozen = lead_cols, frozen_cols
            else:
                my_lead = tuple(c for c in record if c.startswith(LEAD_PREFIXES))
                my_frozen = tuple(c for c in record if c.startswith(FROZEN_PREFIXES))
            key = _key_of(record, f"{path}:{lineno}")
            revision = record.get("revision")
            final = record.get("final")
            if not (isinstance(revision, int) and not isinstance(revision, bool)):
                problems.add("revision is an int", f"line {lineno} {_fmt_key(key)}: revision={revision!r}")
                continue
            if not isinstance(final, bool):
                problems.add("final is a bool", f"line {lineno} {_fmt_key(key)}: final={final!r}")
            count = seen.get(key, 0)
            if revision != count:
                problems.add(
                    "revisions 0,1,2,... in file order",
                    f"line {lineno} {_fmt_key(key)}: revision {revision} after {count} earlier line(s)",
                )
            seen[key] = count + 1
            if final is True:
                finals[key] += 1
            # A live feed writes a user first seen after days closed with those days at once, leads known so far.
            if revision == 0 and not live:
                lead_values = list(map(record.get, my_lead))
                if lead_values.count(None) != len(my_lead):
                    bad = [c for c, v in zip(my_lead, lead_values) if v is not None]
                    problems.add(
                        "rev 0 has null leads",
                        f"line {lineno} {_fmt_key(key)}: non-null {', '.join(bad[:4])}{' ...' if len(bad) > 4 else ''}",
                    )
            signature = (my_frozen, tuple(map(record.get, my_frozen)))
            previous = frozen.get(key)
            if previous is None:
                frozen[key] = signature
            elif previous != signature or (bool in set(map(type, signature[1])) and not all(map(_same, previous[1], signature[1]))):
                pcols, pvals = previous
                scols, svals = signature
                changed = [c for c, pv, sv in zip(scols, pvals, svals) if not _same(pv, sv)]
                if pcols != scols:
                    changed.append("(column set)")
                problems.add(
                    "lag/prior/treatment frozen across revisions",
                    f"line {lineno} {_fmt_key(key)} revision {revision}: changed {', '.join(changed[:4])}",
                )
            kept = last.get(key)
            if kept is None or revision >= kept["revision"]:
                last[key] = record
    for key, record in last.items():
        if record.get("final") is not True:
            problems.add("last revision is final", f"{_fmt_key(key)}: last revision {record['revision']} has final={record.get('final')!r}")
        if finals.get(key, 0) > 1:
            problems.add("exactly one final revision", f"{_fmt_key(key)}: {finals[key]} final lines")
    return last, column_order or [], lines


class ColumnStats:
    __slots__ = ("compared", "identical", "within", "mismatched", "max_abs", "max_rel")

    def __init__(self):
        self.compared = self.identical = self.within = self.mismatched = 0
        self.max_abs = 0.0
        self.max_rel = 0.0


def _key_order(key):
    return (str(type(key[0])), key[0], str(key[1]))


def compare(expected, actual, expected_columns, actual_columns, tolerance, problems):
    mismatches = []
    mismatch_count = 0
    exp_keys = set(expected)
    act_keys = set(actual)
    missing_keys = sorted(exp_keys - act_keys, key=_key_order)
    extra_keys = sorted(act_keys - exp_keys, key=_key_order)
    for key in missing_keys:
        problems.add("keys: missing in actual", _fmt_key(key))
    for key in extra_keys:
        problems.add("keys: extra in actual", _fmt_key(key))

    exp_cols = [c for c in expected_columns if c not in KEY_FIELDS]
    act_col_set = set(actual_columns) | set(KEY_FIELDS)
    for record in actual.values():
        shape = record.keys()
        if len(shape) != len(act_col_set) + len(STREAM_FIELDS) or not shape >= act_col_set:
            act_col_set.update(c for c in record if c not in STREAM_FIELDS)
    missing_cols = [c for c in exp_cols if c not in act_col_set]
    extra_cols = sorted(act_col_set - set(expected_columns))
    for c in missing_cols:
        problems.add("columns: missing in actual", c)
    for c in extra_cols:
        problems.add("columns: extra in actual", c)

    cols = [c for c in exp_cols if c in act_col_set]
    stats = [ColumnStats() for _ in cols]
    isfinite = math.isfinite
    common = sorted(exp_keys & act_keys, key=_key_order)
    absent = object()
    absent_list = [absent] * len(cols)
    identical_rows = 0
    for key in common:
        erec = expected[key]
        arec = actual[key]
        ev = list(map(erec.get, cols))
        av = list(map(arec.get, cols, absent_list))
        if ev == av and bool not in set(map(type, av)):
            # Fast path: == treats 26 and 26.0 as equal; strict JSON has no NaN; a bool must not
            # pass as 0/1, so rows holding one take the type-strict path.
            identical_rows += 1
            continue
        for i, c in enumerate(cols):
            b = ev[i]
            a = av[i]
            st = stats[i]
            st.compared += 1
            ok = False
            why = None
            if a is absent:
                why = "absent in actual record"
            elif a is None and b is None:
                st.identical += 1
                continue
            elif a is None or b is None:
                why = "null vs value"
            elif _is_number(a) and _is_number(b):
                fa = float(a)
                fb = float(b)
                if fa == fb:
                    st.identical += 1
                    continue
                if isfinite(fa) and isfinite(fb):
                    diff = abs(fa - fb)
                    rel = diff / max(1.0, abs(fb))
                    if diff > st.max_abs:
                        st.max_abs = diff
                    if rel > st.max_rel:
                        st.max_rel = rel
                    if diff <= tolerance * max(1.0, abs(fb)):
                        st.within += 1
                        ok = True
                    else:
                        why = f"|diff|={diff:.3g} scaled={rel:.3g}"
                else:
                    why = "non-finite"
            elif type(a) is type(b) and a == b:
                st.identical += 1
                continue
            else:
                why = f"type {type(b).__name__} vs {type(a).__name__}"
            if not ok:
                st.mismatched += 1
                mismatch_count += 1
                if len(mismatches) < MAX_EXAMPLES:
                    mismatches.append(
                        {"user_id": key[0], "event_date": key[1], "column": c,
                         "expected": b, "actual": None if a is absent else a, "why": why}
                    )
    for st in stats:
        st.compared += identical_rows
        st.identical += identical_rows
    if mismatch_count:
        problems.counts["values: mismatched (outside tolerance, null vs value, or type)"] += mismatch_count
    # Column order: informational only.
    order_note = None
    expected_set = set(expected_columns)
    shared_exp = [c for c in expected_columns if c in act_col_set]
    shared_act = [c for c in actual_columns if c in expected_set]
    if shared_exp != shared_act:
        order_note = "column order differs from the expected panel (not a failure)"
    return {
        "stats": dict(zip(cols, stats)),
        "mismatches": mismatches,
        "missing_keys": len(missing_keys),
        "extra_keys": len(extra_keys),
        "missing_columns": missing_cols,
        "extra_columns": extra_cols,
        "common_keys": len(common),
        "order_note": order_note,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description="Compare replay's revision stream with the notebook's panel.")
    parser.add_argument("--expected", required=True, help="panel from tools/notebook_panel.py")
    parser.add_argument("--actual", required=True, help="replay's JSON lines (with revision/final)")
    parser.add_argument("--tolerance", type=float, default=1e-9, help="relative tolerance, |a-b| <= tol*max(1,|b|)")
    parser.add_argument("--report", default=None, help="write a JSON report here")
    parser.add_argument("--live", action="store_true", help="a live feed's output: a revision 0 may carry the leads known when it was written (users first seen after days closed)")
    args = parser.parse_args(argv)

    problems = Problems()
    try:
        expected, expected_columns = read_expected(args.expected)
        actual, actual_columns, actual_lines = read_actual(args.actual, problems, live=args.live)
    except (InputError, OSError) as error:
        print(f"compare_panel: {error}", file=sys.stderr)
        return 2

    result = compare(expected, actual, expected_columns, actual_columns, args.tolerance, problems)
    stats = result["stats"]
    ok = problems.total() == 0

    out = []
    out.append(f"expected: {len(expected)} rows, {len(expected_columns)} columns ({args.expected})")
    out.append(f"actual:   {actual_lines} lines, {len(actual)} keys ({args.actual})")
    out.append(f"tolerance: {args.tolerance:g} relative (|a-b| <= tol*max(1,|b|))")
    out.append(f"keys: {result['common_keys']} common, {result['missing_keys']} missing, {result['extra_keys']} extra")
    out.append(f"columns: {len(stats)} compared, missing {result['missing_columns'] or 'none'}, extra {result['extra_columns'] or 'none'}")
    if result["order_note"]:
        out.append(f"note: {result['order_note']}")
    out.append("")
    out.append(f"{'column':40} {'identical':>9} {'within':>7} {'bad':>6} {'max_abs':>10} {'max_rel':>10}")
    for c, st in stats.items():
        flag = "" if st.mismatched == 0 else "  <-- MISMATCH"
        out.append(f"{c:40} {st.identical:9d} {st.within:7d} {st.mismatched:6d} {st.max_abs:10.3g} {st.max_rel:10.3g}{flag}")
    out.append("")
    if problems.counts:
        out.append("FAILED checks:")
        for check, count in problems.counts.items():
            out.append(f"  {check}: {count}")
            for example in problems.examples.get(check, [])[:5]:
                out.append(f"      {example}")
    if result["mismatches"]:
        out.append("first value mismatches:")
        for m in result["mismatches"]:
            out.append(
                f"  user_id={m['user_id']} event_date={m['event_date']} {m['column']}: "
                f"expected={m['expected']!r} actual={m['actual']!r} ({m['why']})"
            )
    total_values = sum(st.compared for st in stats.values())
    identical = sum(st.identical for st in stats.values())
    within = sum(st.within for st in stats.values())
    out.append(
        f"{'AGREE' if ok else 'DISAGREE'}: {total_values} values compared, {identical} bit-identical, "
        f"{within} within tolerance only, {total_values - identical - within} mismatched; "
        f"{problems.total()} failed check(s)"
    )
    print("\n".join(out))

    if args.report:
        report = {
            "agree": ok,
            "tolerance": args.tolerance,
            "expected_rows": len(expected),
            "actual_lines": actual_lines,
            "actual_keys": len(actual),
            "common_keys": result["common_keys"],
            "missing_keys": result["missing_keys"],
            "extra_keys": result["extra_keys"],
            "missing_columns": result["missing_columns"],
            "extra_columns": result["extra_columns"],
            "failed_checks": {k: {"count": v, "examples": problems.examples.get(k, [])} for k, v in problems.counts.items()},
            "columns": {
                c: {"compared": st.compared, "identical": st.identical, "within_tolerance": st.within,
                    "mismatched": st.mismatched,
                    "max_abs_diff": st.max_abs, "max_rel_diff": st.max_rel}
                for c, st in stats.items()
            },
            "first_mismatches": result["mismatches"],
        }
        with open(args.report, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
