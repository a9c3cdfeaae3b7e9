import { Level } from 'level';

/** The LevelDB handle as this folder uses it: binary keys and binary values. */
export type Db = Level<Uint8Array, Uint8Array>;

export type BatchOp = { readonly type: 'put'; readonly key: Uint8Array; readonly value: Uint8Array } | { readonly type: 'del'; readonly key: Uint8Array };

export function openDb(dir: string): Db {
  return new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
}
