// Imported first by main.ts, so it runs before any other module of chime is evaluated.
import { setFlagsFromString } from 'node:v8';

/**
 * V8 optimizes a function once it has spent its interrupt budget (in bytecode executed)
 * three times over; node 20's default budget is 67584. An agent's write path is hundreds of
 * small functions each run once or a few times per request, so with one client they ran
 * unoptimized for the first 8–10 s of writes: writes per second climbed from ~300 to ~800
 * over that time (and stayed at ~200 with --no-opt). With a budget of 4096 the climb takes
 * 2–3 s; the price is ~1.4 s more compiling per agent, once, on V8's compiler thread
 * (docs/benchmarks.md, "The first seconds of writes").
 */
export const AGENT_INTERRUPT_BUDGET = 4096;

// The agent only (`chime dev` runs its nodes as `chime agent` children): a short CLI command
// would only compile more. A budget given on node's command line (a benchmark comparing
// budgets) wins.
if (process.argv[2] === 'agent' && !process.execArgv.some((a) => /^--interrupt[-_]budget(=|$)/.test(a))) {
  setFlagsFromString(`--interrupt-budget=${AGENT_INTERRUPT_BUDGET}`);
}
