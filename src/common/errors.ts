/**
 * Every error simd-adam throws is a {@link SimdAdamError}, a `TypeError` or a `RangeError`, and
 * carries a string `code`, so callers can branch on `err.code` instead of parsing messages.
 */

/** The codes simd-adam puts on its errors. docs/errors.md describes each. */
export type ErrorCode =
  | 'ERR_ADDON_LOAD'
  | 'ERR_AMSGRAD_STATE'
  | 'ERR_BACKEND'
  | 'ERR_BUSY'
  | 'ERR_CHECKPOINT'
  | 'ERR_DETACHED'
  | 'ERR_DUPLICATE_PARAM'
  | 'ERR_EMPTY_PARAMS'
  | 'ERR_GRAD_ALIAS'
  | 'ERR_GRAD_LENGTH'
  | 'ERR_GRAD_TYPE'
  | 'ERR_HOOK'
  | 'ERR_INTERNAL'
  | 'ERR_MPI'
  | 'ERR_NON_FINITE'
  | 'ERR_OPTION'
  | 'ERR_PARAM_ALIAS'
  | 'ERR_PARAM_GROUP'
  | 'ERR_PARAM_TYPE'
  | 'ERR_RANK_MISMATCH'
  | 'ERR_READONLY'
  | 'ERR_RESIZABLE'
  | 'ERR_SHAPE'
  | 'ERR_STATE'
  | 'ERR_STATE_DICT'
  | 'ERR_STATE_DTYPE'
  | 'ERR_TFJS_LOAD';

/** The package's own error class, for errors that are neither about a type nor a range. */
export class SimdAdamError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SimdAdamError';
    this.code = code;
  }
}

/** A TypeError or RangeError with a `code`, as thrown by simd-adam. */
export type CodedError<E extends Error> = E & { readonly code: ErrorCode };

function withCode<E extends Error>(error: E, code: ErrorCode): CodedError<E> {
  Object.defineProperty(error, 'code', { value: code, enumerable: true, writable: false, configurable: true });
  return error as CodedError<E>;
}

export function typeError(code: ErrorCode, message: string): CodedError<TypeError> {
  return withCode(new TypeError(message), code);
}

export function rangeError(code: ErrorCode, message: string): CodedError<RangeError> {
  return withCode(new RangeError(message), code);
}
