// deploy/ is shipped configuration: every file parses, carries its required fields, and uses only
// spearlet flags and SPEARLET_* variables that `spear-mesh spearlet --help` documents.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Ajv } from 'ajv';
import * as coreV1 from 'kubernetes-models/v1';
import * as appsV1 from 'kubernetes-models/apps/v1';
import * as batchV1 from 'kubernetes-models/batch/v1';
import * as policyV1 from 'kubernetes-models/policy/v1';
import * as networkingV1 from 'kubernetes-models/networking.k8s.io/v1';
import * as rbacV1 from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ROOT } from '../scripts/repo-root.ts';

const root = pathToFileURL(`${ROOT}/`);
const read = (p: string): Promise<string> => readFile(new URL(p, root), 'utf8');
const bin = fileURLToPath(new URL('bin/spear-mesh.js', root));

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => {
  assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), 'expected an object');
  return v as Json;
};

let spearletHelp = '';
before(async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [bin, 'spearlet', '--help']);
  spearletHelp = stdout;
});

function documented(flag: string): boolean {
  return new RegExp(`^\\s+${flag}\\b`, 'm').test(spearletHelp);
}

function assertKnownFlags(args: readonly string[], where: string): void {
  for (const arg of args) {
    if (!arg.startsWith('--')) continue;
    const flag = arg.split('=')[0]!;
    assert.ok(documented(flag), `${where} uses ${flag}, which 'spearlet --help' does not document`);
  }
}

/** SPEARLET_<NAME> is the documented variable of the flag --<name> (help: "each also as SPEARLET_<NAME>"). */
function assertKnownEnv(names: readonly string[], where: string): void {
  assert.match(spearletHelp, /each also as an environment variable SPEARLET_<NAME>/);
  for (const name of names) {
    if (!name.startsWith('SPEARLET_')) continue;
    const flag = `--${name.slice('SPEARLET_'.length).toLowerCase().replace(/_/g, '-')}`;
    assert.ok(
      spearletHelp.includes(name) || documented(flag),
      `${where} sets ${name}, but 'spearlet --help' documents neither it nor ${flag}`,
    );
  }
}

const json = async (p: string): Promise<Json> => obj(JSON.parse(await read(p)));
const at = (v: unknown, ...path: string[]): unknown => path.reduce<unknown>((o, k) => obj(o)[k], v);

describe('deploy/consul', () => {
  it('three servers: one cluster, TLS verified both ways, gossip encrypted, ACLs default deny, an agent token each', async () => {
    const names = new Set<string>();
    for (const i of [1, 2, 3]) {
      const cfg = await json(`deploy/consul/server-${i}.json`);
      assert.equal(cfg.server, true);
      assert.equal(cfg.bootstrap_expect, 3);
      assert.equal(cfg.datacenter, 'dc1');
      assert.deepEqual(cfg.retry_join, ['consul-server-1', 'consul-server-2', 'consul-server-3']);
      assert.equal(typeof cfg.encrypt, 'string');
      assert.equal(at(cfg, 'tls', 'defaults', 'verify_incoming'), true);
      assert.equal(at(cfg, 'tls', 'defaults', 'verify_outgoing'), true);
      assert.equal(at(cfg, 'tls', 'internal_rpc', 'verify_server_hostname'), true);
      assert.equal(at(cfg, 'tls', 'defaults', 'cert_file'), `/etc/consul.d/tls/consul-server-${i}.pem`);
      assert.equal(at(cfg, 'auto_encrypt', 'allow_tls'), true);
      assert.deepEqual(at(cfg, 'ports'), { http: -1, https: 8501, grpc: -1, grpc_tls: 8503 });
      const acl = obj(cfg.acl);
      assert.equal(acl.enabled, true);
      assert.equal(acl.default_policy, 'deny');
      assert.match(String(at(acl, 'tokens', 'agent')), new RegExp(`consul-server-${i}$`));
      names.add(String(cfg.node_name));
    }
    assert.equal(names.size, 3);
  });

  it('the client agent joins with auto_encrypt, verifies the servers, and takes its own node agent token', async () => {
    const cfg = await json('deploy/consul/client.json');
    assert.equal(cfg.server, false);
    assert.ok(Array.isArray(cfg.retry_join) && cfg.retry_join.length === 3);
    assert.equal(at(cfg, 'auto_encrypt', 'tls'), true);
    assert.equal(at(cfg, 'tls', 'defaults', 'verify_outgoing'), true);
    assert.equal(at(cfg, 'tls', 'internal_rpc', 'verify_server_hostname'), true);
    assert.equal(cfg.client_addr, '127.0.0.1', 'plain HTTP stays on loopback');
    assert.equal(at(cfg, 'acl', 'tokens', 'agent'), 'REPLACE_WITH_AGENT_TOKEN_FOR_THIS_NODE');
  });

  it('the spearlet policy writes only its services; the agent policy only reads', async () => {
    const spearlet = await json('deploy/consul/spearlet-policy.json');
    const rules = Object.entries(spearlet).flatMap(([kind, byName]) =>
      Object.entries(obj(byName)).map(([name, rule]) => [kind, name, obj(rule).policy]),
    );
    assert.deepEqual(
      rules.filter((r) => r[2] === 'write'),
      [
        ['service', 'spearlet', 'write'],
        ['service', 'spear-task', 'write'],
      ],
    );
    assert.ok(rules.some((r) => r[0] === 'key_prefix' && r[1] === 'spear-mesh/' && r[2] === 'read'));
    const agent = await json('deploy/consul/agent-policy.json');
    assert.deepEqual(agent, { service_prefix: { '': { policy: 'read' } }, node_prefix: { '': { policy: 'read' } } });
    // Kubernetes carries its own copy (kustomize loads files below its folder only): they must not drift.
    assert.deepEqual(await json('deploy/kubernetes/policies/spearlet-policy.json'), spearlet);
    assert.deepEqual(await json('deploy/kubernetes/policies/agent-policy.json'), agent);
  });

  it('the scripts parse, make certificates with consul tls and tokens with node identities', async () => {
    for (const f of [
      'deploy/consul/make-tls.sh',
      'deploy/consul/bootstrap-acl.sh',
      'deploy/kubernetes/make-secrets.sh',
    ]) {
      await promisify(execFile)('bash', ['-n', fileURLToPath(new URL(f, root))]);
    }
    const tls = await read('deploy/consul/make-tls.sh');
    for (const cmd of [
      'consul tls ca create',
      'consul tls cert create -server',
      'consul tls cert create -cli',
      'consul keygen',
    ])
      assert.ok(tls.includes(cmd), cmd);
    const acl = await read('deploy/consul/bootstrap-acl.sh');
    assert.match(acl, /-node-identity "\$node:\$dc"/);
    assert.match(acl, /-policy-name spearlet /);
    assert.match(acl, /-policy-name spear-agent /);
  });
});

describe('deploy/systemd', () => {
  const unitPath = fileURLToPath(new URL('deploy/systemd/spear-spearlet.service', root));

  it('the unit runs the spearlet in one process, sandboxed, and drains on SIGTERM', async () => {
    const unit = await read('deploy/systemd/spear-spearlet.service');
    const sections = new Set([...unit.matchAll(/^\[(\w+)\]$/gm)].map((m) => m[1]));
    assert.deepEqual([...sections].sort(), ['Install', 'Service', 'Unit']);
    const exec = /^ExecStart=(.+)$/m.exec(unit)?.[1] ?? '';
    const argv = exec.split(/\s+/);
    assert.ok(argv.includes('spearlet'), 'ExecStart runs the spearlet');
    assertKnownFlags(argv, 'systemd ExecStart');
    assert.match(unit, /^KillSignal=SIGTERM$/m);
    assert.match(unit, /^EnvironmentFile=\/etc\/spear-mesh\/spearlet.env$/m);
    for (const line of [
      'DynamicUser=yes',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'PrivateDevices=yes',
      'CapabilityBoundingSet=',
      'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK',
      'SystemCallFilter=@system-service',
    ]) {
      assert.ok(unit.split('\n').includes(line), line);
    }
  });

  it('the environment file sets required settings with documented names and holds no secret', async () => {
    const env = await read('deploy/systemd/spearlet.env');
    const names = [...env.matchAll(/^([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]!);
    for (const required of [
      'SPEARLET_ID',
      'SPEARLET_ISSUER',
      'SPEARLET_AUDIENCE',
      'CONSUL_HTTP_ADDR',
      'CONSUL_HTTP_TOKEN',
    ]) {
      assert.ok(names.includes(required), `spearlet.env lacks ${required}`);
    }
    assert.ok(!names.includes('SPEARLET_TOKEN_SECRET'), 'the secret comes through LoadCredential');
    assertKnownEnv(names, 'spearlet.env');
  });

  const analyze = promisify(execFile);
  const haveAnalyze = analyze('systemd-analyze', ['--version']).then(
    () => true,
    () => false,
  );

  it('systemd-analyze: the unit verifies and its exposure is 3.0 or less', async (t) => {
    if (!(await haveAnalyze)) {
      t.skip('systemd-analyze is not installed (Debian package systemd); the static checks above still ran');
      return;
    }
    // verify resolves ExecStart's binary: point it at this machine's node in a copy, everything else unchanged.
    const dir = await mkdtemp(join(tmpdir(), 'spear-unit-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const copy = join(dir, 'spear-spearlet.service');
    await writeFile(
      copy,
      (await read('deploy/systemd/spear-spearlet.service')).replace('/usr/bin/node', process.execPath),
    );
    const verify = await analyze('systemd-analyze', ['verify', '--man=no', copy]);
    assert.equal(verify.stderr.trim(), '', verify.stderr);
    const { stdout } = await analyze('systemd-analyze', ['security', '--offline=yes', '--no-pager', unitPath]);
    const level = /Overall exposure level for \S+: (\d+\.\d)/.exec(stdout);
    assert.ok(level, stdout.slice(-500));
    assert.ok(Number(level[1]) <= 3.0, `exposure ${level[1]} > 3.0`);
  });
});

describe('deploy/container and compose', () => {
  it('the image runs bin/spear-mesh.js as PID 1', async () => {
    const file = await read('deploy/container/Containerfile');
    assert.match(file, /^FROM node:20/m);
    const entry = /^ENTRYPOINT (\[.*\])$/m.exec(file)?.[1];
    assert.deepEqual(JSON.parse(entry ?? 'null'), ['node', '/opt/spear-mesh/bin/spear-mesh.js']);
  });

  it('compose validates against the Compose Specification schema', async () => {
    // The compose-spec JSON schema as the dclint package ships it (dclint's exports do not list it: resolve the file).
    const require = createRequire(import.meta.url);
    const schemaPath = join(dirname(require.resolve('dclint/package.json')), 'schemas', 'compose.schema.json');
    const schema = obj(JSON.parse(await readFile(schemaPath, 'utf8')));
    // The file names draft-07 by URL; Ajv's default meta-schema is draft-07 under another URL.
    delete schema.$schema;
    const ajv = new Ajv({ allErrors: true, strict: false });
    const validate = ajv.compile(schema);
    const compose = parseYaml(await read('deploy/docker-compose.yml'), { merge: true }) as unknown;
    assert.ok(validate(compose), ajv.errorsText(validate.errors));
    // and the schema does catch a mistake
    assert.equal(validate({ ...obj(compose), services: { x: { image: 1 } } }), false);
  });

  it('compose: 3 Consul servers, 3 spearlets with an admin token and no published admin port, a demo agent', async () => {
    const compose = obj(parseYaml(await read('deploy/docker-compose.yml'), { merge: true }));
    const services = obj(compose.services);
    const consul = Object.keys(services).filter((n) => n.startsWith('consul-server-'));
    const spearlets = Object.keys(services).filter((n) => n.startsWith('spearlet-'));
    assert.equal(consul.length, 3);
    assert.equal(spearlets.length, 3);
    assert.ok('demo-agent' in services);
    for (const name of spearlets) {
      const svc = obj(services[name]);
      const command = svc.command as string[];
      assert.equal(command[0], 'spearlet');
      assertKnownFlags(command, `compose ${name}`);
      assert.equal(command[command.indexOf('--admin-token-file') + 1], '/run/secrets/admin-token');
      assert.equal(svc.ports, undefined, `${name} publishes no port`);
      assert.equal(svc.read_only, true);
      assert.deepEqual(svc.cap_drop, ['ALL']);
    }
    for (const name of consul) {
      for (const p of (obj(services[name]).ports as string[] | undefined) ?? []) assert.match(p, /^127\.0\.0\.1:/);
    }
    const demo = JSON.stringify(obj(services['demo-agent']).command);
    assert.match(demo, /while :; do .*--count 2000/, 'the demo agent prints a summary per batch');
  });
});

describe('deploy/kubernetes', () => {
  const models: Record<string, Record<string, unknown>> = {
    v1: coreV1,
    'apps/v1': appsV1,
    'batch/v1': batchV1,
    'policy/v1': policyV1,
    'networking.k8s.io/v1': networkingV1,
    'rbac.authorization.k8s.io/v1': rbacV1,
  };
  let docs: Json[] = [];
  let kustomization: Json = {};
  before(async () => {
    kustomization = obj(parseYaml(await read('deploy/kubernetes/kustomization.yaml')));
    docs = [];
    for (const file of kustomization.resources as string[]) {
      for (const d of parseAllDocuments(await read(`deploy/kubernetes/${file}`))) {
        assert.equal(d.errors.length, 0, `${file}: ${String(d.errors[0])}`);
        docs.push(obj(d.toJSON()));
      }
    }
  });
  const find = (kind: string, name: string): Json => {
    const d = docs.find((x) => x.kind === kind && obj(x.metadata).name === name);
    assert.ok(d, `${kind}/${name}`);
    return d;
  };
  const podSpec = (name: string): Json => obj(at(find('StatefulSet', name), 'spec', 'template', 'spec'));

  it('every manifest validates against the Kubernetes OpenAPI schema (kubernetes-models)', () => {
    assert.ok(docs.length >= 15);
    for (const d of docs) {
      const Model = models[String(d.apiVersion)]?.[String(d.kind)] as
        (new (data: unknown) => { validate(): void }) | undefined;
      assert.ok(Model, `no model for ${String(d.apiVersion)} ${String(d.kind)}`);
      assert.doesNotThrow(
        () => {
          new Model(d).validate();
        },
        `${String(d.kind)}/${String(obj(d.metadata).name)}`,
      );
    }
    // The schema catches a wrong type (it does not reject unknown fields: that is the API server's strict mode).
    const bad = structuredClone(find('StatefulSet', 'spearlet'));
    obj(bad.spec).replicas = 'three';
    assert.throws(() => {
      new appsV1.StatefulSet(bad).validate();
    });
  });

  it('kustomize: a Namespace, a registry placeholder for the image, secrets that make-secrets.sh writes', async () => {
    assert.equal(kustomization.namespace, 'spear');
    assert.ok(docs.some((d) => d.kind === 'Namespace' && obj(d.metadata).name === 'spear'));
    const image = (kustomization.images as Json[]).find((i) => i.name === 'spear-mesh');
    assert.match(String(image?.newName), /^REGISTRY\.example\//);
    const script = await read('deploy/kubernetes/make-secrets.sh');
    for (const gen of kustomization.secretGenerator as Json[]) {
      for (const file of gen.files as string[]) {
        const base = file.replace(/^secrets\//, '');
        const perNode = /^(consul-server|spearlet)-\d\.json$/.test(base) && script.includes('> "$node.json"');
        assert.ok(script.includes(base) || perNode, `make-secrets.sh does not write ${file}`);
      }
    }
    assert.match(await read('deploy/kubernetes/.gitignore'), /^secrets\/$/m);
  });

  it('spearlets: hardened pods spread over zones, zone from the node label, admin token from a Secret, probes', () => {
    const spec = podSpec('spearlet');
    assert.deepEqual(obj(spec.securityContext).seccompProfile, { type: 'RuntimeDefault' });
    assert.equal(obj(spec.securityContext).runAsNonRoot, true);
    const all = [...(spec.initContainers as Json[]), ...(spec.containers as Json[])];
    for (const c of all) {
      const sc = obj(c.securityContext);
      assert.equal(sc.allowPrivilegeEscalation, false, String(c.name));
      assert.equal(sc.readOnlyRootFilesystem, true, String(c.name));
      assert.deepEqual(at(sc, 'capabilities', 'drop'), ['ALL'], String(c.name));
      assert.ok(obj(at(c, 'resources', 'requests')).cpu && obj(at(c, 'resources', 'limits')).memory, String(c.name));
    }
    const spread = (spec.topologySpreadConstraints as Json[]).map((x) => x.topologyKey);
    assert.ok(spread.includes('topology.kubernetes.io/zone'));
    const spearlet = (spec.containers as Json[]).find((c) => c.name === 'spearlet')!;
    assert.match(
      (spearlet.args as string[])[0] ?? '',
      /^SPEARLET_ZONE="\$\(cat \/var\/run\/spear-zone\/zone\)" exec node /,
    );
    const zone = (spec.initContainers as Json[]).find((c) => c.name === 'zone')!;
    assert.match(JSON.stringify(zone.command), /zone-from-node\.mjs/);
    const env = spearlet.env as Json[];
    assertKnownEnv(
      env.map((e) => String(e.name)),
      'kubernetes spearlet',
    );
    assert.equal(env.find((e) => e.name === 'SPEARLET_ADMIN_TOKEN_FILE')?.value, '/etc/spear-mesh/admin-token');
    assert.equal(at(spearlet, 'readinessProbe', 'httpGet', 'path'), '/ready');
    assert.equal(at(spearlet, 'livenessProbe', 'httpGet', 'path'), '/health');
    assert.equal(spec.automountServiceAccountToken, false);
    const sidecar = (spec.initContainers as Json[]).find((c) => c.name === 'consul-agent')!;
    assert.equal(sidecar.restartPolicy, 'Always');
    assert.ok(docs.some((d) => d.kind === 'PodDisruptionBudget' && obj(d.metadata).name === 'spearlet'));
    const rules = find('ClusterRole', 'spear-mesh-node-reader').rules as Json[];
    assert.deepEqual(rules, [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }]);
  });

  it('the zone script and the embedded Consul configs parse', async () => {
    const support = obj(find('ConfigMap', 'spearlet-support').data);
    const dir = await mkdtemp(join(tmpdir(), 'spear-zone-'));
    try {
      await writeFile(join(dir, 'zone-from-node.mjs'), String(support['zone-from-node.mjs']));
      await promisify(execFile)(process.execPath, ['--check', join(dir, 'zone-from-node.mjs')]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const client = obj(JSON.parse(String(support['consul-client.json'])));
    assert.equal(at(client, 'auto_encrypt', 'tls'), true);
    const server = obj(JSON.parse(String(obj(find('ConfigMap', 'consul-server-config').data)['server.json'])));
    assert.equal(at(server, 'tls', 'defaults', 'verify_incoming'), true);
    assert.equal(at(server, 'tls', 'internal_rpc', 'verify_server_hostname'), true);
    assert.equal(at(server, 'acl', 'default_policy'), 'deny');
  });

  it('the admin port is in no Service; only the operator namespace reaches it', () => {
    for (const svc of docs.filter((d) => d.kind === 'Service')) {
      for (const p of at(svc, 'spec', 'ports') as Json[]) assert.notEqual(p.port, 7071);
    }
    const np = find('NetworkPolicy', 'spearlet');
    const ingress = at(np, 'spec', 'ingress') as Json[];
    const admin = ingress.filter((r) => (r.ports as Json[]).some((p) => p.port === 7071));
    assert.equal(admin.length, 1);
    assert.deepEqual(admin[0]!.from, [
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'spear-operators' } } },
    ]);
    const mesh = ingress.find((r) => (r.ports as Json[]).some((p) => p.port === 7070));
    assert.equal(mesh?.from, undefined, 'agents anywhere reach 7070');
  });
});
