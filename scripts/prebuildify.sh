#!/usr/bin/env bash
# `npm run prebuildify` (and `npm pack`, through prepack): builds the native addon for this
# platform with prebuildify into native/prebuilds/<platform>-<arch>/, the binary the npm package
# ships (node-gyp-build loads it when no source build is in native/build). N-API 8, so one
# binary serves every Node >= 20; tagged glibc, so musl (Alpine) systems build from source.
#
# It builds in a copy of native/ in a temporary folder: prebuildify moves the binary out of the
# build folder it uses, and native/build (the checkout's own source build) stays as it is.
# Node's headers come from --nodedir when npm's config names one (npm_config_nodedir), else
# node-gyp fetches them for the running Node.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# the sources and binding.gyp: everything in native/ but the builds
find native -maxdepth 1 -type f -exec cp {} "$work/" \;

rm -rf native/prebuilds
"$root/node_modules/.bin/prebuildify" --cwd "$work" --out "$root/native" --napi --strip --tag-libc --name alived \
  --target "node@$(node -p process.versions.node)"
ls -l native/prebuilds/*/
