// The task runtime of a real spearlet process: commands outside --task-command-allow are refused, and a task's
// environment holds the allowlist, its spec and the SPEAR variables, never the spearlet's secrets or Consul token.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile } from 'node:fs/promises';
import { parseTaskUser } from '../../src/spearlet/runtime/task-policy.ts';
import { join } from 'node:path';
import { spawnSpearlet, type SpearletChild } from '../helpers/spearlet.ts';
import { bearer, json, makeSecrets, raw, type Secrets } from './harness.ts';

describe('task runtime: command allowlist and a clean environment', () => {
  let secrets: Secrets;
  let s: SpearletChild;
  const consulToken = 'consul-acl-token-that-tasks-must-not-see';
  before(async () => {
    secrets = await makeSecrets();
    s = await spawnSpearlet({
      id: 'sec-tasks',
      secretFile: secrets.secretFile,
      args: [
        '--no-consul',
        '--enable-tasks',
        '--admin-token-file',
        secrets.adminTokenFile,
        '--task-command-allow',
        '/bin/sh,/usr/bin/env',
        '--task-env-allow',
        'SEC_TEST_*',
      ],
      env: {
        CONSUL_HTTP_TOKEN: consulToken,
        SPEARLET_SOMETHING: 'spearlet-private',
        SPEAR_ADMIN_TOKEN: secrets.adminToken,
        SEC_TEST_VISIBLE: 'yes',
        NOT_ALLOWLISTED: 'hidden',
      },
    });
  });
  after(async () => {
    await s.stop();
    await secrets.cleanup();
  });

  const start = (body: unknown) =>
    raw(s.admin, {
      method: 'POST',
      path: '/v1/tasks',
      headers: { ...json, ...bearer(secrets.adminToken) },
      body: JSON.stringify(body),
    });

  it('refuses commands the allowlist does not match with TASK_COMMAND_NOT_ALLOWED (403)', async () => {
    for (const command of ['sh', '/usr/bin/id', '/bin/../usr/bin/id', '/bin/shx']) {
      const res = await start({ command, args: ['-c', 'id'] });
      assert.deepEqual([res.status, res.code], [403, 'TASK_COMMAND_NOT_ALLOWED'], command);
    }
    const list = await raw(s.admin, { path: '/v1/tasks', headers: bearer(secrets.adminToken) });
    assert.deepEqual((JSON.parse(list.body) as { tasks: unknown[] }).tasks, [], 'nothing started');
  });

  it('refuses a spec env that sets SPEARLET_* or CONSUL_* variables', async () => {
    const res = await start({ command: '/bin/sh', args: ['-c', 'true'], env: { CONSUL_HTTP_TOKEN: 'x' } });
    assert.deepEqual([res.status, res.code], [400, 'INVALID_PAYLOAD']);
  });

  it("a task sees the allowlist, its spec's env and the SPEAR variables, nothing else", async () => {
    const out = join(secrets.dir, 'env.txt');
    const res = await start({
      id: 'env-dump',
      command: '/bin/sh',
      args: ['-c', `/usr/bin/env > ${out}.tmp && mv ${out}.tmp ${out}`],
      env: { FROM_SPEC: 'spec-value' },
    });
    assert.equal(res.status, 201, res.body);
    // Wait for the task to exit (GET until exited), bounded.
    const until = Date.now() + 20_000;
    for (;;) {
      const info = await raw(s.admin, { path: '/v1/tasks/env-dump', headers: bearer(secrets.adminToken) });
      if ((JSON.parse(info.body) as { state: string }).state === 'exited') break;
      assert.ok(Date.now() < until, 'the task did not exit');
      await new Promise((r) => setTimeout(r, 50));
    }
    const text = await readFile(out, 'utf8');
    const env = new Map(
      text
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
    );
    for (const name of ['PATH', 'SERVICE_ADDR', 'SECRET', 'SPEAR_SPEARLET_ID', 'SPEAR_TASK_ID', 'SPEAR_TOKEN'])
      assert.ok(env.has(name), `${name} is there`);
    assert.equal(env.get('FROM_SPEC'), 'spec-value');
    assert.equal(env.get('SEC_TEST_VISIBLE'), 'yes', '--task-env-allow SEC_TEST_*');
    assert.equal(env.get('SPEAR_TASK_ID'), 'env-dump');
    for (const name of env.keys()) {
      assert.doesNotMatch(name, /^(SPEARLET_|CONSUL_)/, name);
      assert.notEqual(name, 'SPEAR_ADMIN_TOKEN');
      assert.notEqual(name, 'NOT_ALLOWLISTED');
    }
    for (const secret of [consulToken, secrets.adminToken, secrets.adminTokenFile, secrets.secretFile]) {
      assert.ok(!text.includes(secret), 'no secret or secret path reaches the task');
    }
  });
});

describe('task runtime: --task-user', () => {
  it('a root spearlet runs tasks as the given user', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    const secrets = await makeSecrets();
    const s = await spawnSpearlet({
      id: 'sec-task-user',
      secretFile: secrets.secretFile,
      args: ['--no-consul', '--enable-tasks', '--admin-token-file', secrets.adminTokenFile, '--task-user', 'nobody'],
    });
    try {
      const out = join(secrets.dir, 'id.txt');
      await chmod(secrets.dir, 0o777);
      const res = await raw(s.admin, {
        method: 'POST',
        path: '/v1/tasks',
        headers: { ...json, ...bearer(secrets.adminToken) },
        body: JSON.stringify({
          id: 'whoami',
          command: '/bin/sh',
          args: ['-c', `echo "$(id -u):$(id -g):$(id -G)" > ${out}.tmp && mv ${out}.tmp ${out}`],
        }),
      });
      assert.equal(res.status, 201, res.body);
      const until = Date.now() + 20_000;
      for (;;) {
        const info = await raw(s.admin, { path: '/v1/tasks/whoami', headers: bearer(secrets.adminToken) });
        if ((JSON.parse(info.body) as { state: string }).state === 'exited') break;
        assert.ok(Date.now() < until, 'the task did not exit');
        await new Promise((r) => setTimeout(r, 50));
      }
      const [uid, gid, groups] = (await readFile(out, 'utf8')).trim().split(':');
      assert.equal(uid, '65534');
      assert.equal(gid, '65534');
      assert.equal(groups, '65534', 'no supplementary groups of root remain');
    } finally {
      await s.stop();
      await secrets.cleanup();
    }
  });

  it('a spearlet that is not root refuses --task-user at start-up', () => {
    assert.throws(() => parseTaskUser('nobody', '--task-user', false), /--task-user: only a spearlet running as root/);
    assert.throws(() => parseTaskUser('no-such-user-xyz', '--task-user', true), /no user 'no-such-user-xyz'/);
  });
});
