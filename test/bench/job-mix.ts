// A realistic, replayable mix of job specs for the memory benchmark and the bulk seeder:
// about 300 bytes of JSON each, cron schedules in a few zones, shell and http executors,
// some with env, headers, labels and a description. Most jobs are idle for the length of a
// benchmark; the first `dueJobs` fire once a minute at second (i mod 60), so that
// dueJobs / 60 are due every second.

const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'Australia/Sydney', 'America/Sao_Paulo'] as const;
const TEAMS = ['payments', 'search', 'billing', 'growth', 'infra', 'data'] as const;
const REGIONS = ['eu-west-1', 'us-east-1', 'ap-northeast-1'] as const;

/** Deterministic pseudo-random integer in [0, n) from a job number and a salt. */
function pick(i: number, salt: number, n: number): number {
  let x = (i * 2654435761 + salt * 40503) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 2246822519) >>> 0;
  x ^= x >>> 13;
  return (x >>> 0) % n;
}

function idleSchedule(i: number): string {
  // Idle during a benchmark: daily, weekly or monthly instants at some minute and hour.
  const minute = pick(i, 1, 60);
  const hour = pick(i, 2, 24);
  switch (pick(i, 3, 4)) {
    case 0: return `0 ${minute} ${hour} * * *`;
    case 1: return `0 ${minute} ${hour} * * ${1 + pick(i, 4, 5)}`;
    case 2: return `0 ${minute} ${hour} ${1 + pick(i, 5, 28)} * *`;
    default: return `0 ${minute} ${hour} * * 1-5`;
  }
}

export function jobId(i: number): string {
  return `job-${String(i).padStart(7, '0')}`;
}

/** The spec of job number `i` (0-based) as a user would PUT it. */
export function mixedSpec(i: number, dueJobs = 0): Record<string, unknown> {
  const tenant = `t${pick(i, 6, 5000)}`;
  const team = TEAMS[pick(i, 7, TEAMS.length)] as string;
  const due = i < dueJobs;
  const spec: Record<string, unknown> = {
    schedule: due ? `${i % 60} * * * * *` : idleSchedule(i),
    timezone: due ? 'UTC' : ZONES[pick(i, 8, ZONES.length)],
    description: `${team} ${pick(i, 9, 2) === 0 ? 'nightly export' : 'reconciliation'} for tenant ${tenant} (job ${i})`,
  };
  if (pick(i, 10, 3) !== 0) spec.labels = { team, tier: pick(i, 11, 2) === 0 ? 'gold' : 'standard' };
  if (pick(i, 12, 4) === 0) spec.history = 10;
  if (pick(i, 13, 5) === 0) spec.retry = { max: 3, backoffMs: 30_000 };
  if (due) spec.concurrency = 'allow';
  if (pick(i, 14, 2) === 0) {
    spec.executor = {
      type: 'shell',
      command: `/opt/${team}/bin/run-task --tenant ${tenant} --task ${i} --output /var/lib/${team}/out`,
      ...(pick(i, 15, 2) === 0 ? { env: { TENANT: tenant, REGION: REGIONS[pick(i, 16, REGIONS.length)] as string } } : {}),
    };
    spec.timeoutMs = 600_000;
  } else {
    spec.executor = {
      type: 'http',
      method: 'POST',
      url: `https://${team}.internal.example.com/v1/tenants/${tenant}/tasks/${i}/run`,
      headers: { 'content-type': 'application/json' },
      body: `{"tenant":"${tenant}","task":${i}}`,
    };
  }
  return spec;
}
