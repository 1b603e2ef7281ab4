#!/usr/bin/env bash
# Runs check.ts against the test PostgreSQL. Threadloom does not depend on `pg` yet, so when the
# repo has no node_modules/pg this installs `pg` and the repo's kysely version into a scratch
# folder outside the repo (PGCHECK_DIR, default /tmp/threadloom-pgcheck) and runs a copy of
# check.ts from there; package.json is never touched.
#
#   eval "$(bash test/postgres/postgres.sh start)" && export THREADLOOM_TEST_DATABASE_URL
#   bash test/postgres/check.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tsx="$repo/node_modules/.bin/tsx"
[[ -x $tsx ]] || { echo "no $tsx: run npm ci in the repo first" >&2; exit 1; }
[[ -n ${THREADLOOM_TEST_DATABASE_URL:-} ]] || {
  echo 'THREADLOOM_TEST_DATABASE_URL is not set: eval "$(bash test/postgres/postgres.sh start)" && export THREADLOOM_TEST_DATABASE_URL' >&2
  exit 2
}

if [[ -f $repo/node_modules/pg/package.json ]]; then
  exec "$tsx" "$here/check.ts"
fi

dir=${PGCHECK_DIR:-/tmp/threadloom-pgcheck}
kysely=$(node -p "require('$repo/node_modules/kysely/package.json').version")
mkdir -p "$dir"
[[ -f $dir/package.json ]] || echo '{"private": true, "type": "module"}' >"$dir/package.json"
if [[ $(node -p "try { require('$dir/node_modules/kysely/package.json').version } catch { '' }") != "$kysely" ]] \
  || [[ ! -f $dir/node_modules/pg/package.json ]]; then
  echo "installing pg and kysely@$kysely into $dir" >&2
  (cd "$dir" && npm i --no-audit --no-fund --silent pg "kysely@$kysely" >&2)
fi
cp "$here/check.ts" "$dir/check.ts"
cd "$dir"
exec "$tsx" check.ts
