// The errors folder's public surface.
export { ChimeError, ERROR_CODES, isChimeError, notLeader, type ChimeErrorDetails, type ErrorCode, type FieldError } from './chime-error.js';
