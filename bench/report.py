#!/usr/bin/python3
"""Prints bench/desktop.sh's figures from its results file (JSON lines).

Each line: {"config": label, "connections": "100", "env": "...",
"app": "latch-app"|"bare window", "warmup": bool, ...probe.py's result}. A row
is a (setting, connections) pair: the bare window, which has no connections,
is launched again for each, alternating with Latch. MB here = 10^6 bytes (PSS
is read in KiB).
"""

import json
import statistics
import sys

COLD_TARGET_MS = 100
MEM_TARGET_MB = 25
APPS = ("latch-app", "bare window")


def mb(kib):
    return kib * 1024 / 1e6


def load(path):
    runs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                runs.append(json.loads(line))
    return runs


def row_of(r):
    return (r["config"], r.get("connections", "100"))


def stats(runs, row, app):
    rs = [r for r in runs if row_of(r) == row and r["app"] == app and not r["warmup"]]
    ok = [r for r in rs if r.get("paint_ms") is not None and r.get("pss_kb")]
    out = {"n": len(rs), "ok": len(ok), "failed": [r.get("error", "?") for r in rs if r not in ok]}
    if ok:
        paint = [r["paint_ms"] for r in ok]
        settled = [r["settled_ms"] for r in ok if r.get("settled_ms") is not None]
        out.update(settled=statistics.median(settled) if settled else None, unsettled=len(ok) - len(settled))
        out.update(paint=statistics.median(paint), pmin=min(paint), pmax=max(paint),
                   window=statistics.median(r["window_ms"] for r in ok),
                   pss=statistics.median(mb(r["pss_kb"]) for r in ok),
                   still_painted=all(r.get("painted_after_idle") for r in ok))
        by_pss = sorted(ok, key=lambda r: r["pss_kb"])
        out["median_run"] = by_pss[len(by_pss) // 2]
    return out


def describe_env(by_app):
    both = by_app.get("latch-app", "")
    bare = by_app.get("bare window", both)
    extra = bare[len(both):].strip() if bare.startswith(both) else bare
    return "; ".join(x for x in (both and "both: " + both, extra and "bare window: " + extra) if x)


def summary(table, row, what):
    config, count = row
    latch, bare = table[(row, "latch-app")], table[(row, "bare window")]
    if not (latch["ok"] and bare["ok"]):
        print("  %s, %s connections: not enough successful runs to compare" % row)
        return False
    d_ms = latch["paint"] - bare["paint"]
    d_mb = latch["pss"] - bare["pss"]
    print("%s (%s), %s connections" % (what, config, count))
    print("  cold start to first paint (median of %d)   latch-app %4.0f ms   bare window %4.0f ms   "
          "difference %+4.0f ms   target ≤ +%d ms   %s" % (
              latch["ok"], latch["paint"], bare["paint"], d_ms, COLD_TARGET_MS,
              "met" if d_ms <= COLD_TARGET_MS else "MISSED"))
    if latch["settled"] is not None and bare["settled"] is not None:
        print("  %-39s   latch-app %4.0f ms   bare window %4.0f ms   "
              "difference %+4.0f ms   no target: Latch's list on screen" % (
                  "settled (median of %d)" % latch["ok"], latch["settled"], bare["settled"], latch["settled"] - bare["settled"]))
    print("  idle PSS                                  latch-app %4.0f MB   bare window %4.0f MB   "
          "difference %+4.0f MB   target ≤ +%d MB    %s" % (
              latch["pss"], bare["pss"], d_mb, MEM_TARGET_MB,
              "met" if d_mb <= MEM_TARGET_MB else "MISSED"))
    return True


def main():
    runs = load(sys.argv[1])
    # One row per setting and count, in the order run; a setting's environment
    # as "both apps; bare window only".
    rows, envs = [], {}
    for r in runs:
        if row_of(r) not in rows:
            rows.append(row_of(r))
        envs.setdefault(r["config"], {})[r["app"]] = r["env"].strip()
    table = {(row, a): stats(runs, row, a) for row in rows for a in APPS}

    print()
    print("== WebKitGTK settings (medians of %d runs; cold start = spawn to first painted frame)"
          % max(s["n"] for s in table.values()))
    head = "%-22s %11s %-12s %20s %10s %10s %11s %9s  %s" % (
        "setting", "connections", "app", "first paint ms", "settled", "(window)", "idle PSS MB", "painted", "failed runs")
    print(head)
    print("-" * len(head))
    for row in rows:
        for app in APPS:
            s = table[(row, app)]
            if s["ok"]:
                settled = "%.0f" % s["settled"] if s["settled"] is not None else "never"
                if s["unsettled"] and s["settled"] is not None:
                    settled += " (%d never)" % s["unsettled"]
                print("%-22s %11s %-12s %6.0f (%4.0f–%4.0f) %10s %10.0f %11.1f %9s  %s" % (
                    row[0], row[1], app, s["paint"], s["pmin"], s["pmax"], settled, s["window"], s["pss"],
                    "yes" if s["still_painted"] else "NO",
                    len(s["failed"]) or ""))
            else:
                print("%-22s %11s %-12s %s" % (row[0], row[1], app,
                                                "no successful run: %s" % "; ".join(s["failed"][:2])))
    for config, by_app in envs.items():
        env = describe_env(by_app)
        if env:
            print("  %-22s = %s" % (config, env))

    print()
    print("== where the idle memory goes (run with the median PSS)")
    for row in rows:
        if row[0] not in ("as shipped", "same setting on both"):
            continue
        for app in APPS:
            s = table[(row, app)]
            if s["ok"]:
                procs = ", ".join("%s %.1f" % (name, mb(kb)) for name, _, kb in s["median_run"]["procs"])
                print("  %-22s %5s %-12s %6.1f MB = %s" % (row[0], row[1], app, s["pss"], procs))

    print()
    print("== summary (release builds, under Xvfb)")
    ok = True
    for row in rows:
        if row[0] == "as shipped":
            ok = summary(table, row, "the targets: each app as shipped") and ok
        elif row[0] == "same setting on both":
            summary(table, row, "like with like: the bare window with Latch's setting")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
