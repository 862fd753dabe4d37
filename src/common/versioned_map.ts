/** A Map that counts its changes, so a cached step plan can tell in O(1) whether any parameter's
 * state was added, replaced or removed (by a step, or by loading a state dict) since it was built. */
export class VersionedMap<K, V> extends Map<K, V> {
  #version = 0;

  get version(): number {
    return this.#version;
  }

  override set(key: K, value: V): this {
    this.#version++;
    return super.set(key, value);
  }

  override delete(key: K): boolean {
    this.#version++;
    return super.delete(key);
  }

  override clear(): void {
    this.#version++;
    super.clear();
  }
}
