/**
 * Node's `util.inspect.custom`, by the name Node registers it under: the same symbol, without
 * importing node:util, so the published declarations type-check in projects without @types/node.
 */
export const inspectCustom: unique symbol = Symbol.for('nodejs.util.inspect.custom');
