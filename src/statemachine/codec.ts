// msgpackr encoding of commands. Records/structures are off: with them the bytes of one
// command would depend on what the encoder saw before, and replicas must agree byte for byte.
import { Packr } from 'msgpackr';
import { commandProblem, type Command } from './commands.js';
import { ChimeError } from '../errors/index.js';
import { COMMAND_BYTES_MAX } from './limits.js';

export const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, bundleStrings: false });

/** Encodes a command; the result is a fresh copy (msgpackr reuses its buffer). */
export function encodeCommand(command: Command): Uint8Array {
  const bytes = new Uint8Array(packr.pack(command));
  if (bytes.length > COMMAND_BYTES_MAX) throw new ChimeError('INVALID_COMMAND', `command is ${bytes.length} bytes, more than ${COMMAND_BYTES_MAX}`);
  return bytes;
}

/** Decodes and shape-checks a command. Throws ChimeError for anything else. */
export function decodeCommand(bytes: Uint8Array): Command {
  if (bytes.length > COMMAND_BYTES_MAX) throw new ChimeError('INVALID_COMMAND', `command is ${bytes.length} bytes, more than ${COMMAND_BYTES_MAX}`);
  let value: unknown;
  try {
    // A view of its own: msgpackr caches a DataView on the buffer it reads, and an entry's
    // data stays in the in-memory log until compaction, so every entry would keep one (~115 bytes each in a scratch measurement).
    value = packr.unpack(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new ChimeError('INVALID_COMMAND', `not msgpack: ${error instanceof Error ? error.message : 'decode failed'}`);
  }
  assertCommand(value);
  return value;
}

/**
 * Throws INVALID_COMMAND unless commandProblem, which checks every field of every command
 * kind in place (no copy: entries are checked on every replica), finds nothing. A putJob's
 * spec is only known to be an object here: apply validates it in full (validateJobSpec).
 */
function assertCommand(value: unknown): asserts value is Command {
  const problem = commandProblem(value);
  if (problem !== null) throw new ChimeError('INVALID_COMMAND', problem);
}
