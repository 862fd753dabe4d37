/** How an optimizer prints: PyTorch's `repr(optimizer)` layout, with our key names. */
import { inspect } from 'node:util';

function formatValue(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(formatValue).join(', ')}]`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  return inspect(value, { breakLength: Infinity, depth: 2 });
}

/**
 * `Adam (` then, per group, `Parameter Group i`, its parameter count, and every other key sorted
 * by name, one a line, as PyTorch's `Optimizer.__repr__` writes them; then `)`.
 */
export function formatOptimizer(className: string, groups: ReadonlyArray<{ readonly params: ReadonlyArray<{ readonly numel: number }> }>): string {
  let out = `${className} (`;
  groups.forEach((group, i) => {
    const count = group.params.length;
    const elements = group.params.reduce((n, p) => n + p.numel, 0);
    out += `\nParameter Group ${i}\n    params: ${count} parameter${count === 1 ? '' : 's'} (${elements} element${elements === 1 ? '' : 's'})\n`;
    for (const key of Object.keys(group).filter((k) => k !== 'params').sort()) {
      out += `    ${key}: ${formatValue((group as Record<string, unknown>)[key])}\n`;
    }
  });
  return `${out})`;
}
