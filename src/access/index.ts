// Public surface of access control. Other folders import from here only.
export { ACCESS_STATUS_BY_CODE, type AccessCode, type FieldError, type Refused } from './codes.js';
export { ROLES, PERMISSIONS, ROLE_PERMISSIONS, can, isRole, isPermission, type Role, type Permission } from './roles.js';
export { ROUTE_METHODS, API_ROUTES, declareRoutes, isReadMethod, type RouteDeclaration, type RouteMethod } from './routes.js';
export {
  TOKEN_ID_PATTERN, TOKEN_NAME_PATTERN, TOKEN_HASH_PATTERN, RESERVED_TOKEN_NAMES, BOOTSTRAP_TOKEN_ID, BOOTSTRAP_TOKEN_NAME, SYSTEM_ACTOR,
  tokenCommandProblem, checkTokenCommand, isTokenId, isTokenName,
  type CreateTokenCommand, type RevokeTokenCommand, type TokenCommand,
} from './token-commands.js';
export {
  TokenRegistry, tokenView, isExpired, TOKENS_MAX_DEFAULT, DEFAULT_TOKEN_LIMITS,
  type TokenRecord, type TokenView, type TokenRegistryLimits, type TokenApplyResult, type TokenPage, type TokenRow, type TokenRegistrySnapshot,
} from './token-registry.js';
export {
  TOKEN_PREFIX, GENERATED_TOKEN_PATTERN, AUTHORIZATION_CHARS_MAX, BOOTSTRAP_TOKEN_CHARS_MIN, BOOTSTRAP_TOKEN_CHARS_MAX, TOKEN_TTL_MS_MIN, TOKEN_TTL_MS_MAX,
  generateToken, hashToken, hashesEqual, parseAuthorization, queryTokenProblem, bootstrapTokenFromFile, bootstrapTokenCommand,
  validateTokenRequest, newTokenCommand,
  type GeneratedToken, type TokenRequest,
} from './tokens.js';
export { nodeOriginsOf, isOwnOrigin, foreignOriginProblem, isLocalHost } from './origin.js';
export {
  authorize, ANONYMOUS_PRINCIPAL, PUBLIC_PRINCIPAL,
  type AccessRequest, type AccessDecision, type AccessDenied, type Principal, type TokenLookup,
} from './authorize.js';
export { CredentialMemo, CREDENTIAL_MEMO_ENTRIES_DEFAULT, type RememberedCredential } from './credential-memo.js';
export { FORWARDED_REQUEST_HEADERS, forwardedRequestHeaders } from './forward.js';
export {
  SECRET_MASK, SECRET_VALUE_CHARS_MIN, SECRET_FIELDS,
  redactSecrets, redactExecutor, redactSpec, mergeSecrets, mergeExecutorSecrets, secretValuesOf, maskOutput,
  type SecretField, type SecretMap, type ExecutorSecrets,
} from './secrets.js';
export {
  SECRETS_KEY_FILE_BYTES_MIN, SEALED_PREFIX,
  secretsKeyFromFile, sealSecret, openSecret, isSealed, secretContext, sealExecutorSecrets, openExecutorSecrets, sealSecretMap, openSecretMap, notifySecretField,
  type SecretsKey,
} from './secret-box.js';
export {
  AuditLog, auditRecordProblem, AUDIT_ENTRIES_DEFAULT, DEFAULT_AUDIT_LIMITS, WRITE_ID_PATTERN,
  type AuditRecord, type AuditEntry, type AuditLimits, type AuditRow, type AuditSnapshot, type AuditPage,
} from './audit-log.js';
export { InFlightLimiter, DEFAULT_IN_FLIGHT_LIMITS, IN_FLIGHT_KEYS_MAX_DEFAULT, type InFlightRefused } from './in-flight-limiter.js';
