#!/usr/bin/env python3
"""Compares two panel JSON lines files by their last revision per (user_id, event_date).

Usage: tools/compare_latest.py A.jsonl B.jsonl
Prints the number of keys and every difference (values compared as JSON text, so bit for bit);
exits 1 when the compacted panels differ. Also checks that each file's last revision of every key
is final.
"""
import json
import sys


def latest(path):
    out = {}
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            record = json.loads(line)
            key = (record["user_id"], record["event_date"])
            previous = out.get(key)
            if previous is not None and record["revision"] <= previous["revision"]:
                raise SystemExit(f"{path}:{n}: revision {record['revision']} of {key} after {previous['revision']}")
            out[key] = record
    return out


def main():
    a, b = latest(sys.argv[1]), latest(sys.argv[2])
    problems = []
    if a.keys() != b.keys():
        problems.append(f"keys differ: {len(a.keys() - b.keys())} only in A, {len(b.keys() - a.keys())} only in B")
    for path, panel in ((sys.argv[1], a), (sys.argv[2], b)):
        unfinished = [k for k, r in panel.items() if not r["final"]]
        if unfinished:
            problems.append(f"{path}: {len(unfinished)} keys without a final revision, e.g. {unfinished[0]}")
    for key in sorted(a.keys() & b.keys()):
        ra, rb = dict(a[key]), dict(b[key])
        for r in (ra, rb):
            r.pop("revision")
            r.pop("final")
        if json.dumps(ra) != json.dumps(rb):
            diff = [c for c in ra if json.dumps(ra[c]) != json.dumps(rb.get(c))]
            problems.append(f"{key}: {', '.join(f'{c} {ra[c]!r} vs {rb.get(c)!r}' for c in diff[:4])}")
    print(f"{len(a)} keys compared")
    for p in problems[:20]:
        print("DIFF", p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
