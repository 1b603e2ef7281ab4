#!/usr/bin/env bash
# npm run test:postgres: the test files that pass on PostgreSQL, run against a throwaway server
# (postgres.sh). With arguments, runs those (vitest's) instead of the list; `--list` prints the list
# (.ci/run runs it on the server it started). Stops the server at the end unless it was already
# running before. See README.md for which files are here and which are not.
set -euo pipefail
cd "$(dirname "$0")/../.."

FILES=(
  test/admin/auth-hardening.test.ts
  test/admin/auth.test.ts
  test/admin/budgets.test.ts
  test/admin/connections.test.ts
  test/admin/conversation-citations.test.ts
  test/admin/conversations.test.ts
  test/admin/experiences.test.ts
  test/admin/health.test.ts
  test/admin/knowledge.test.ts
  test/admin/metrics.test.ts
  test/admin/models.test.ts
  test/admin/openai-api-tools.test.ts
  test/admin/openai-api.test.ts
  test/admin/password-change.test.ts
  test/admin/provider-connections.test.ts
  test/admin/search-dashboard.test.ts
  test/admin/sessions.test.ts
  test/admin/settings.test.ts
  test/admin/tools-conversation.test.ts
  test/admin/tools.test.ts
  test/admin/usage-pricing.test.ts
  test/admin/usage.test.ts
  test/bots/conformance.test.ts
  test/bots/console-commands.test.ts
  test/bots/console-stream.test.ts
  test/bots/console.test.ts
  test/bots/directories.test.ts
  test/bots/discord-conversations.test.ts
  test/bots/discord.test.ts
  test/bots/slack-channel-settings.test.ts
  test/bots/tools-console.test.ts
  test/bots/tools-discord.test.ts
  test/bots/tools-matrix.test.ts
  test/bots/tools-slack.test.ts
  test/core/api-tokens.test.ts
  test/core/backup-retention.test.ts
  test/core/budget-totals.test.ts
  test/core/budgets.test.ts
  test/core/config.test.ts
  test/core/context.test.ts
  test/core/conversations.test.ts
  test/core/data-dir-lock.test.ts
  test/core/database.test.ts
  test/core/engine.test.ts
  test/core/experiences.test.ts
  test/core/instances-failover.test.ts
  test/core/interrupted-answers.test.ts
  test/core/knowledge/answers.test.ts
  test/core/knowledge/attachments.test.ts
  test/core/knowledge/chunk.test.ts
  test/core/knowledge/command.test.ts
  test/core/knowledge/crash-restart.test.ts
  test/core/knowledge/extract.test.ts
  test/core/knowledge/indexer.test.ts
  test/core/knowledge/retrieve.test.ts
  test/core/knowledge/service.test.ts
  test/core/knowledge/store.test.ts
  test/core/leases.test.ts
  test/core/log.test.ts
  test/core/model-choice.test.ts
  test/core/move-to-postgres.test.ts
  test/core/pricing.test.ts
  test/core/provider-connections.test.ts
  test/core/rate-limit.test.ts
  test/core/search-floor.test.ts
  test/core/search-parts.test.ts
  test/core/search-postgres.test.ts
  test/core/search.test.ts
  test/core/secrets.test.ts
  test/core/shared-changes.test.ts
  test/core/shutdown.test.ts
  test/core/tools/builtin/builtin-source.test.ts
  test/core/tools/builtin/fetch-url.test.ts
  test/core/tools/builtin/search-conversations.test.ts
  test/core/tools/loop-providers.test.ts
  test/core/tools/loop.test.ts
  test/core/tools/mcp-turn.test.ts
  test/core/tools/mcp/admin.test.ts
  test/core/tools/mcp/config.test.ts
  test/core/tools/mcp/everything.test.ts
  test/core/tools/mcp/homelab.test.ts
  test/core/tools/mcp/output.test.ts
  test/core/turn-window.test.ts
)

if [[ ${1:-} == --list ]]; then
  printf '%s\n' "${FILES[@]}"
  exit 0
fi

was_running=0
bash test/postgres/postgres.sh status >/dev/null 2>&1 && was_running=1
pg_env=$(bash test/postgres/postgres.sh start)
eval "$pg_env"
export THREADLOOM_TEST_DATABASE_URL
[[ $was_running == 1 ]] || trap 'bash test/postgres/postgres.sh stop >/dev/null 2>&1 || true' EXIT
if [[ $# -gt 0 ]]; then
  npx vitest run "$@"
else
  npx vitest run "${FILES[@]}"
fi
