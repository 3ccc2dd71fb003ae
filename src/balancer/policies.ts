// Policy registry by name, and the composition every balancer uses: tags, then zone, then the policy.
import { ConfigError } from '../errors.ts';
import { consistentHashPolicy } from './consistent-hash.ts';
import { leastOutstandingPolicy } from './least-outstanding.ts';
import { peakEwmaPolicy } from './peak-ewma.ts';
import { EMPTY_PICKER, type Picker, type PickTarget, type Policy, type PolicyOptions } from './picker.ts';
import { roundRobinPolicy } from './round-robin.ts';
import { tagFilterPicker } from './tag-filter.ts';
import { zonePreferencePicker } from './zone-preference.ts';

export const POLICY_NAMES = ['round-robin', 'least-outstanding', 'peak-ewma', 'consistent-hash'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

const FACTORIES: Record<PolicyName, (options: PolicyOptions) => Policy> = {
  'round-robin': roundRobinPolicy,
  'least-outstanding': leastOutstandingPolicy,
  'peak-ewma': peakEwmaPolicy,
  'consistent-hash': consistentHashPolicy,
};

export function isPolicyName(value: unknown): value is PolicyName {
  return typeof value === 'string' && (POLICY_NAMES as readonly string[]).includes(value);
}

/** A fresh policy instance by name; TypeError for an unknown name (a programming or configuration mistake). */
export function createPolicy(name: PolicyName, options: PolicyOptions = {}): Policy {
  if (!isPolicyName(name))
    throw new ConfigError('policy', `unknown balancing policy '${String(name)}' (known: ${POLICY_NAMES.join(', ')})`);
  return FACTORIES[name](options);
}

export interface BuildPickerOptions {
  /** Prefer targets in this zone while any of them is usable. */
  readonly zone?: string | undefined;
}

/** The picker the hot path calls: per-request tag filtering over zone preference over the policy. */
export function buildPicker(policy: Policy, targets: readonly PickTarget[], options: BuildPickerOptions = {}): Picker {
  if (targets.length === 0) return EMPTY_PICKER;
  return tagFilterPicker(targets, (ts) =>
    ts.length === 0 ? EMPTY_PICKER : zonePreferencePicker(policy, ts, options.zone),
  );
}
