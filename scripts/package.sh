#!/usr/bin/env bash
# `make package`: the release .deb and .rpm of Latch, built by the Tauri
# bundler (the CLI pinned in ui/package.json), in target/package/:
#   target/package/latch_VERSION_ARCH.deb
#   target/package/latch-VERSION-1.ARCH.rpm
# Each installs /usr/bin/latch-app (the desktop app), /usr/bin/latch (the
# command), the desktop entry, the icons in every size, manual pages, the
# copyright and changelog. tests/package/check.sh checks them.
#
# LATCH_MAINTAINER="Name <address>" overrides the package's Maintainer
# (bundle.publisher in src-tauri/tauri.conf.json).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/target/package

conf() { node -p "require('./src-tauri/tauri.conf.json').$1"; }
version=$(conf version)
maintainer=${LATCH_MAINTAINER:-$(conf bundle.publisher)}

# The UI first (the app embeds ui/dist), then both release binaries in one
# cargo run: one feature resolution, so the engine and the crates both use
# are compiled once.
npm --prefix ui run build --silent
cargo build --release --locked -p latch-cli -p latch-app

# What the bundler packs, staged in target/package so the shared
# target/release is left as cargo made it: the binaries stripped (as
# Debian ships them), the changelog and the manual pages compressed.
rm -rf "$out"
mkdir -p "$out/release" "$out/man"
for bin in latch latch-app; do
  strip --strip-all --remove-section=.comment --remove-section=.note \
    -o "$out/release/$bin" "target/release/$bin"
done
for v in "$out/release/latch" "$out/release/latch-app"; do
  got=$("$v" --version)
  if [[ $got != "$(basename "$v") $version" ]]; then
    echo "latch package: '$v --version' says '$got', tauri.conf.json says $version" >&2
    exit 1
  fi
done

# The changelog's and the manual pages' date: the last commit's (or now,
# outside a git checkout), unless SOURCE_DATE_EPOCH says.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%at 2>/dev/null || date +%s)}
date=$(date -R -u -d "@$SOURCE_DATE_EPOCH")

# A Debian changelog for the native package.
{
  echo "latch ($version) unstable; urgency=medium"
  echo
  echo "  * Latch $version: the desktop app (latch-app) and the latch command."
  echo
  echo " -- $maintainer  $date"
} | gzip -9n >"$out/changelog.gz"

# Manual pages: the dates and version filled in, then compressed.
for page in src-tauri/packaging/*.1; do
  name=$(basename "$page")
  sed -e "s/@VERSION@/$version/g" \
      -e "s/@DATE@/$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)/g" "$page" \
    | gzip -9n >"$out/man/$name.gz"
done

# Dependencies: the packages (deb) and sonames (rpm) of the libraries the
# two binaries link, as dpkg-shlibdeps and their ELF headers name them, then
# bundle.linux.{deb,rpm}.depends from tauri.conf.json: what they load at run
# time (the tray's AppIndicator). The bundler appends WebKitGTK and GTK.
mkdir -p "$out/shlibs/debian"
printf 'Source: latch\n\nPackage: latch\nArchitecture: any\n' >"$out/shlibs/debian/control"
shlibs=$(cd "$out/shlibs" && dpkg-shlibdeps -O -e../release/latch -e../release/latch-app \
  2> >(grep -v "should already be installed in their package's directory" >&2))
sonames=$(for bin in latch latch-app; do objdump -p "$out/release/$bin" | awk '/NEEDED/ { print $2 }'; done | sort -u)
rm -rf "$out/shlibs"

# Added to tauri.conf.json for this build (merged with --config): those
# dependencies; the icon sizes found only inside icons/icon.ico (16, 24 and
# 48 px, which menus and panels use), unpacked to target/package/icons/ and
# installed beside the PNG files of bundle.icon; LATCH_MAINTAINER.
config=$(node - "${shlibs#shlibs:Depends=}" "$sonames" "$(getconf LONG_BIT)" "$out/icons" "${LATCH_MAINTAINER:-}" <<'JS'
const fs = require("fs");
const [shlibs, sonames, bits, iconDir, maintainer] = process.argv.slice(2);
const bundle = require("./src-tauri/tauri.conf.json").bundle;

const name = (dep) => dep.split(/[\s(|]/)[0];
const deb = shlibs.split(", ").filter(Boolean);
for (const dep of bundle.linux.deb.depends ?? []) if (!deb.some((d) => name(d) === name(dep))) deb.push(dep);
const suffix = bits === "64" ? "()(64bit)" : "";
const rpm = sonames.split("\n").filter(Boolean).map((soname) => soname + suffix);
for (const dep of bundle.linux.rpm.depends ?? []) if (!rpm.includes(dep)) rpm.push(dep);

// A PNG's size from its IHDR; an ICO's entries that hold PNG data.
const pngSize = (png) => `${png.readUInt32BE(16)}x${png.readUInt32BE(20)}`;
const sizes = new Set(
  fs.readdirSync("icons").filter((f) => f.endsWith(".png")).map((f) => pngSize(fs.readFileSync(`icons/${f}`))),
);
const files = {};
const ico = fs.readFileSync("icons/icon.ico");
fs.mkdirSync(iconDir, { recursive: true });
for (let i = 0; i < ico.readUInt16LE(4); i++) {
  const entry = 6 + 16 * i;
  const png = ico.subarray(ico.readUInt32LE(entry + 12), ico.readUInt32LE(entry + 12) + ico.readUInt32LE(entry + 8));
  if (png.toString("latin1", 1, 4) !== "PNG" || sizes.has(pngSize(png))) continue;
  const path = `${iconDir}/${pngSize(png)}.png`;
  fs.writeFileSync(path, png);
  files[`/usr/share/icons/hicolor/${pngSize(png)}/apps/latch-app.png`] = path;
}

const config = { bundle: { linux: { deb: { depends: deb, files }, rpm: { depends: rpm, files } } } };
if (maintainer) config.bundle.publisher = maintainer;
console.log(JSON.stringify(config));
JS
)

# The bundler takes the main binary from <target dir>/release: pointing it
# at target/package makes it pack the stripped copy. Bundle-type patching
# (for Tauri's updater, which Latch doesn't use) is skipped: the binary in
# the package is the one checked above.
(cd src-tauri && CARGO_TARGET_DIR=$out CI=true \
  "$root/ui/node_modules/.bin/tauri" bundle --bundles deb,rpm --no-binary-patching --config "$config")

# Debian's and RPM's usual file names, one level up from the bundler's.
deb=$(ls "$out"/release/bundle/deb/*.deb)
rpm=$(ls "$out"/release/bundle/rpm/*.rpm)
cp "$deb" "$out/$(dpkg-deb -f "$deb" Package)_${version}_$(dpkg-deb -f "$deb" Architecture).deb"
cp "$rpm" "$out/$(rpm -qp --qf '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}' "$rpm").rpm"
echo "latch package: built" "$out"/*.deb "$out"/*.rpm
