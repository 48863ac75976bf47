#!/usr/bin/env python3
"""Where a process's memory is: PSS from a copy of /proc/PID/smaps (probe.py
--smaps), by kind of mapping — the program's own file, each shared library,
fonts, the heap, anonymous memory, stacks. Two files side by side (Latch's
process and the bare window's, say) show where the difference is.

    python3 bench/smaps_by_kind.py A.smaps [B.smaps] [--top N]
"""
import collections
import os
import re
import sys

HEADER = re.compile(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$")


def kind(name, exe):
    if not name:
        return "anonymous"
    if name in ("[heap]", "[stack]", "[vdso]", "[vvar]", "[vsyscall]"):
        return name
    if name.startswith("[anon:") or name.startswith("[stack:"):
        return name.split(":")[0] + "]"
    base = os.path.basename(name.split(" (deleted)")[0])
    if exe and base == exe:
        return "the program itself"
    if re.search(r"\.(ttf|otf|ttc|pcf|woff2?)$", base, re.I):
        return "fonts"
    if base.endswith(".cache-9") or "fontconfig" in name:
        return "fontconfig caches"
    if name.startswith("/memfd:") or name.startswith("/dev/shm") or "memfd" in name:
        return "shared memory (memfd)"
    if ".so" in base:
        return base.split(".so")[0] + ".so"
    return base


def read(path):
    exe = os.path.basename(path).split(".")[0]
    totals = collections.Counter()
    current = None
    with open(path) as f:
        for line in f:
            m = HEADER.match(line)
            if m and not line.split(":", 1)[0].isalpha():
                current = kind(m.group(1).strip(), exe)
                continue
            if line.startswith("Pss:") and current is not None:
                totals[current] += int(line.split()[1])
    return totals


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 25
    if "--top" in sys.argv:
        args.remove(str(top))
    tables = [read(p) for p in args]
    keys = sorted(set().union(*tables), key=lambda k: -max(t[k] for t in tables))
    print("%-36s" % "PSS kB" + "".join("%14s" % os.path.basename(p)[:13] for p in args) + ("%10s" % "diff" if len(args) == 2 else ""))
    for k in keys[:top]:
        row = [t[k] for t in tables]
        print("%-36s" % k[:36] + "".join("%14d" % v for v in row) + ("%+10d" % (row[0] - row[1]) if len(row) == 2 else ""))
    totals = [sum(t.values()) for t in tables]
    print("%-36s" % "total" + "".join("%14d" % v for v in totals) + ("%+10d" % (totals[0] - totals[1]) if len(totals) == 2 else ""))


if __name__ == "__main__":
    main()
