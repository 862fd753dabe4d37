/**
 * Files that are not safetensors but are often mistaken for a checkpoint: what torch.save writes
 * (a zip archive, or a pickle with the legacy format), a JSON state dict, a gzip. Told apart by
 * their first bytes, and only once the file has failed as safetensors, so that no valid
 * checkpoint is ever refused for what its header length happens to look like.
 */

/** Where the converter lives inside the installed package. */
export const CONVERTER = 'node_modules/simd-adam/tools/torch_checkpoint.py';

const CONVERT = `convert it with \`python3 ${CONVERTER} from-torch IN.pt OUT.safetensors\` (it needs only torch)`;

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return prefix.every((b, i) => bytes[i] === b);
}

/** What the file's first bytes say it is, as the rest of an error message; undefined when they
 * match no known format. */
export function foreignFormat(first: Uint8Array): string | undefined {
  if (startsWith(first, [0x50, 0x4b, 0x03, 0x04]) || startsWith(first, [0x50, 0x4b, 0x05, 0x06])) {
    return `this is a zip archive, as torch.save writes (PyTorch 1.6 and later), not a safetensors checkpoint; if it holds an optimizer's state_dict(), ${CONVERT}`;
  }
  // A pickle of protocol 2 to 5 starts with PROTO (0x80) and the protocol number.
  if (first[0] === 0x80 && first[1] !== undefined && first[1] >= 2 && first[1] <= 5) {
    return `this is a Python pickle (torch.save with _use_new_zipfile_serialization=False, or pickle.dump), not a safetensors checkpoint; if it holds an optimizer's state_dict(), ${CONVERT}`;
  }
  if (startsWith(first, [0x1f, 0x8b])) return 'this is gzip-compressed data, not a safetensors checkpoint; decompress it first';
  const text = new TextDecoder('utf-8', { fatal: false }).decode(first).trimStart();
  if (text.startsWith('{"') || text.startsWith('{\n') || text.startsWith('{ ') || text === '{') {
    return 'this is JSON text, not a safetensors checkpoint; a JSON state dict loads with opt.loadStateDict(JSON.parse(text))';
  }
  return undefined;
}
