#!/usr/bin/env bash
# npm run test:postgres: the whole suite against a throwaway PostgreSQL (postgres.sh), the same
# `npm test` as on SQLite with THREADLOOM_TEST_DATABASE_URL set; arguments go to vitest as with
# `npm test -- …` (files, -t). Tests about the SQLite file itself skip themselves there
# (sqliteOnly, test/support/postgres.ts; README.md says which and why). Stops the server at the
# end unless it was already running before.
set -euo pipefail
cd "$(dirname "$0")/../.."

was_running=0
bash test/postgres/postgres.sh status >/dev/null 2>&1 && was_running=1
pg_env=$(bash test/postgres/postgres.sh start)
eval "$pg_env"
export THREADLOOM_TEST_DATABASE_URL
[[ $was_running == 1 ]] || trap 'bash test/postgres/postgres.sh stop >/dev/null 2>&1 || true' EXIT
npm test -- "$@"
