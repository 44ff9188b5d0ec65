#!/usr/bin/env bash
# `npm run deb`: builds build/alived_<version>_<arch>.deb from this checkout with dpkg-deb.
#
#   /usr/lib/alived            the compiled JavaScript (dist/core, dist/plugins), the native addon,
#                              and the production node_modules, installed with `npm ci --omit=dev`
#                              from package-lock.json (the dependencies' own native builds are copied
#                              from the checkout's node_modules, or their prebuilds for this arch kept)
#   /usr/sbin/alived           a symlink to the CLI
#   /etc/alived/alived.conf    conffile: a commented example (alived -t passes on it)
#   /etc/default/alived        conffile: DAEMON_ARGS for the unit
#   /usr/lib/systemd/system/alived.service   packaging/systemd/alived.service, neither enabled nor started
#   man pages, bash completion, /usr/share/doc/alived (copyright, changelog.gz, README.Debian)
#   /var/lib/alived            (0700) the state directory: dpkg -r removes it when empty; postrm purges it
#   maintainer scripts         packaging/debian/{postinst,prerm,postrm}
#
# Needs: node >= 20 and npm, dpkg-deb, gzip, and the native addon built (npm install does it).
# Environment: ALIVED_DEB_OUT (default build/), DEB_MAINTAINER (default "alived <alived@localhost>"),
# ALIVED_DEB_NO_COMPILE=1 to use dist/ as it is (a test that just compiled).
# Then: lintian build/alived_*.deb (scripts/setup-debian.sh installs it); the overrides, each with its
# reason, are packaging/debian/lintian-overrides.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

version=$(node -p 'require("./package.json").version')
license=$(node -p 'require("./package.json").license')
arch=$(dpkg --print-architecture)
out=${ALIVED_DEB_OUT:-$src/build}
maintainer=${DEB_MAINTAINER:-alived <alived@localhost>}
mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$out/alived_${version}_${arch}
deb=$out/alived_${version}_${arch}.deb

# reproducible: every file's time and the man pages' date come from the last commit
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH

step() { echo "build-deb: $*" >&2; }

if [ "${ALIVED_DEB_NO_COMPILE:-}" != 1 ]; then
  step "compiling (tsc)"
  npx tsc -p tsconfig.json
fi
addon=native/build/Release/alived_packet.node
if [ ! -f "$addon" ]; then
  step "building the native addon"
  npm run build:native
fi

rm -rf "$stage" "$deb"
lib=$stage/usr/lib/alived
mkdir -p "$lib"

step "production dependencies: npm ci --omit=dev --ignore-scripts"
cp package.json package-lock.json "$lib/"
(cd "$lib" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
rm -rf "$lib/package-lock.json" "$lib/node_modules/.package-lock.json" "$lib/node_modules/.bin"
# the dependencies' native code: a build of this checkout (npm ci ran no install script), else a prebuild for this arch
find "$lib/node_modules" -name binding.gyp -printf '%h\n' | while read -r dir; do
  rel=${dir#"$lib/"}
  if [ -d "$src/$rel/build/Release" ]; then
    mkdir -p "$dir/build/Release"
    cp "$src/$rel/build/Release/"*.node "$dir/build/Release/"
  elif [ ! -d "$dir/prebuilds/linux-x64" ]; then
    echo "build-deb: $rel has native code and no build of it in $src/$rel/build (run npm install)" >&2
    exit 1
  fi
done
# prebuilds for other systems and architectures are never loaded here
find "$lib/node_modules" -path '*/prebuilds/*' -mindepth 1 -maxdepth 8 -type d -regex '.*/prebuilds/[^/]*' ! -name "linux-x64" -prune -exec rm -rf {} +
# what only a developer of a dependency reads or builds from: sources of native code, type declarations,
# source maps, docs and tests of the packages (their license files stay)
find "$lib/node_modules" \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.md' ! -iname 'licen[cs]e*' \
  -o -name '*.ts' -o -name '*.c' -o -name '*.cc' -o -name '*.h' -o -name '*.gyp' -o -name '*.gypi' -o -name 'Makefile' -o -name '.npmignore' \
  -o -name '.eslintrc*' -o -name '.travis.yml' -o -name '.editorconfig' -o -name '*.sh' -o -name 'CMakeLists.txt' -o -name '*.html' \
  -o -name 'SECURITY.txt' \) -type f -delete
find "$lib/node_modules" -depth -type d \( -name test -o -name tests -o -name example -o -name examples -o -name '.github' -o -name typings \) \
  -exec rm -rf {} +
find "$lib/node_modules" -depth -type d -empty -delete

step "alived: dist/core, dist/plugins, the native addon"
mkdir -p "$lib/dist" "$lib/native/build/Release"
cp -r dist/core dist/plugins "$lib/dist/"
find "$lib/dist" \( -name '*.d.ts' -o -name '*.map' \) -type f -delete
# alived/testing (core/testing) is for plugin authors' tests; the daemon never loads it
rm -rf "$lib/dist/core/testing"
cp "$addon" "$lib/native/build/Release/"
if [ -d native/prebuilds ]; then cp -r native/prebuilds "$lib/native/"; fi
mkdir -p "$stage/usr/sbin"
ln -s ../lib/alived/dist/core/cli/main.js "$stage/usr/sbin/alived"

step "config, unit, man pages, completion, docs"
install -D -m 0644 packaging/debian/alived.conf "$stage/etc/alived/alived.conf"
install -D -m 0644 packaging/debian/alived.default "$stage/etc/default/alived"
install -D -m 0644 packaging/systemd/alived.service "$stage/usr/lib/systemd/system/alived.service"
gen=$out/generated
rm -rf "$gen"
node dist/scripts/doc/write.js --man "$gen/man" --completion "$stage/usr/share/bash-completion/completions/alived" >&2
install -d "$stage/usr/share/man/man8" "$stage/usr/share/man/man5"
gzip -9n <"$gen/man/alived.8" >"$stage/usr/share/man/man8/alived.8.gz"
gzip -9n <"$gen/man/alived.conf.5" >"$stage/usr/share/man/man5/alived.conf.5.gz"
doc=$stage/usr/share/doc/alived
install -d "$doc"
node dist/scripts/deb/copyright.js "$lib" >"$doc/copyright"
install -m 0644 packaging/debian/README.Debian "$doc/README.Debian"
{
  echo "alived ($version) unstable; urgency=medium"
  echo
  echo "  * alived $version, packaged from its sources (scripts/build-deb.sh)."
  echo "    The project's history is CHANGELOG.md in the sources."
  echo
  echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$doc/changelog.gz"
install -D -m 0644 packaging/debian/lintian-overrides "$stage/usr/share/lintian/overrides/alived"

step "control and maintainer scripts"
install -d "$stage/DEBIAN"
for s in postinst prerm postrm; do install -m 0755 "packaging/debian/$s" "$stage/DEBIAN/$s"; done
printf '/etc/alived/alived.conf\n/etc/default/alived\n' >"$stage/DEBIAN/conffiles"
# the native code's libraries (libc), as dpkg-shlibdeps finds them; it reads a debian/control
find "$lib" -name '*.node' -exec strip --strip-unneeded --remove-section=.comment --remove-section=.note {} +
shl=$out/shlibdeps
rm -rf "$shl" && mkdir -p "$shl/debian"
printf 'Source: alived\n\nPackage: alived\nArchitecture: any\n' >"$shl/debian/control"
mapfile -t objects < <(find "$lib" -name '*.node')
shlibs=$(cd "$shl" && dpkg-shlibdeps -O "${objects[@]}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
rm -rf "$shl"
[ -n "$shlibs" ] || { echo "build-deb: dpkg-shlibdeps found no library of the native code" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<EOF
Package: alived
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: nodejs (>= 20), iproute2, $shlibs
Suggests: keepalived
Section: net
Priority: optional
Description: keepalived-compatible high-availability daemon (VRRP, IPVS)
 alived runs keepalived.conf as keepalived does: VRRP failover of virtual
 IP addresses, IPVS load balancing, health checks of real servers, and
 notifications by mail, webhook or script; it adds a status API, metrics,
 config errors with their file, line and column, and plugins written in
 TypeScript.
 .
 alived and keepalived can be installed together: they share no file,
 unit or default config path, so an existing keepalived.conf can be
 checked with alived -t before a switch. Which one runs is the admin's
 choice (systemctl enable one of them); both must not serve the same
 virtual routers at once. This package starts nothing by itself.
EOF

# modes: directories 0755, files 0644; executable only the CLI and the scripts of the dependencies (a #! line)
find "$stage/usr" "$stage/etc" -type d -exec chmod 0755 {} +
find "$stage/usr" "$stage/etc" -type f -exec chmod 0644 {} +
grep -rlI --include='*.js' -m1 '^#!' "$lib/node_modules" | while read -r f; do
  if head -c2 "$f" | grep -q '^#!'; then chmod 0755 "$f"; fi
done
chmod 0755 "$lib/dist/core/cli/main.js"
# the state directory (--state-dir): in the package, so that dpkg -r removes it when it holds nothing;
# 0700, as alived refuses one others can read or write to
install -d -m 0700 "$stage/var/lib/alived"
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums" "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles"
touch -d "@$SOURCE_DATE_EPOCH" "$stage/DEBIAN"/*
step "dpkg-deb --build"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
echo "$deb"
echo "build-deb: $(basename "$deb"): $(du -k "$deb" | cut -f1) KiB, installed $size KiB" >&2
