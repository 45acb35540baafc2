#!/usr/bin/env python3
"""Writes a KuaiRec interaction CSV in a live feed's arrival order, for piping into `replay run -`.

Usage: tools/arrival_order.py ARCHIVE_OR_CSV [--matrix small|big] [--max-delay SECONDS] [--seed N] > feed.csv

Each row arrives at its timestamp plus a random delay of up to --max-delay seconds (default 300); a row
without a timestamp at 04:00 UTC (noon in Beijing) of its date label; a row with neither first. The
header comes first. Reads the outer KuaiRec download (18164998.zip), KuaiRec.zip, or a bare CSV.
"""
import argparse
import csv
import datetime
import io
import random
import sys
import zipfile


def open_matrix(path, matrix):
    name = f"KuaiRec 2.0/data/{matrix}_matrix.csv"
    if not zipfile.is_zipfile(path):
        return open(path, newline="")
    outer = zipfile.ZipFile(path)
    names = outer.namelist()
    if name in names:
        return io.TextIOWrapper(outer.open(name), newline="")
    inner = zipfile.ZipFile(io.BytesIO(outer.read("KuaiRec.zip")))
    return io.TextIOWrapper(inner.open(name), newline="")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("--matrix", default="small")
    parser.add_argument("--max-delay", type=float, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    reader = csv.reader(open_matrix(args.input, args.matrix))
    header = next(reader)
    ts_col, date_col = header.index("timestamp"), header.index("date")
    keyed = []
    for i, row in enumerate(reader):
        if not row:
            continue
        if row[ts_col]:
            at = float(row[ts_col])
        elif row[date_col]:
            label = str(int(float(row[date_col])))
            day = datetime.datetime.strptime(label, "%Y%m%d").replace(tzinfo=datetime.timezone.utc)
            at = day.timestamp() + 4 * 3600
        else:
            at = 0.0
        keyed.append((at + rng.uniform(0, args.max_delay), i, row))
    keyed.sort(key=lambda k: (k[0], k[1]))
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(header)
    for _, _, row in keyed:
        out.writerow(row)


if __name__ == "__main__":
    main()
