import { randomBytes } from 'node:crypto';

// Ids sort by creation time (base36 milliseconds, fixed width) and end in random base36, so
// they are unguessable and cursor pagination can break ties between equal timestamps.
function newId(prefix: string, now = Date.now()): string {
  const time = now.toString(36).padStart(9, '0');
  const bytes = randomBytes(10);
  let rand = '';
  for (const b of bytes) rand += (b % 36).toString(36);
  return `${prefix}_${time}${rand}`;
}

export const newJobId = (now?: number) => newId('job', now);
export const newDatasetId = (now?: number) => newId('ds', now);
