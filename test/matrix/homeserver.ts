/**
 * Where the real homeserver is. Without SYNAPSE_URL the real-homeserver suites are skipped, so
 * `npm test` runs anywhere; CI sets THREADLOOM_REQUIRE_SYNAPSE=1, and then a missing homeserver
 * fails the suite instead of skipping it.
 */
export const SYNAPSE_URL = process.env.SYNAPSE_URL ?? '';
export const SYNAPSE_SHARED_SECRET = process.env.SYNAPSE_SHARED_SECRET ?? '';

if (!SYNAPSE_URL && process.env.THREADLOOM_REQUIRE_SYNAPSE === '1') {
  throw new Error('THREADLOOM_REQUIRE_SYNAPSE=1 but SYNAPSE_URL is not set: start one with `bash test/matrix/synapse.sh start`');
}
