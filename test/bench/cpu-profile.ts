// A CPU profiler to preload into agents (`fire-bench --preload dist/test/bench/cpu-profile.js`).
// The bench kills agents with SIGKILL, so --cpu-prof (written at exit) never gets written;
// this one profiles a window by the clock instead: from CHIME_PROF_DELAY_S seconds after start
// for CHIME_PROF_SECONDS seconds, then writes CHIME_PROF_DIR/<pid>.cpuprofile (open it in
// Chrome DevTools, or summarise it with test/bench/profile-summary.js).
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const delayS = Number(process.env.CHIME_PROF_DELAY_S ?? '30');
const seconds = Number(process.env.CHIME_PROF_SECONDS ?? '20');
const dir = process.env.CHIME_PROF_DIR ?? '/tmp';

const session = new Session();
session.connect();
setTimeout(() => {
  session.post('Profiler.enable', () => {
    session.post('Profiler.setSamplingInterval', { interval: 500 }, () => {
      session.post('Profiler.start', () => {
        setTimeout(() => {
          session.post('Profiler.stop', (error, result) => {
            if (error === null) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
          });
        }, seconds * 1000).unref();
      });
    });
  });
}, delayS * 1000).unref();
