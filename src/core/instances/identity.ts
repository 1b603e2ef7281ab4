import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** This process's name among instances: host, pid and a random part (a restarted pid differs). */
export function instanceName(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}
