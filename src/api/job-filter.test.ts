import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Driver, T0 } from '../../test/support/job-table.js';
import { filteredJobs, jobFilterOf, SCAN_JOBS_MAX } from './job-filter.js';

function table(count: number) {
  const driver = new Driver();
  for (let i = 0; i < count; i++) {
    const id = `job-${String(i).padStart(5, '0')}${i % 10 === 0 ? '-backup' : ''}`;
    driver.put(id, T0, { labels: { team: i % 2 === 0 ? 'even' : 'odd' }, enabled: i % 3 !== 0 });
  }
  return driver.table;
}

const filterOf = (query: string) => {
  const filter = jobFilterOf(new URLSearchParams(query));
  assert.ok(filter !== null);
  return filter;
};

test('no filter parameters means no filter; bad ones are 400s naming the parameter', () => {
  assert.equal(jobFilterOf(new URLSearchParams('limit=5&cursor=j1.a')), null);
  assert.throws(() => jobFilterOf(new URLSearchParams('status=running')), (e: { errors: Array<{ path: string }> }) => e.errors[0]?.path === 'status');
  assert.throws(() => jobFilterOf(new URLSearchParams('label=noequals')), (e: { errors: Array<{ path: string }> }) => e.errors[0]?.path === 'label');
});

test('id (case-insensitive substring), label and status combine; paging walks every match exactly once', () => {
  const jobs = table(200);
  const filter = filterOf('id=BACKUP&label=team=even&status=paused');
  const expected = jobs.listJobs({ limit: 1000 });
  assert.ok(expected.ok);
  const want = expected.items.filter((j) => j.id.includes('backup') && j.labels['team'] === 'even' && !j.enabled).map((j) => j.id);
  assert.ok(want.length > 3);
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const page = filteredJobs(jobs, filter, cursor === undefined ? { limit: 3 } : { limit: 3, cursor });
    seen.push(...page.items.map((j) => j.id));
    if (page.nextCursor === null) break;
    cursor = page.nextCursor;
  }
  assert.deepEqual(seen, want);
});

test('a page that fills on the very last job has no next cursor', () => {
  const jobs = table(11);
  const page = filteredJobs(jobs, filterOf('id=backup'), { limit: 2 });
  assert.deepEqual(page.items.map((j) => j.id), ['job-00000-backup', 'job-00010-backup']);
  assert.equal(page.nextCursor, null);
});

test('one request looks at a bounded number of jobs and hands back a cursor to go on', () => {
  const jobs = table(SCAN_JOBS_MAX + 1500);
  const page = filteredJobs(jobs, filterOf('id=no-such-thing'), { limit: 10 });
  assert.deepEqual(page.items, []);
  assert.ok(page.nextCursor !== null);
  const rest = filteredJobs(jobs, filterOf('id=no-such-thing'), { limit: 10, cursor: page.nextCursor });
  assert.equal(rest.nextCursor, null);
});
