// Tag filter: a request that names tags only goes to targets carrying all of them.
import type { Picker, PickContext, PickTarget } from './picker.ts';

const MAX_CACHED_TAG_SETS = 64;

export function hasAllTags(target: { readonly tags: readonly string[] }, tags: readonly string[]): boolean {
  for (const tag of tags) if (!target.tags.includes(tag)) return false;
  return true;
}

/**
 * Wraps `build` so each distinct tag set gets its own picker over the matching targets, built on first use and
 * kept for the life of this picker (pickers are rebuilt on every membership change, so the cache stays small).
 */
export function tagFilterPicker(targets: readonly PickTarget[], build: (ts: readonly PickTarget[]) => Picker): Picker {
  const all = build(targets);
  const cache = new Map<string, Picker>();
  return {
    pick(ctx: PickContext): PickTarget | undefined {
      const tags = ctx.tags;
      if (tags === undefined || tags.length === 0) return all.pick(ctx);
      const key = [...tags].sort().join('\u0000');
      let picker = cache.get(key);
      if (picker === undefined) {
        picker = build(targets.filter((t) => hasAllTags(t, tags)));
        if (cache.size >= MAX_CACHED_TAG_SETS) cache.clear();
        cache.set(key, picker);
      }
      return picker.pick(ctx);
    },
  };
}
