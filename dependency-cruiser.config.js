// The layer rules of src/: each layer may import only the layers listed before it (docs/architecture.md shows the
// same list). `npm run check:layers` runs this in `npm test`.

/** Lowest first. A layer is a folder (or a root module) under src/. @type {[string, string][]} */
export const LAYERS = [
  ['base', '^src/(errors|version)\\.ts$|^src/util/'],
  ['wire', '^src/wire/'],
  ['auth', '^src/auth/'],
  ['registry', '^src/registry/'],
  ['devregistry', '^src/devregistry/'],
  ['discovery', '^src/discovery/'],
  ['balancer', '^src/balancer/'],
  ['protocol', '^src/protocol/'],
  ['conn', '^src/conn/'],
  ['agent', '^src/agent/'],
  ['metrics', '^src/metrics/'],
  ['spearlet', '^src/spearlet/'],
  ['admin', '^src/admin/'],
  ['localmesh', '^src/localmesh/'],
  ['drill', '^src/drill/'],
  ['dashboard', '^src/dashboard/'],
  ['cli', '^src/cli/'],
];

/** Arrows the layer order does not allow yet, each with the reason it is still there. */
/** @type {{ layer: string, to: string }[]} */
const KNOWN_EXCEPTIONS = [];

const forbidden = LAYERS.flatMap(([name, path], i) => {
  const higher = LAYERS.slice(i + 1).map(([, p]) => `(${p})`);
  if (higher.length === 0) return [];
  const exceptions = KNOWN_EXCEPTIONS.filter((e) => e.layer === name);
  return [
    {
      name: `layer-${name}`,
      comment: `${name} may import only the layers listed before it`,
      severity: 'error',
      from: { path },
      to: {
        path: higher.join('|'),
        ...(exceptions.length > 0 ? { pathNot: exceptions.map((e) => e.to).join('|') } : {}),
      },
    },
  ];
});

forbidden.push(
  // Type-only imports vanish at runtime, so a cycle through one is no cycle.
  {
    name: 'no-circular',
    severity: 'error',
    from: {},
    to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
  },
  { name: 'src-not-to-test', severity: 'error', from: { path: '^src/' }, to: { path: '^(test|bench|examples)/' } },
);

export default {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^src/wire/legacy/generated/' },
  },
};
