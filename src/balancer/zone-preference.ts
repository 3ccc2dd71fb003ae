// Zone preference filter: pick within the caller's zone while any target there is usable, else anywhere.
import type { Picker, PickTarget, Policy } from './picker.ts';

/** Targets in `zone` (all of them when `zone` is undefined). */
export function inZone(targets: readonly PickTarget[], zone: string | undefined): readonly PickTarget[] {
  return zone === undefined ? targets : targets.filter((t) => t.zone === zone);
}

/**
 * Builds a picker that asks a picker over the local targets first and one over every target when the local one
 * finds nothing (no local target, all busy reconnecting, or all excluded for a retry).
 */
export function zonePreferencePicker(policy: Policy, targets: readonly PickTarget[], zone: string | undefined): Picker {
  const local = inZone(targets, zone);
  if (zone === undefined || local.length === 0 || local.length === targets.length) return policy.build(targets);
  const localPicker = policy.build(local);
  const anyPicker = policy.build(targets);
  return { pick: (ctx) => localPicker.pick(ctx) ?? anyPicker.pick(ctx) };
}
