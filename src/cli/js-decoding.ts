// Imported by main.ts before any module that loads msgpackr, which reads this setting once,
// when it is first evaluated.
//
// msgpackr's optional native add-on (msgpackr-extract, installed with it) decodes every
// string of a message into one string and hands out slices of it. A slice that the job
// table keeps (a job's packed spec, an audit record's path) keeps that whole block alive: a
// table built from log entries held 824 against 527 bytes per job (`bench:table-memory`,
// docs/benchmarks-memory.md), for no measurable CPU either way on a worker's or a voter's
// write path. Decoded in JavaScript, each string is its own. An operator's own setting of
// the variable wins.
process.env['MSGPACKR_NATIVE_ACCELERATION_DISABLED'] ??= 'true';
