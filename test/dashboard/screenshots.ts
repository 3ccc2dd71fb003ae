// `npm run screenshots`: starts the dashboard fixture mesh (three spearlet processes, an agent with client metrics,
// a task, KV keys), runs a freeze drill from the CLI against it, and saves PNGs of the main views into docs/.
// Needs Debian's chromium (apt-get install chromium) or SPEAR_CHROMIUM pointing at a Chromium binary.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumAvailable, CHROMIUM, openBrowser } from './browser.ts';
import { startDashboardFixture } from './fixture.ts';

const BIN = fileURLToPath(new URL('../../bin/spear-mesh.js', import.meta.url));
const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));
/** Seconds of traffic before the first screenshot, so the sparklines have a history to draw. */
const WARMUP_SEC = Number(process.env.SCREENSHOT_WARMUP_SEC ?? 40);

if (!chromiumAvailable()) {
  process.stderr.write(`screenshots: ${CHROMIUM} not found (apt-get install chromium, or set SPEAR_CHROMIUM)\n`);
  process.exit(1);
}

const fx = await startDashboardFixture({ ratePerSec: 40 });
const browser = await openBrowser({ width: 1280, height: 800 });
try {
  const { page } = browser;
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
      '6s',
      '--fault-for',
      '1s',
      '--rate',
      '100',
      '--report',
      join(fx.drillDir, 'freeze-s3.json'),
    ],
    { stdio: 'ignore' },
  );
  await new Promise((resolve) => drill.once('exit', resolve));
  const until = Date.now() + WARMUP_SEC * 1000;
  await page.goto(fx.dashboard.url);
  await page.waitForFunction(`document.querySelectorAll('[data-spearlet][data-status="up"]').length === 3`, null, {
    timeout: Math.max(60_000, until - Date.now() + 30_000),
  });
  while (Date.now() < until) await page.waitForTimeout(1000);

  const shot = async (name: string): Promise<void> => {
    await page.screenshot({ path: join(DOCS, `dashboard-${name}.png`), fullPage: true });
    process.stdout.write(`wrote docs/dashboard-${name}.png\n`);
  };
  await shot('mesh');
  await page.goto(`${fx.dashboard.url}#tasks`);
  await page.locator('#tasks-body table').first().waitFor();
  await shot('tasks');
  await page.goto(`${fx.dashboard.url}#consul`);
  await page.getByRole('button', { name: 'spear/' }).click();
  await page.getByRole('button', { name: 'config/' }).click();
  await page.getByRole('button', { name: 'zones' }).click();
  await page.locator('#kv-value pre').waitFor();
  await shot('consul');
  await page.goto(`${fx.dashboard.url}#drills`);
  await page.getByRole('button', { name: 'freeze-s3' }).click();
  await page.locator('#drill-detail img.chart').waitFor();
  await page.waitForFunction(`document.querySelector('#drill-detail img.chart').complete`);
  await shot('drills');
  await page.goto(`${fx.dashboard.url}#agents`);
  await page.locator('[data-agent]').first().waitFor();
  await shot('agents');
  await page.goto(`${fx.dashboard.url}#mesh`);
  await fx.spearlets.get('s2')?.kill('SIGKILL');
  await page.locator('[data-spearlet="s2"][data-status="down"]').waitFor({ timeout: 15_000 });
  await shot('spearlet-down');
} finally {
  await browser.close();
  await fx.close();
}
