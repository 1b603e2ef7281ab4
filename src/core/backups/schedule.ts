import cron from 'node-cron';
import { errorMessage, ThreadloomError } from '../errors.js';
import type { Logger } from '../log.js';

export const DEFAULT_BACKUP_SCHEDULE = '0 3 * * *';

export function isValidSchedule(expression: string): boolean {
  return cron.validate(expression);
}

/** One firing of the schedule: the time it was due (not when the timer ran) and the next one. */
export interface ScheduleSlot {
  due: Date;
  next: Date | null;
}

/**
 * Runs `job` on a cron expression (server local time) until the returned function is called.
 * node-cron's `noOverlap` skips a tick while the previous run is still going; a failing run is
 * logged and the schedule carries on.
 */
export function scheduleBackups(expression: string, job: (slot: ScheduleSlot) => Promise<void>, log: Logger): () => Promise<void> {
  if (!isValidSchedule(expression)) {
    throw new ThreadloomError('config', `backups.schedule: "${expression}" is not a cron expression (e.g. "${DEFAULT_BACKUP_SCHEDULE}" = daily at 03:00)`);
  }
  const task = cron.schedule(
    expression,
    async (context) => {
      try {
        await job({ due: context.date, next: task.getNextRun() });
      } catch (err) {
        log.error(`scheduled backup failed: ${errorMessage(err)}`);
      }
    },
    { name: 'threadloom-backup', noOverlap: true },
  );
  return async () => {
    await task.destroy();
  };
}
