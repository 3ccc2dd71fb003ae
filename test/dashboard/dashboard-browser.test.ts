// The dashboard in a real browser (Debian's chromium via playwright-core) against a local mesh of three spearlet
// processes: it lists them, shows one SIGKILLed spearlet as down with its reason within 2 s, shows a drill run
// from the CLI, and axe-core finds no serious or critical accessibility violations on any view.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { axeViolations, chromiumAvailable, CHROMIUM, openBrowser } from './browser.ts';
import { startDashboardFixture } from './fixture.ts';
import { repoPath } from '../../scripts/repo-root.ts';

const BIN = repoPath('bin/spear-mesh.js');
const VIEWS = ['mesh', 'tasks', 'consul', 'drills', 'agents'] as const;

describe(
  'dashboard in chromium',
  { skip: chromiumAvailable() ? false : `${CHROMIUM} missing (.ci/run installs it)` },
  () => {
    it(
      'shows three spearlets, a killed one down within 2 s, a CLI drill, and passes axe',
      { timeout: 240_000 },
      async (t) => {
        const fx = await startDashboardFixture();
        t.after(() => fx.close());
        const browser = await openBrowser();
        t.after(() => browser.close());
        const { page } = browser;
        const consoleErrors: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error') consoleErrors.push(m.text());
        });

        await page.goto(fx.dashboard.url);
        await page.waitForFunction(
          `document.querySelectorAll('[data-spearlet][data-status="up"]').length === 3`,
          null,
          {
            timeout: 60_000,
          },
        );
        assert.deepEqual((await page.locator('[data-spearlet] h4 > span:first-child').allTextContents()).sort(), [
          's1',
          's2',
          's3',
        ]);
        assert.equal(
          await page
            .locator('.zone h3')
            .allTextContents()
            .then((z) => z.join(',')),
          'zone zone-a,zone zone-b',
        );
        // Live: the page gets new snapshots (about one a second) without reloading.
        const first = await page.locator('body').getAttribute('data-updated');
        await page.waitForFunction(`document.body.dataset.updated !== ${JSON.stringify(first)}`, null, {
          timeout: 10_000,
        });

        // A drill run from the CLI against this mesh writes its report where the dashboard reads them.
        const token = await fx.mint('driller');
        const drill = spawn(
          process.execPath,
          [
            BIN,
            'drill',
            '--consul',
            fx.registry.url,
            '--token',
            token,
            '--fault',
            'freeze',
            '--target',
            's3',
            '--duration',
            '3s',
            '--fault-for',
            '500ms',
            '--rate',
            '50',
            '--report',
            join(fx.drillDir, 'freeze-s3.json'),
          ],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
        let drillErr = '';
        drill.stderr.on('data', (c: Buffer) => (drillErr += c.toString()));
        t.after(() => {
          if (drill.exitCode === null) drill.kill('SIGKILL');
        });
        const drillExit = await new Promise<number | null>((resolve) => drill.once('exit', resolve));
        assert.ok(drillExit === 0 || drillExit === 1, `drill exited ${drillExit}: ${drillErr}`);
        await page.goto(`${fx.dashboard.url}#drills`);
        await page.getByRole('button', { name: 'freeze-s3' }).click({ timeout: 15_000 });
        await page.locator('#drill-detail img.chart').waitFor({ timeout: 10_000 });
        assert.match(await page.locator('#drill-detail h3').innerText(), /freeze on s3/);

        // Every view: no serious or critical accessibility violation.
        for (const view of VIEWS) {
          await page.goto(`${fx.dashboard.url}#${view}`);
          await page.locator(`#view-${view}`).waitFor({ state: 'visible' });
          await page.waitForFunction('document.body.dataset.updated !== undefined', null, { timeout: 10_000 });
          const bad = (await axeViolations(page)).filter((v) => v.impact === 'serious' || v.impact === 'critical');
          assert.deepEqual(bad, [], `axe on #${view}: ${JSON.stringify(bad, null, 1)}`);
        }

        // Back on the mesh: wait until the frozen spearlet is up again, then SIGKILL s2.
        await page.goto(`${fx.dashboard.url}#mesh`);
        await page.waitForFunction(
          `document.querySelectorAll('[data-spearlet][data-status="up"]').length === 3`,
          null,
          {
            timeout: 30_000,
          },
        );
        const victim = fx.spearlets.get('s2');
        assert.ok(victim !== undefined);
        await victim.kill('SIGKILL');
        const killedAt = Date.now();
        await page.locator('[data-spearlet="s2"][data-status="down"]').waitFor({ timeout: 15_000 });
        const elapsed = Date.now() - killedAt;
        t.diagnostic(`s2 marked down ${elapsed} ms after the SIGKILL`);
        const text = await page.locator('[data-spearlet="s2"]').innerText();
        assert.match(text, /DOWN/);
        assert.match(text, /admin API unreachable \((ECONNREFUSED|ECONNRESET)\)/);
        assert.ok(elapsed <= 2000, `marked down ${elapsed} ms after the SIGKILL (want <= 2000)`);
        assert.equal(await page.locator('[data-spearlet][data-status="up"]').count(), 2);
        assert.deepEqual(consoleErrors, []);
      },
    );
  },
);
