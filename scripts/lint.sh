#!/usr/bin/env bash
# `npm run lint`: ESLint (eslint.config.mjs) and prettier --check (.prettierrc) over the code, side by side,
# then the dependency rules (npm run lint:deps: .dependency-cruiser.js).
# `npm run lint -- --fix`: eslint --fix, then prettier --write; what is left needs a hand.
# Both keep a cache in node_modules/.cache, so a second run checks only the files that changed.
set -uo pipefail
cd "$(dirname "$0")/.."

paths=(core plugins test bench examples scripts eslint.config.mjs)
bin=node_modules/.bin
eslint=("$bin/eslint" --cache --cache-location node_modules/.cache/eslint/)
prettier=("$bin/prettier" --cache --log-level warn)

case "${1:-}" in
  '') fix=0 ;;
  --fix) fix=1 ;;
  *) echo "usage: npm run lint [-- --fix]" >&2; exit 2 ;;
esac

if [ "$fix" = 1 ]; then
  "${eslint[@]}" --fix "${paths[@]}"; e=$?
  "${prettier[@]}" --write "${paths[@]}"; p=$?
else
  # the two only read, so they run at once; ESLint's report follows prettier's
  out=$(mktemp)
  trap 'rm -f "$out"' EXIT
  "${eslint[@]}" "${paths[@]}" >"$out" 2>&1 &
  pid=$!
  "${prettier[@]}" --check "${paths[@]}"; p=$?
  [ "$p" = 0 ] || echo "prettier: the files above are not formatted; npm run lint -- --fix formats them" >&2
  wait "$pid"; e=$?
  cat "$out"
fi
npm run --silent lint:deps; d=$?
exit $(( e || p || d ))
