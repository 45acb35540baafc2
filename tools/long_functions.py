#!/usr/bin/env python3
"""Lists Swift functions, initializers, closures-bodied computed properties and deinit bodies longer than
a limit (default 80 lines), for the rule that no function in Sources/ or replay/ is longer than that.

Usage: tools/long_functions.py [--limit 80] PATH...   (exit 1 when any is found)
A body is counted from the line of its declaration to its closing brace; strings and comments are skipped
when matching braces, and so are braces inside the parameter list (closures given as default values).
"""
import argparse
import os
import re
import sys

DECL = re.compile(r'^\s*(?:@[\w()."]+\s+)*(?:(?:public|private|fileprivate|internal|open|static|class|final|override|mutating|nonmutating|convenience|required|package|nonisolated|@inline\(__always\)|@discardableResult)\s+)*(func\s+[^\s(<]+|init[?!]?|deinit|subscript)\b')


def strip(line, state):
    """Removes string literals and comments from a line; `state` carries block comments and multi-line strings."""
    out, i = [], 0
    while i < len(line):
        if state['block']:
            j = line.find('*/', i)
            if j < 0:
                return ''.join(out)
            state['block'], i = False, j + 2
        elif state['multi']:
            j = line.find('"""', i)
            if j < 0:
                return ''.join(out)
            state['multi'], i = False, j + 3
        elif line.startswith('//', i):
            break
        elif line.startswith('/*', i):
            state['block'], i = True, i + 2
        elif line.startswith('"""', i):
            state['multi'], i = True, i + 3
        elif line[i] == '"':
            j = i + 1
            while j < len(line) and line[j] != '"':
                j += 2 if line[j] == '\\' else 1
            i = j + 1
        else:
            out.append(line[i])
            i += 1
    return ''.join(out)


def scan(path, limit):
    lines = open(path, encoding='utf-8').read().split('\n')
    state = {'block': False, 'multi': False}
    code = [strip(l, state) for l in lines]
    found = []
    for n, raw in enumerate(lines):
        m = DECL.match(code[n])
        if not m:
            continue
        depth, parens, started = 0, 0, False
        for k in range(n, len(code)):
            if not started and k > n and DECL.match(code[k]):
                break  # a requirement without a body (a protocol's)
            for ch in code[k]:
                if not started and ch in '([':
                    parens += 1
                elif not started and ch in ')]':
                    parens -= 1
                elif ch == '{' and (started or parens == 0):
                    depth, started = depth + 1, True
                elif ch == '}' and started:
                    depth -= 1
            if depth < 0:
                break
            if started and depth == 0:
                length = k - n + 1
                if length > limit:
                    found.append((path, n + 1, length, m.group(1)))
                break
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--limit', type=int, default=80)
    ap.add_argument('paths', nargs='+')
    args = ap.parse_args()
    found = []
    for root in args.paths:
        for dirpath, _, files in os.walk(root):
            for f in sorted(files):
                if f.endswith('.swift'):
                    found += scan(os.path.join(dirpath, f), args.limit)
    for path, line, length, name in sorted(found):
        print(f"{path}:{line}: {name} is {length} lines")
    print(f"long_functions: {len(found)} over {args.limit} lines")
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
