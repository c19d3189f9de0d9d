/**
 * Typed errors. Every error a user can cause carries a stable `code` and the context needed to fix it
 * (the file, the key, expected and actual values). The CLI prints `message` for these and a full stack
 * only for anything else (a bug).
 */

export abstract class Ssl3dError extends Error {
  abstract readonly code: string;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** A NIfTI file could not be read: it is missing, truncated, corrupt, or uses an unsupported feature. */
export class NiftiReadError extends Ssl3dError {
  readonly code = 'NIFTI_READ';
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

/** Writing a NIfTI file failed or the volume cannot be represented. */
export class NiftiWriteError extends Ssl3dError {
  readonly code = 'NIFTI_WRITE';
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

/** Voxel values that are not finite (NaN or +/-Inf) where finite values are required. */
export class NonFiniteDataError extends Ssl3dError {
  readonly code = 'NON_FINITE_DATA';
  constructor(
    readonly path: string,
    readonly nanCount: number,
    readonly infCount: number,
  ) {
    super(`${path}: volume contains ${nanCount} NaN and ${infCount} Inf voxel(s); clean the file or pass allowNonFinite`);
  }
}

/** Two volumes that must share a grid do not (e.g. an image and its label). */
export class ShapeMismatchError extends Ssl3dError {
  readonly code = 'SHAPE_MISMATCH';
  constructor(
    readonly what: string,
    readonly expected: readonly number[],
    readonly actual: readonly number[],
  ) {
    super(`${what}: expected shape [${expected.join(', ')}], got [${actual.join(', ')}]`);
  }
}

/** One problem found while validating a datalist. */
export interface DatalistIssue {
  /** Where: e.g. `training[3].label`. */
  where: string;
  problem: string;
}

/** A datalist JSON file is malformed or points at files that are missing or unreadable. All problems are listed. */
export class DatalistError extends Ssl3dError {
  readonly code = 'DATALIST';
  constructor(
    readonly path: string,
    readonly issues: DatalistIssue[],
  ) {
    super(
      `${path}: ${issues.length} problem(s) in datalist:\n` + issues.map((i) => `  - ${i.where}: ${i.problem}`).join('\n'),
    );
  }
}

/** A transform or function was called with arguments it cannot work with. */
export class ArgumentError extends Ssl3dError {
  readonly code = 'ARGUMENT';
}

/** A requested backend is not installed or failed to initialise. */
export class BackendError extends Ssl3dError {
  readonly code = 'BACKEND';
}

/** A configuration value is invalid (unknown key, wrong type). */
export class ConfigError extends Ssl3dError {
  readonly code = 'CONFIG';
  constructor(
    readonly source: string,
    readonly issues: string[],
  ) {
    super(`${source}: invalid configuration:\n` + issues.map((i) => `  - ${i}`).join('\n'));
  }
}
