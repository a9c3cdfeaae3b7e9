// Sample messages of every type, for the rpc tests.
import type { Message } from '../../src/raft/index.js';

/** One message of every type, from `from` to `to`, with non-trivial field values. */
export function sampleMessages(from: string, to: string): Message[] {
  const meta = { index: 40, term: 3, conf: { voters: [from, to], learners: ['n9'] } };
  return [
    { type: 'app', from, to, term: 3, prevIndex: 10, prevTerm: 2, commit: 9, entries: [{ index: 11, term: 3, kind: 'normal', data: new Uint8Array([1, 2, 3]) }, { index: 12, term: 3, kind: 'conf', data: new Uint8Array(0) }] },
    { type: 'appResp', from, to, term: 3, index: 12, reject: false, hintIndex: 0, hintTerm: 0 },
    { type: 'vote', from, to, term: 4, lastIndex: 12, lastTerm: 3, pre: true, transfer: false },
    { type: 'voteResp', from, to, term: 4, pre: true, reject: false },
    { type: 'heartbeat', from, to, term: 3, commit: 9, readRound: 7 },
    { type: 'heartbeatResp', from, to, term: 3, readRound: 7 },
    { type: 'snap', from, to, term: 3, meta, totalBytes: 5, offset: 0, data: new Uint8Array([9, 8, 7, 6, 5]), done: true },
    { type: 'snapResp', from, to, term: 3, index: 40, receivedBytes: 5, reject: false },
    { type: 'timeoutNow', from, to, term: 3 },
    { type: 'readIndex', from, to, term: 3, context: 'req-1' },
    { type: 'readIndexResp', from, to, term: 3, context: 'req-1', index: 12 },
  ];
}
