/**
 * Runs a rank script under `mpirun -np N` over loopback TCP (as root too), and reads the JSON
 * line each rank prints. Tests skip, with a note, when there is no mpirun or the binding is not
 * built.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const repoRoot = join(packageRoot, '..', '..');

function hasMpirun(): boolean {
  const probe = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
  return probe.status === 0 && !probe.error;
}

/** Why the MPI tests cannot run here, or null when they can. */
export const mpiMissing: string | null = !hasMpirun()
  ? 'mpirun is not on PATH (apt-get install -y openmpi-bin libopenmpi-dev)'
  : !existsSync(join(packageRoot, 'build', 'Release', 'simd_adam_mpi.node'))
    ? 'the MPI binding is not built (npm run build:native -w simd-adam-mpi)'
    : null;

if (mpiMissing) console.warn(`simd-adam-mpi: skipping the MPI tests: ${mpiMissing}`);

export interface RankRun<T> {
  status: number | null;
  lines: T[];
  stdout: string;
  stderr: string;
  seconds: number;
}

/** `mpirun -np np node --import tsx` on the rank script named `script` (in ranks/), or on a file
 * of the repository when `script` is a path; one JSON line per rank, sorted by rank. */
export function mpirun<T extends { rank: number }>(np: number, script: string, env: Record<string, string> = {}, timeoutMs = 120_000): RankRun<T> {
  const args = ['--oversubscribe', '--mca', 'btl', 'self,tcp', '--mca', 'btl_tcp_if_include', 'lo', '--mca', 'pml', 'ob1', '-np', String(np)];
  args.push(process.execPath, '--import', 'tsx', script.includes('/') ? join(repoRoot, script) : join(packageRoot, 'test', 'ranks', `${script}.ts`));
  const started = process.hrtime.bigint();
  const run = spawnSync('mpirun', args, {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1', OMPI_MCA_rmaps_base_oversubscribe: '1', ...env },
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const lines = run.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as T)
    .sort((a, b) => a.rank - b.rank);
  return { status: run.status, lines, stdout: run.stdout, stderr: run.stderr + (run.error ? String(run.error) : ''), seconds };
}
