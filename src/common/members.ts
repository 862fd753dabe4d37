/**
 * Guards against two PyTorch habits that plain JavaScript would accept silently: assigning a
 * member that cannot change (`p.data = x`), and spelling a member the PyTorch way
 * (`p.requires_grad = false`), which only creates a new property nobody reads.
 *
 * Both need accessors whose setter throws: a getter alone, or a non-writable property, makes a
 * sloppy-mode assignment a silent no-op.
 */
import { typeError } from './errors.js';

/** `requiresGrad` → `requires_grad`; names without a capital have no other spelling. */
function pytorchSpelling(name: string): string | undefined {
  const snake = name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return snake === name ? undefined : snake;
}

/** The names of every accessor and method on `proto` and the prototypes it inherits from, up to
 * (not including) Object.prototype. */
function memberNames(proto: object): string[] {
  const names = new Set<string>();
  for (let p: object | null = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const name of Object.getOwnPropertyNames(p)) if (name !== 'constructor') names.add(name);
  }
  return [...names];
}

/**
 * Defines, on `ctor.prototype`, the snake_case spelling of each of its camelCase members (its
 * methods and accessors, and the instance fields named in `fields`) as a non-enumerable accessor
 * that throws a TypeError (code ERR_OPTION) naming the right member, when read and when
 * assigned. A name the prototype chain already defines is left alone. `owner` names the object
 * in the message when its class name would mean nothing to the user.
 */
export function refusePytorchSpellings(ctor: { name: string; prototype: object }, fields: readonly string[] = [], owner?: string): void {
  const proto = ctor.prototype;
  for (const name of [...memberNames(proto), ...fields]) {
    if (name.startsWith('_')) continue;
    const snake = pytorchSpelling(name);
    if (snake === undefined || snake in proto) continue;
    const isMethod = typeof Object.getOwnPropertyDescriptor(findOwner(proto, name) ?? {}, name)?.value === 'function';
    const right = isMethod ? `${name}()` : name;
    const fail = function (this: unknown): never {
      const named = owner ?? (this as { constructor?: { name?: unknown } } | null)?.constructor?.name;
      throw typeError(
        'ERR_OPTION',
        `${typeof named === 'string' && named !== '' ? named : ctor.name}.${snake} is PyTorch's spelling: did you mean ${right}? ` +
          `(simd-adam spells members in camelCase; assigning ${snake} would only add a property that nothing reads)`,
      );
    };
    Object.defineProperty(proto, snake, { get: fail, set: fail, enumerable: false, configurable: true });
  }
}

function findOwner(proto: object, name: string): object | undefined {
  for (let p: object | null = proto; p; p = Object.getPrototypeOf(p) as object | null) {
    if (Object.prototype.hasOwnProperty.call(p, name)) return p;
  }
  return undefined;
}

/** The TypeError (code ERR_READONLY) for assigning a member that cannot be replaced. */
export function readOnlyError(member: string, hint: string): TypeError {
  return typeError('ERR_READONLY', `${member} cannot be assigned; ${hint}`);
}

/**
 * Makes each named own field of `target` read-only in the way sloppy code notices: an enumerable
 * accessor that returns the value it had and throws ERR_READONLY when assigned.
 */
export function lockFields(target: object, owner: string, fields: Readonly<Record<string, string>>): void {
  for (const [field, hint] of Object.entries(fields)) {
    const value: unknown = (target as Record<string, unknown>)[field];
    Object.defineProperty(target, field, {
      enumerable: true,
      configurable: false,
      get: () => value,
      set: () => {
        throw readOnlyError(`${owner}.${field}`, hint);
      },
    });
  }
}
