import { Packr } from 'msgpackr';

// Plain maps only: msgpackr's records keep shared structure tables, and a peer's payload
// must never depend on (or change) state outside itself.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export function encodePayload(value: unknown): Uint8Array {
  return packr.pack(value);
}

export type Decoded = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reason: string };

/** Decodes one whole payload; garbage, truncation or trailing bytes are a reason, not a throw. */
export function decodePayload(bytes: Uint8Array): Decoded {
  try {
    return { ok: true, value: packr.unpack(bytes) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, reason: `payload does not decode: ${message.slice(0, 120)}` };
  }
}
