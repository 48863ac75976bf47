#!/usr/bin/env python3
"""The functions of latch-app that a start runs, for src-tauri/startup-order.txt
(bench/startup-order.sh), and how much of that list a build still matches.

    startup_order.py write OUT CALLGRIND_FILE...   functions of the latch-app object that ran
    startup_order.py check BINARY ORDER_FILE       how many listed functions BINARY defines

Names stay mangled: the linker's --symbol-ordering-file matches symbol names
exactly, hash included, so a list goes stale when the build's crate hashes
change (another toolchain, a changed Cargo.lock or release profile) and
`check` says by how much.
"""
import re
import subprocess
import sys

LINE = re.compile(r"^(ob|cob|fn|cfn)=(?:\((\d+)\))?\s*(.*)$")


def ran(paths, obj="latch-app"):
    """Function names of `obj` with a cost line in callgrind's output files
    (its name compression: "(id) name" once, then "(id")."""
    names, seen = [], set()
    for path in paths:
        objects, functions, current = {}, {}, None
        with open(path, errors="replace") as f:
            for line in f:
                m = LINE.match(line.rstrip("\n"))
                if not m:
                    continue
                key, ident, name = m.groups()
                table = objects if key in ("ob", "cob") else functions
                if ident is not None and name:
                    table[ident] = name
                value = table.get(ident, name) if ident is not None else name
                if key == "ob":
                    current = value
                elif key == "fn" and current and current.endswith("/" + obj):
                    value = re.sub(r"'\d+$", "", value)  # callgrind's recursion marks
                    if value.startswith(("(", "0x")) or value in seen:
                        continue                           # "(below main)", unnamed code
                    seen.add(value)
                    names.append(value)
    return names


def defined(binary):
    out = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    return {p[2] for p in (line.split() for line in out.splitlines()) if len(p) == 3 and p[1] in "tTwW"}


def listed(order_file):
    with open(order_file) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "write":
        names = ran(sys.argv[3:])
        with open(sys.argv[2], "w") as out:
            out.write("# The functions of latch-app that a start runs (100 connections, window shown, list\n"
                      "# loaded, idle), placed side by side by the linker in release builds (build.rs).\n"
                      "# Written by bench/startup-order.sh; mangled names, hashes included: run it again\n"
                      "# when `bench/startup_order.py check` (in `make bench`) finds few of them.\n")
            out.writelines(n + "\n" for n in sorted(names))
        print("startup order: %d functions of latch-app ran" % len(names))
    elif len(sys.argv) == 4 and sys.argv[1] == "check":
        names = listed(sys.argv[3])
        try:
            present = defined(sys.argv[2])
        except subprocess.CalledProcessError:
            print("startup order: %s has no symbols to check against" % sys.argv[2])
            return
        found = sum(1 for n in names if n in present)
        share = 100.0 * found / len(names) if names else 0.0
        print("startup order: %d of %d listed functions are in %s (%.0f %%)%s" % (
            found, len(names), sys.argv[2], share,
            "" if share >= 80 else "; the list is stale: run bash bench/startup-order.sh"))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
