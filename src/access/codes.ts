// Stable codes of every refusal this folder returns, and the HTTP status each one means.
// Nothing here throws for bad input: callers get a typed result and map `code` to an answer
// through ACCESS_STATUS_BY_CODE (the API merges it into its one code → status table).
// Broken invariants are different: they throw an AssertionError (see assert.ts).

export const ACCESS_STATUS_BY_CODE = {
  // The check of a request (authorize).
  TOKEN_MISSING: 401,
  TOKEN_MALFORMED: 401,
  TOKEN_INVALID: 401,
  TOKEN_EXPIRED: 401,
  TOKEN_IN_QUERY: 400,
  FORBIDDEN: 403,
  FOREIGN_ORIGIN: 403,
  HOST_NOT_ALLOWED: 403,
  AUTH_NOT_READY: 503,
  // Token commands and queries.
  INVALID_TOKEN_COMMAND: 400,
  INVALID_TOKEN_REQUEST: 400,
  TOKEN_EXISTS: 409,
  TOKEN_NAME_TAKEN: 409,
  TOKEN_NOT_FOUND: 404,
  TOO_MANY_TOKENS: 409,
  LAST_ADMIN_TOKEN: 409,
  FIRST_TOKEN_NOT_ADMIN: 409,
  INVALID_CURSOR: 400,
  INVALID_SNAPSHOT: 500,
  // The bootstrap file (the agent exits 2 on these; the status is never sent).
  BOOTSTRAP_TOKEN_INVALID: 400,
  // Secrets.
  INVALID_SECRET: 400,
  SECRETS_KEY_TOO_SHORT: 400,
  SECRET_MALFORMED: 500,
  SECRET_KEY_MISMATCH: 500,
  SECRET_TAMPERED: 500,
  // Audit.
  INVALID_AUDIT_RECORD: 400,
  // Rate limits.
  TOO_MANY_IN_FLIGHT: 429,
} as const;

export type AccessCode = keyof typeof ACCESS_STATUS_BY_CODE;

/** A field of user input that was refused, in the same shape as statemachine's FieldError. */
export type FieldError = { readonly path: string; readonly message: string };

/** A refusal with a stable code; `errors` names the fields when the input was a document. */
export type Refused<C extends AccessCode = AccessCode> = {
  readonly ok: false;
  readonly code: C;
  readonly message: string;
  readonly errors?: readonly FieldError[];
};

export function refused<C extends AccessCode>(code: C, message: string, errors?: readonly FieldError[]): Refused<C> {
  return errors === undefined ? { ok: false, code, message } : { ok: false, code, message, errors };
}
