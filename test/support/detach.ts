/** Detaching buffers the two ways a user's code does: transferring them to a clone, or to
 * another thread through a MessagePort. */
import { expect } from 'vitest';

export const TRANSFERS = ['structuredClone', 'postMessage'] as const;
export type Transfer = (typeof TRANSFERS)[number];

export function detach(buffer: ArrayBufferLike, how: Transfer): void {
  if (how === 'structuredClone') {
    structuredClone(buffer, { transfer: [buffer as ArrayBuffer] });
  } else {
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(buffer, [buffer as ArrayBuffer]);
    port1.close();
    port2.close();
  }
  expect(buffer.byteLength, 'the transfer detached the buffer').toBe(0);
}
