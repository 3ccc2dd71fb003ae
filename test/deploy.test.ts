// deploy/ is shipped configuration: every file parses, carries its required fields, and uses only
// spearlet flags and SPEARLET_* variables that `spear-mesh spearlet --help` documents.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

const root = new URL('../', import.meta.url);
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

function assertKnownFlags(args: readonly string[], where: string): void {
  for (const arg of args) {
    if (!arg.startsWith('--')) continue;
    const flag = arg.split('=')[0]!;
    assert.ok(spearletHelp.includes(flag), `${where} uses ${flag}, which 'spearlet --help' does not document`);
  }
}

/** SPEARLET_<NAME> is the documented variable of the flag --<name> (help: "each also as SPEARLET_<NAME>"). */
function assertKnownEnv(names: readonly string[], where: string): void {
  assert.match(spearletHelp, /each also as an environment variable SPEARLET_<NAME>/);
  for (const name of names) {
    if (!name.startsWith('SPEARLET_')) continue;
    const flag = `--${name.slice('SPEARLET_'.length).toLowerCase().replace(/_/g, '-')}`;
    assert.ok(
      spearletHelp.includes(name) || new RegExp(`^\\s+${flag}\\b`, 'm').test(spearletHelp),
      `${where} sets ${name}, but 'spearlet --help' documents neither it nor ${flag}`,
    );
  }
}

describe('deploy/consul', () => {
  it('three servers form one cluster with ACLs on, default deny', async () => {
    const names = new Set<string>();
    for (const i of [1, 2, 3]) {
      const cfg = obj(JSON.parse(await read(`deploy/consul/server-${i}.json`)));
      assert.equal(cfg.server, true);
      assert.equal(cfg.bootstrap_expect, 3);
      assert.equal(cfg.datacenter, 'dc1');
      assert.deepEqual(cfg.retry_join, ['consul-server-1', 'consul-server-2', 'consul-server-3']);
      const acl = obj(cfg.acl);
      assert.equal(acl.enabled, true);
      assert.equal(acl.default_policy, 'deny');
      names.add(String(cfg.node_name));
    }
    assert.equal(names.size, 3);
  });

  it('the client agent joins the servers', async () => {
    const cfg = obj(JSON.parse(await read('deploy/consul/client.json')));
    assert.equal(cfg.server, false);
    assert.ok(Array.isArray(cfg.retry_join) && cfg.retry_join.length === 3);
  });

  it('the spearlet policy writes only its services and reads the rest', async () => {
    const hcl = await read('deploy/consul/spearlet-policy.hcl');
    const rules = [...hcl.matchAll(/^(\w+)\s+"([^"]*)"\s*\{\s*policy\s*=\s*"(\w+)"\s*\}/gm)].map((m) => [m[1], m[2], m[3]]);
    assert.deepEqual(
      rules.filter((r) => r[2] === 'write'),
      [
        ['service', 'spearlet', 'write'],
        ['service', 'spear-task', 'write'],
      ],
    );
    assert.ok(rules.some((r) => r[0] === 'service_prefix' && r[1] === '' && r[2] === 'read'));
    assert.ok(rules.some((r) => r[0] === 'node_prefix' && r[2] === 'read'));
  });
});

describe('deploy/systemd', () => {
  it('the unit runs the spearlet in one process and drains on SIGTERM', async () => {
    const unit = await read('deploy/systemd/spear-spearlet.service');
    const sections = new Set([...unit.matchAll(/^\[(\w+)\]$/gm)].map((m) => m[1]));
    assert.deepEqual([...sections].sort(), ['Install', 'Service', 'Unit']);
    const exec = /^ExecStart=(.+)$/m.exec(unit)?.[1] ?? '';
    const argv = exec.split(/\s+/);
    assert.ok(argv.includes('spearlet'), 'ExecStart runs the spearlet');
    assertKnownFlags(argv, 'systemd ExecStart');
    assert.match(unit, /^KillSignal=SIGTERM$/m);
    assert.match(unit, /^EnvironmentFile=\/etc\/spear-mesh\/spearlet.env$/m);
  });

  it('the environment file sets required settings with documented names', async () => {
    const env = await read('deploy/systemd/spearlet.env');
    const names = [...env.matchAll(/^([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]!);
    for (const required of ['SPEARLET_ID', 'SPEARLET_ISSUER', 'SPEARLET_AUDIENCE', 'CONSUL_HTTP_ADDR', 'CONSUL_HTTP_TOKEN']) {
      assert.ok(names.includes(required), `spearlet.env lacks ${required}`);
    }
    assertKnownEnv(names, 'spearlet.env');
  });
});

describe('deploy/container and compose', () => {
  it('the image runs bin/spear-mesh.js as PID 1', async () => {
    const file = await read('deploy/container/Containerfile');
    assert.match(file, /^FROM node:20/m);
    const entry = /^ENTRYPOINT (\[.*\])$/m.exec(file)?.[1];
    assert.deepEqual(JSON.parse(entry ?? 'null'), ['node', '/opt/spear-mesh/bin/spear-mesh.js']);
  });

  it('compose has 3 Consul servers, 3 spearlets and the demo agent', async () => {
    const compose = obj(parseYaml(await read('deploy/docker-compose.yml'), { merge: true }));
    const services = obj(compose.services);
    const consul = Object.keys(services).filter((n) => n.startsWith('consul-server-'));
    const spearlets = Object.keys(services).filter((n) => n.startsWith('spearlet-'));
    assert.equal(consul.length, 3);
    assert.equal(spearlets.length, 3);
    assert.ok('demo-agent' in services);
    for (const name of spearlets) {
      const command = obj(services[name]).command as string[];
      assert.equal(command[0], 'spearlet');
      assertKnownFlags(command, `compose ${name}`);
    }
  });
});

describe('deploy/kubernetes', () => {
  it('spearlets register in Consul, are ready on /ready and drain before stop', async () => {
    const docs = parseAllDocuments(await read('deploy/kubernetes/spearlet.yaml')).map((d) => obj(d.toJSON()));
    const sts = docs.find((d) => d.kind === 'StatefulSet');
    assert.ok(sts, 'a StatefulSet');
    const pod = obj(obj(obj(sts.spec).template).spec);
    const container = obj((pod.containers as unknown[])[0]);
    assert.deepEqual(container.args, ['spearlet']);
    const ready = obj(obj(container.readinessProbe).httpGet);
    assert.equal(ready.path, '/ready');
    const preStop = JSON.stringify(obj(container.lifecycle).preStop);
    assert.match(preStop, /\/v1\/drain/);
    const env = (container.env as Json[]).map((e) => String(e.name));
    assert.ok(env.includes('CONSUL_HTTP_ADDR'));
    assertKnownEnv(env, 'kubernetes spearlet');
  });

  it('every manifest has apiVersion, kind and metadata.name', async () => {
    for (const file of ['deploy/kubernetes/spearlet.yaml', 'deploy/kubernetes/secrets.example.yaml']) {
      for (const doc of parseAllDocuments(await read(file))) {
        const m = obj(doc.toJSON());
        assert.equal(typeof m.apiVersion, 'string', file);
        assert.equal(typeof m.kind, 'string', file);
        assert.equal(typeof obj(m.metadata).name, 'string', file);
      }
    }
  });
});
