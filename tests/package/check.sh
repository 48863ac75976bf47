#!/usr/bin/env bash
# Checks the packages scripts/package.sh built in target/package/ (`make
# package` runs it; `make package-check` runs it alone): lintian without
# errors, the .deb's files unpacked with dpkg -x (no installation) — both
# binaries run and print the version, the desktop entry validates, every
# icon size is in place, the dependencies are real and cover what the
# binaries link — and the .rpm holding the same files.
set -euo pipefail
cd "$(dirname "$0")/../.."

fails=0
ok() { echo "  ok    $*"; }
fail() { echo "  FAIL  $*" >&2; fails=$((fails + 1)); }
section() { echo "== $*"; }

shopt -s nullglob
debs=(target/package/*.deb)
rpms=(target/package/*.rpm)
shopt -u nullglob
if ((${#debs[@]} != 1 || ${#rpms[@]} != 1)); then
  echo "package check: expected one .deb and one .rpm in target/package/; run 'make package'" >&2
  exit 1
fi
deb=${debs[0]}
rpm=${rpms[0]}
version=$(node -p "require('./src-tauri/tauri.conf.json').version")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

section "lintian $deb"
# Errors fail the check; warnings (none today) are printed.
if lintian --fail-on error --tag-display-limit 0 "$deb" >"$tmp/lintian" 2>&1; then
  ok "no lintian errors ($(grep -c '^W: ' "$tmp/lintian" || true) warnings)"
else
  fail "lintian reports errors"
fi
sed 's/^/        /' "$tmp/lintian"

section "control fields"
dpkg-deb -f "$deb" Package Version Architecture Maintainer Section Depends | sed 's/^/        /'
[[ $(dpkg-deb -f "$deb" Version) == "$version" ]] && ok "version $version" || fail "version is not $version"
depends=$(dpkg-deb -f "$deb" Depends)
# Package names only: "a (>= 1), b | c" -> a b c
depend_names=$(tr ',|' '\n\n' <<<"$depends" | sed 's/(.*)//; s/\[.*\]//; s/[[:space:]]//g' | sed '/^$/d' | sort -u)
for p in libwebkit2gtk-4.1-0 libayatana-appindicator3-1 libc6; do
  grep -qx "$p" <<<"$depend_names" && ok "depends on $p" || fail "does not depend on $p"
done
# Every dependency is a real Debian package (the build installed each one).
for p in $depend_names; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || fail "dependency $p is not a package installed here"
done

# apt resolves them (a simulation: nothing is installed).
if sim=$(apt-get install -s -q --no-install-recommends "./$deb" 2>&1); then
  ok "apt-get install -s ./$deb: $(grep -c '^Inst ' <<<"$sim") package(s) to install"
else
  fail "apt-get cannot install ./$deb:"
  sed 's/^/        /' <<<"$sim"
fi

section "contents (dpkg -x)"
root=$tmp/root
dpkg -x "$deb" "$root"
for f in usr/bin/latch usr/bin/latch-app; do
  [[ -x $root/$f ]] && ok "/$f" || fail "/$f is missing or not executable"
done
for f in usr/share/doc/latch/copyright usr/share/doc/latch/changelog.gz \
  usr/share/man/man1/latch.1.gz usr/share/man/man1/latch-app.1.gz; do
  [[ -f $root/$f ]] && ok "/$f" || fail "/$f is missing"
done

# The unpacked binaries run (with this machine's libraries; nothing is
# installed) and say the package's version.
for bin in latch latch-app; do
  if missing=$(ldd "$root/usr/bin/$bin" | grep 'not found'); then
    fail "$bin: libraries not found: $missing"
  fi
  got=$("$root/usr/bin/$bin" --version 2>&1) || fail "$bin --version exits $?"
  [[ $got == "$bin $version" ]] && ok "$bin --version: $got" || fail "$bin --version says '$got'"
done

# The libraries the binaries link, as dpkg-shlibdeps maps them to
# packages, are all in Depends (the tray library, loaded at run time, is
# added by hand).
mkdir -p "$tmp/shlibs/debian"
printf 'Source: latch\n\nPackage: latch\nArchitecture: any\n' >"$tmp/shlibs/debian/control"
shlibs=$(cd "$tmp/shlibs" && dpkg-shlibdeps -O -e"$root/usr/bin/latch" -e"$root/usr/bin/latch-app" \
  2> >(grep -v "should already be installed in their package's directory" >&2))
shlibs=${shlibs#shlibs:Depends=}
echo "        dpkg-shlibdeps: $shlibs"
for p in $(tr ',|' '\n\n' <<<"$shlibs" | sed 's/(.*)//; s/[[:space:]]//g' | sed '/^$/d' | sort -u); do
  grep -qx "$p" <<<"$depend_names" || fail "the binaries link a library from $p, which Depends leaves out"
done
libc_version() { sed -n 's/.*libc6 (>= \([^)]*\)).*/\1/p' <<<"$1" | grep . || echo 0; }
libc_needed=$(libc_version "$shlibs")
libc_declared=$(libc_version "$depends")
dpkg --compare-versions "$libc_declared" ge "$libc_needed" \
  && ok "libc6 (>= $libc_declared) covers the binaries' libc6 (>= $libc_needed)" \
  || fail "Depends says libc6 (>= $libc_declared), the binaries need libc6 (>= $libc_needed)"

# The manual page names every command `latch --help` lists.
man_page=$(zcat "$root/usr/share/man/man1/latch.1.gz")
for cmd in $("$root/usr/bin/latch" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z-]\+\) .*/\1/p'); do
  [[ $cmd == help ]] || grep -q "^\.B $cmd\b" <<<"$man_page" || fail "latch.1 does not describe 'latch $cmd' (src-tauri/packaging/latch.1)"
done

section "desktop entry"
desktop=$(find "$root/usr/share/applications" -name '*.desktop')
if [[ $(wc -l <<<"$desktop") -ne 1 || -z $desktop ]]; then
  fail "expected one desktop entry, found: ${desktop:-none}"
else
  if out=$(desktop-file-validate "$desktop" 2>&1) && [[ -z $out ]]; then
    ok "desktop-file-validate /${desktop#"$root"/}"
  else
    fail "desktop-file-validate /${desktop#"$root"/}: $out"
  fi
  sed 's/^/        /' "$desktop"
  exec_bin=$(sed -n 's/^Exec=\([^ ]*\).*/\1/p' "$desktop")
  icon=$(sed -n 's/^Icon=//p' "$desktop")
  [[ -x $root/usr/bin/$exec_bin ]] && ok "Exec=$exec_bin is /usr/bin/$exec_bin" || fail "Exec=$exec_bin is not in /usr/bin"
fi

section "icons"
hicolor=$root/usr/share/icons/hicolor
size_of() { file -b "$1" | sed -n 's/^PNG image data, \([0-9]*\) x \([0-9]*\),.*/\1x\2/p'; }
# Every size in icons/ is installed, named after Icon=.
for png in icons/*.png; do
  size=$(size_of "$png")
  [[ -f $hicolor/$size/apps/$icon.png ]] && ok "$size ($png)" || fail "$png: no $size/apps/$icon.png"
  if [[ $png == *@2x.png ]]; then
    w=${size%x*} h=${size#*x}
    hidpi=$((w / 2))x$((h / 2))@2
    [[ -f $hicolor/$hidpi/apps/$icon.png ]] && ok "$hidpi ($png)" || fail "$png: no $hidpi/apps/$icon.png"
  fi
done
# ... and every size inside icons/icon.ico (16, 24, 48 px are only there).
ico_sizes=$(node -e '
  const ico = require("fs").readFileSync("icons/icon.ico");
  for (let i = 0, e = 6; i < ico.readUInt16LE(4); i++, e += 16) {
    const png = ico.subarray(ico.readUInt32LE(e + 12));
    if (png.toString("latin1", 1, 4) === "PNG") console.log(`${png.readUInt32BE(16)}x${png.readUInt32BE(20)}`);
  }')
for size in $ico_sizes; do
  [[ -f $hicolor/$size/apps/$icon.png ]] && ok "$size (icons/icon.ico)" || fail "icons/icon.ico: no $size/apps/$icon.png"
done
[[ -f $hicolor/scalable/apps/$icon.svg ]] && ok "scalable (icons/latch.svg)" || fail "no scalable/apps/$icon.svg"
# Every installed icon is the size its directory says (NxN@2: 2N pixels).
while IFS= read -r f; do
  dir=$(basename "$(dirname "$(dirname "$f")")")
  want=${dir%@2}
  if [[ $dir == *@2 ]]; then want=$((${want%x*} * 2))x$((${want#*x} * 2)); fi
  got=$(size_of "$f")
  [[ $got == "$want" ]] || fail "${f#"$root"} is $got, its directory says $want"
done < <(find "$hicolor" -name '*.png')

section "rpm -qlp $rpm"
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\.?\/?/, "/", $6); print $6 }' | sort >"$tmp/deb-files"
rpm -qlp "$rpm" 2>/dev/null | sort >"$tmp/rpm-files"
if diff -u "$tmp/deb-files" "$tmp/rpm-files" >"$tmp/diff"; then
  ok "the .rpm holds the same $(wc -l <"$tmp/rpm-files") files as the .deb"
else
  fail "the .rpm's files differ from the .deb's (- deb, + rpm):"
  sed 's/^/        /' "$tmp/diff"
fi
[[ $(rpm -qp --qf '%{VERSION}' "$rpm" 2>/dev/null) == "$version" ]] && ok "rpm version $version" || fail "rpm version is not $version"
requires=$(rpm -qpR "$rpm" 2>/dev/null | grep -v '^rpmlib(')
echo "        requires: $(paste -sd, <<<"$requires" | sed 's/,/, /g')"
for soname in libwebkit2gtk-4.1.so.0 libayatana-appindicator3.so.1 libc.so.6; do
  grep -q "^$soname\b" <<<"$requires" && ok "requires $soname" || fail "does not require $soname"
done

echo
if ((fails)); then
  echo "package check: $fails failed" >&2
  exit 1
fi
echo "package check: all passed ($deb, $rpm)"
