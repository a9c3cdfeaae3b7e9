// `npm run test:killloop -- --kills 20 --jobs 3`
import { cliArgs } from '../support/cli-args.js';
import { killLoop } from './kill-loop.js';

const { values } = cliArgs('npm run test:killloop --', { options: { kills: { type: 'string', default: '20' }, jobs: { type: 'string', default: '3' }, keep: { type: 'boolean', default: false } } });
const result = await killLoop({ kills: Number(values.kills), jobs: Number(values.jobs), keep: values.keep === true, log: (s) => console.log(s) });
console.log(JSON.stringify({ ...result, missing: result.missing.length, duplicateRecords: result.duplicateRecords.length, notExecuted: result.notExecuted.length, executedTwice: result.executedTwice.length }));
const failed = result.missing.length + result.duplicateRecords.length + result.notExecuted.length + result.executedTwice.length;
if (failed > 0) {
  console.log('missing', result.missing.slice(0, 20), 'duplicates', result.duplicateRecords.slice(0, 20), 'notExecuted', result.notExecuted.slice(0, 20), 'executedTwice', result.executedTwice.slice(0, 20));
  process.exitCode = 1;
}
console.log(`kill-loop kills=${result.kills} instants=${result.instants} missing=${result.missing.length} duplicate_records=${result.duplicateRecords.length} not_executed=${result.notExecuted.length} executed_twice=${result.executedTwice.length} ${failed === 0 ? 'PASS' : 'FAIL'}`);
