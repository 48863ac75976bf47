#!/usr/bin/python3
"""One measured launch of a desktop app under an X server (Xvfb).

    probe.py [--idle S] [--timeout S] [--shot FILE.png] [--log FILE]
             [--meta KEY=VALUE]... -- PROGRAM [ARGS...]

Starts PROGRAM (with this process's environment) and prints one JSON object:

  window_ms  spawn -> a viewable top-level window whose _NET_WM_PID is the
             app's pid exists (X server polled every few ms)
  paint_ms   spawn -> a screenshot of that window (XGetImage, straight from the
             X server's framebuffer: no compositor runs under Xvfb) is no
             longer blank. "Blank" = every pixel the same colour, or only two
             colours (Xvfb's black root showing through a window GTK has
             half-filled with its theme background). Painted = at least
             3 distinct colours and >= MIN_PIXELS pixels unlike the top-left
             one: in practice, anti-aliased text the page rendered.
  settled_ms spawn -> the last frame that differed from the one before, once
             the window has shown the same pixels for SETTLE_QUIET_S
             (screenshots keep being taken after the first paint; given up
             after SETTLE_MAX_S, then null): when what the app draws at
             start is all on screen (for Latch, the list of connections,
             which its first frame may not hold yet)
  pss_kb     after the paint and --idle seconds of idle: Pss from
             /proc/PID/smaps_rollup summed over the app and every descendant
             (WebKitWebProcess, WebKitNetworkProcess, ...), plus any process
             that carries this launch's marker in its environment (in case a
             helper was re-parented away from the app)
  procs      [name, pid, pss_kb] of each of those processes

Then it stops the app (SIGTERM to every process found, SIGKILL after 5 s)
and waits until all of them are gone, so the next launch starts cold.
Xlib is used through ctypes (libX11 is already there for GTK): no extra
packages, and polling costs no process spawns.
"""

import argparse
import ctypes
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from ctypes import (CFUNCTYPE, POINTER, Structure, byref, c_char_p, c_int,
                    c_long, c_ubyte, c_uint, c_ulong, c_void_p)

MIN_PIXELS = 50
POLL_S = 0.005          # while waiting for the window
SHOT_POLL_S = 0.010     # between screenshots once it is mapped
SETTLE_QUIET_S = 0.5    # the window unchanged this long: it has settled
SETTLE_MAX_S = 5.0      # after the first paint; an animation never settles

Window = c_ulong
Atom = c_ulong


class XWindowAttributes(Structure):
    _fields_ = [("x", c_int), ("y", c_int), ("width", c_int), ("height", c_int),
                ("border_width", c_int), ("depth", c_int), ("visual", c_void_p),
                ("root", Window), ("class_", c_int), ("bit_gravity", c_int),
                ("win_gravity", c_int), ("backing_store", c_int),
                ("backing_planes", c_ulong), ("backing_pixel", c_ulong),
                ("save_under", c_int), ("colormap", c_ulong),
                ("map_installed", c_int), ("map_state", c_int),
                ("all_event_masks", c_long), ("your_event_mask", c_long),
                ("do_not_propagate_mask", c_long), ("override_redirect", c_int),
                ("screen", c_void_p)]


class XImage(Structure):  # leading fields only; freed by XDestroyImage
    _fields_ = [("width", c_int), ("height", c_int), ("xoffset", c_int),
                ("format", c_int), ("data", c_void_p), ("byte_order", c_int),
                ("bitmap_unit", c_int), ("bitmap_bit_order", c_int),
                ("bitmap_pad", c_int), ("depth", c_int),
                ("bytes_per_line", c_int), ("bits_per_pixel", c_int)]


IS_VIEWABLE = 2
INPUT_OUTPUT = 1
ZPIXMAP = 2
XA_CARDINAL = 6

X = ctypes.CDLL("libX11.so.6")
X.XOpenDisplay.argtypes = [c_char_p]
X.XOpenDisplay.restype = c_void_p
X.XDefaultRootWindow.argtypes = [c_void_p]
X.XDefaultRootWindow.restype = Window
X.XInternAtom.argtypes = [c_void_p, c_char_p, c_int]
X.XInternAtom.restype = Atom
X.XQueryTree.argtypes = [c_void_p, Window, POINTER(Window), POINTER(Window),
                         POINTER(POINTER(Window)), POINTER(c_uint)]
X.XQueryTree.restype = c_int
X.XFree.argtypes = [c_void_p]
X.XGetWindowProperty.argtypes = [c_void_p, Window, Atom, c_long, c_long, c_int,
                                 Atom, POINTER(Atom), POINTER(c_int),
                                 POINTER(c_ulong), POINTER(c_ulong),
                                 POINTER(POINTER(c_ubyte))]
X.XGetWindowProperty.restype = c_int
X.XGetWindowAttributes.argtypes = [c_void_p, Window, POINTER(XWindowAttributes)]
X.XGetWindowAttributes.restype = c_int
X.XGetImage.argtypes = [c_void_p, Window, c_int, c_int, c_uint, c_uint, c_ulong, c_int]
X.XGetImage.restype = POINTER(XImage)
X.XDestroyImage.argtypes = [POINTER(XImage)]
X.XCloseDisplay.argtypes = [c_void_p]

# Windows vanish and change under us: X errors (BadWindow, BadMatch) are
# expected and must not abort the process, as Xlib's default handler does.
ERROR_HANDLER = CFUNCTYPE(c_int, c_void_p, c_void_p)(lambda d, e: 0)
X.XSetErrorHandler.argtypes = [ERROR_HANDLER.__class__]
X.XSetErrorHandler(ERROR_HANDLER)


class Display:
    def __init__(self):
        self.d = X.XOpenDisplay(None)
        if not self.d:
            sys.exit("probe: cannot open the X display %r" % os.environ.get("DISPLAY"))
        self.root = X.XDefaultRootWindow(self.d)
        self.pid_atom = X.XInternAtom(self.d, b"_NET_WM_PID", 0)

    def children(self, w):
        root, parent = Window(), Window()
        kids, n = POINTER(Window)(), c_uint()
        if not X.XQueryTree(self.d, w, byref(root), byref(parent), byref(kids), byref(n)):
            return []
        out = [kids[i] for i in range(n.value)]
        if kids:
            X.XFree(kids)
        return out

    def wm_pid(self, w):
        typ, fmt, n, after = Atom(), c_int(), c_ulong(), c_ulong()
        prop = POINTER(c_ubyte)()
        ok = X.XGetWindowProperty(self.d, w, self.pid_atom, 0, 1, 0, XA_CARDINAL,
                                  byref(typ), byref(fmt), byref(n), byref(after),
                                  byref(prop))
        pid = None
        if ok == 0 and prop and n.value == 1 and fmt.value == 32:
            pid = ctypes.cast(prop, POINTER(c_ulong))[0]
        if prop:
            X.XFree(prop)
        return pid

    def app_window(self, pid):
        """The largest viewable InputOutput top-level window of pid, or None."""
        best, best_area = None, 0
        for w in self.children(self.root):
            if self.wm_pid(w) != pid:
                continue
            a = XWindowAttributes()
            if not X.XGetWindowAttributes(self.d, w, byref(a)):
                continue
            area = a.width * a.height
            if a.map_state == IS_VIEWABLE and a.class_ == INPUT_OUTPUT and area > best_area:
                best, best_area = (w, a.width, a.height), area
        return best

    def shot(self, win):
        """(width, height, bytes_per_line, raw 32-bit pixels) or None."""
        w, width, height = win
        img = X.XGetImage(self.d, w, 0, 0, width, height, 0xFFFFFFFF, ZPIXMAP)
        if not img:
            return None
        try:
            im = img.contents
            if im.bits_per_pixel != 32:
                sys.exit("probe: expected a 24/32-bit visual, got %d bpp" % im.bits_per_pixel)
            data = ctypes.string_at(im.data, im.bytes_per_line * im.height)
            return im.width, im.height, im.bytes_per_line, data
        finally:
            X.XDestroyImage(img)


def pixels(shot):
    """The image as a bytes object of 4-byte pixels, padding byte zeroed."""
    width, height, bpl, data = shot
    if bpl != width * 4:
        data = b"".join(data[y * bpl:y * bpl + width * 4] for y in range(height))
    # Only the 24 colour bits count (byte order: B G R pad on little-endian).
    arr = bytearray(data)
    arr[3::4] = bytes(len(arr) // 4)
    return bytes(arr)


def painted(shot):
    px = pixels(shot)
    first = px[:4]
    if px.count(first) * 4 == len(px):          # one colour: fast path
        return False
    differing = max(len(px[c::4]) - px[c::4].count(first[c]) for c in range(3))
    if differing < MIN_PIXELS:
        return False
    colours = set(memoryview(px).cast("I"))
    return len(colours) >= 3


def settle(disp, win, first, t0):
    """ms from spawn to the last change of the window's pixels, once they have
    stayed the same for SETTLE_QUIET_S; None if they never do within
    SETTLE_MAX_S."""
    seen, changed = pixels(first), time.monotonic()
    start = changed
    while time.monotonic() - changed < SETTLE_QUIET_S:
        if time.monotonic() - start > SETTLE_MAX_S:
            return None
        time.sleep(SHOT_POLL_S)
        shot = disp.shot(win)
        if shot is None:
            return None
        px = pixels(shot)
        if px != seen:
            seen, changed = px, time.monotonic()
    return round((changed - t0) * 1000, 1)


def write_png(path, shot):
    width, height, _, _ = shot
    px = pixels(shot)
    rows = []
    for y in range(height):
        row = px[y * width * 4:(y + 1) * width * 4]
        rgb = bytearray(width * 3)
        rgb[0::3], rgb[1::3], rgb[2::3] = row[2::4], row[1::4], row[0::4]
        rows.append(b"\0" + bytes(rgb))

    def chunk(kind, body):
        c = struct.pack(">I", len(body)) + kind + body
        return c + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(b"".join(rows), 6)))
        f.write(chunk(b"IEND", b""))


# ---- processes -------------------------------------------------------------

def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def ppid_of(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2:].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def has_marker(pid, marker):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            return marker in f.read().split(b"\0")
    except OSError:
        return False


def app_processes(root, marker):
    """root, its descendants, and any process with the marker in its environment."""
    pids = all_pids()
    kids = {}
    for p in pids:
        kids.setdefault(ppid_of(p), []).append(p)
    found, todo = set(), [root]
    while todo:
        p = todo.pop()
        if p not in found:
            found.add(p)
            todo.extend(kids.get(p, []))
    found.update(p for p in pids if p not in found and has_marker(p, marker))
    return sorted(p for p in found if os.path.exists("/proc/%d" % p) and not is_zombie(p))


def is_zombie(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
        return stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] == b"Z"
    except (OSError, ValueError):
        return True


def pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return "?"


def stop(proc, marker):
    procs = app_processes(proc.pid, marker)
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        for p in procs:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            proc.poll()
            procs = [p for p in procs if os.path.exists("/proc/%d" % p) and not is_zombie(p)]
            if not procs and proc.returncode is not None:
                return
            time.sleep(0.02)
    proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle", type=float, default=5.0)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--shot", help="write the after-idle screenshot here (PNG)")
    ap.add_argument("--first-shot", help="write the first painted screenshot here (PNG)")
    ap.add_argument("--log", help="the app's stderr goes here")
    ap.add_argument("--smaps", help="after idle, copy each process's /proc/PID/smaps into this directory")
    ap.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                    help="copied into the JSON result (true/false become booleans)")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd

    disp = Display()
    marker = ("LATCH_BENCH_LAUNCH=%d.%d" % (os.getpid(), time.monotonic_ns())).encode()
    env = dict(os.environ)
    env["LATCH_BENCH_LAUNCH"] = marker.decode().split("=", 1)[1]
    log = open(args.log, "ab") if args.log else subprocess.DEVNULL

    result = {}
    for kv in args.meta:
        k, v = kv.split("=", 1)
        result[k] = {"true": True, "false": False}.get(v, v)
    result.update(cmd=cmd[0], window_ms=None, paint_ms=None, settled_ms=None, pss_kb=None)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=log,
                            start_new_session=True)
    try:
        win, last = None, None
        while True:
            now = time.monotonic()
            if now - t0 > args.timeout:
                result["error"] = "no painted window after %.0f s" % args.timeout
                break
            if proc.poll() is not None:
                result["error"] = "exited with status %d before painting" % proc.returncode
                break
            if win is None:
                win = disp.app_window(proc.pid)
                if win is None:
                    time.sleep(POLL_S)
                    continue
                result["window_ms"] = round((time.monotonic() - t0) * 1000, 1)
            shot = disp.shot(win)
            if shot is None:                       # unmapped or resized: look again
                win = None
                continue
            last = shot
            if painted(shot):
                result["paint_ms"] = round((time.monotonic() - t0) * 1000, 1)
                break
            time.sleep(SHOT_POLL_S)

        if result["paint_ms"] is not None:
            if args.first_shot:
                write_png(args.first_shot, last)
            result["settled_ms"] = settle(disp, win, last, t0)
            time.sleep(max(0.0, args.idle - (time.monotonic() - t0 - result["paint_ms"] / 1000)))
            procs = app_processes(proc.pid, marker)
            result["procs"] = [[comm(p), p, pss_kb(p)] for p in procs]
            result["pss_kb"] = sum(x[2] for x in result["procs"])
            if args.smaps:
                os.makedirs(args.smaps, exist_ok=True)
                for name, pid, _ in result["procs"]:
                    try:
                        with open("/proc/%d/smaps" % pid) as src, \
                                open(os.path.join(args.smaps, "%s.%d.smaps" % (name, pid)), "w") as dst:
                            dst.write(src.read())
                    except OSError:
                        pass
            win = disp.app_window(proc.pid) or win
            shot = disp.shot(win)
            if shot is not None:
                last = shot
                result["painted_after_idle"] = painted(shot)
        if args.shot and last is not None:
            write_png(args.shot, last)
    finally:
        stop(proc, marker)
        X.XCloseDisplay(disp.d)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
