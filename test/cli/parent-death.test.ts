// A supervisor's spearlet children never outlive it, however it dies: `up` and `drill` SIGKILLed with their local
// mesh running, each child sees its stdin pipe close, drains and exits.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { startCli } from './run-cli.ts';

/**
 * Pids of the live `spear-mesh spearlet` children of `ppid` (pgrep exits 1 when there are none). Other children (the
 * esbuild service tsx starts when the supervisor runs from source) are not the supervisor's spearlets.
 */
async function childrenOf(ppid: number): Promise<number[]> {
  let pids: number[];
  try {
    const { stdout } = await promisify(execFile)('pgrep', ['-P', String(ppid)]);
    pids = stdout.split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
  const spearlets: number[] = [];
  for (const pid of pids) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').includes('spearlet')) spearlets.push(pid);
  }
  return spearlets;
}

/** True while `pid` runs; a zombie (exited, not yet reaped by its new parent) counts as gone. */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Polls until `check` holds or `timeoutMs` runs out; returns whether it held. */
async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

describe('children of a SIGKILLed supervisor', () => {
  it('up: its three spearlets exit once up is killed with SIGKILL', async (t) => {
    const up = startCli(['up', '--registry-port', '0', '--rate', '0', '--interval-ms', '250']);
    let children: number[] = [];
    t.after(async () => {
      if (up.child.exitCode === null && up.child.signalCode === null) up.child.kill('SIGKILL');
      await up.exited;
      killAll(children);
    });
    await up.waitForLine(/^local mesh ready: 3 spearlets/);
    children = await childrenOf(up.child.pid!);
    assert.equal(children.length, 3, 'up runs three spearlet processes');
    up.child.kill('SIGKILL');
    await up.exited;
    const gone = await until(async () => (await Promise.all(children.map(alive))).every((a) => !a), 20_000);
    assert.ok(gone, `spearlets still running 20 s after up died: ${children.join(', ')}`);
  });

  it('drill: its local mesh exits once the drill is killed with SIGKILL', async (t) => {
    const drill = startCli(['drill', '--fault', 'kill', '--duration', '60s', '--rate', '20']);
    let children: number[] = [];
    t.after(async () => {
      if (drill.child.exitCode === null && drill.child.signalCode === null) drill.child.kill('SIGKILL');
      await drill.exited;
      killAll(children);
    });
    const started = await until(async () => {
      children = await childrenOf(drill.child.pid!);
      return children.length === 3;
    }, 30_000);
    assert.ok(started, 'the drill started three spearlet processes');
    drill.child.kill('SIGKILL');
    await drill.exited;
    const gone = await until(async () => (await Promise.all(children.map(alive))).every((a) => !a), 20_000);
    assert.ok(gone, `spearlets still running 20 s after the drill died: ${children.join(', ')}`);
  });
});
