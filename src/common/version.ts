/** The package's version, read once from its own package.json at load time, so it can never
 * disagree with what npm installed. */
import { createRequire } from 'node:module';

/** The installed simd-adam version, e.g. `"0.1.0"` (semver, as in package.json). */
export const version: string = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
