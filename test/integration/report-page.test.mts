// The delivery report page in a real browser: `report --json --html` over crafted ledgers (and a
// real git repo for lead time), the page loaded from its file by headless chromium at phone width.
// The DOM must name every product with the metrics --json gave, nothing may be fetched from
// anywhere, no console error; a screenshot is kept and its path printed for CI to pick up.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium, launchBrowser, type Browser } from '../rig/browser.mts';
import { runBerth } from '../rig/cli.mts';

const chromium = findChromium();
const HOUR = 3600_000;
// Whole seconds: git keeps commit times to the second.
const now = Math.floor(Date.now() / 1000) * 1000;
const ago = (hours: number) => new Date(now - hours * HOUR).toISOString();

/** Where CI keeps files after the job: BERTH_ARTIFACTS_DIR, else the temp dir. */
const artifacts = process.env.BERTH_ARTIFACTS_DIR ?? join(tmpdir(), 'berth-artifacts');

interface PageFacts {
  products: { product: string; metrics: Record<string, string>; values: string[]; marks: number; targets: number; images: number }[];
  total: Record<string, string>;
  scrollWidth: number;
  innerWidth: number;
  title: string;
  body: string;
}

describe('the delivery report page in headless chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-report-page-'));
  const html = join(dir, 'report.html');
  let browser: Browser | undefined;
  const shas: string[] = [];

  beforeAll(() => {
    const repo = join(dir, 'alpha-repo');
    mkdirSync(repo);
    const git = (args: string[], date?: string) =>
      execFileSync('git', ['-C', repo, ...args], {
        encoding: 'utf8',
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@x',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@x',
          ...(date ? { GIT_COMMITTER_DATE: date, GIT_AUTHOR_DATE: date } : {}),
        },
      }).trim();
    git(['init', '-q']);
    writeFileSync(join(repo, 'compose.yaml'), 'services: {}\n');
    git(['add', '.']);
    // Each commit 20 minutes before its release goes live (below).
    for (const [i, hours] of [200, 100, 50].entries()) {
      writeFileSync(join(repo, 'n'), String(i));
      git(['add', '.']);
      git(['commit', '-q', '-m', `c${i}`], ago(hours + 1 / 3));
      shas.push(git(['rev-parse', 'HEAD']));
    }
    const products = join(dir, 'products');
    mkdirSync(products);
    writeFileSync(
      join(products, 'alpha.mts'),
      `export default { name: 'alpha', repo: 'alpha-repo', composeFiles: ['compose.yaml'], services: { web: { kind: 'http', maxImageMb: 500 } } };\n`,
    );
    // beta's repo is not on this machine: its ledger still counts, without lead time.
    writeFileSync(
      join(products, 'beta.mts'),
      `export default { name: 'beta', repo: 'beta-repo', composeFiles: ['compose.yaml'], services: { api: { kind: 'worker' } } };\n`,
    );
    const rec = (product: string, tag: string, hours: number, fields: object = {}) =>
      JSON.stringify({
        time: ago(hours),
        who: 'ops',
        host: 'vm',
        product,
        tag,
        kind: 'deploy',
        result: 'ok',
        services: { web: { image: `r/${product}:${tag}`, id: `sha256:${tag}`, digest: `r/${product}@sha256:${tag}` } },
        changed: ['web'],
        durationsMs: { preflight: 800, pull: 5000, up: 3000, health: 2000, switch: 300, record: 40 },
        ...fields,
      });
    const size = (product: string, tag: string, bytes: number) => ({
      services: { web: { image: `r/${product}:${tag}`, id: `sha256:${tag}`, digest: `r/${product}@sha256:${tag}`, sizeBytes: bytes } },
    });
    const [c0, c1, c2] = shas as [string, string, string];
    const alpha = [
      rec('alpha', c0, 200, size('alpha', c0, 420e6)),
      rec('alpha', c1, 100, size('alpha', c1, 480e6)),
      rec('alpha', c2, 50, size('alpha', c2, 530e6)),
      // Undone by the deploy itself: the record holds the images it restored.
      rec('alpha', 'hotfix-1', 40, { ...size('alpha', c2, 530e6), result: 'rolled-back', error: 'smoke: GET / answered 500' }),
      rec('alpha', c2, 39.99, { ...size('alpha', c2, 530e6), kind: 'auto-rollback' }),
    ];
    const beta = [
      rec('beta', 'v1', 800),
      rec('beta', 'v2', 30),
      rec('beta', 'v3', 20, { result: 'failed', error: 'health: timed out' }),
      rec('beta', 'v1', 10, { kind: 'rollback', durationsMs: { total: 4000 } }),
      '{"time":"2026-', // a write cut short
    ];
    for (const [name, lines] of [
      ['alpha', alpha],
      ['beta', beta],
    ] as const) {
      mkdirSync(join(dir, 'state', name), { recursive: true });
      writeFileSync(join(dir, 'state', name, 'releases.jsonl'), `${lines.join('\n')}\n`);
    }
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const env = () => ({
    BERTH_PRODUCTS_DIR: join(dir, 'products'),
    BERTH_STATE_DIR: join(dir, 'state'),
    BERTH_WORKSPACE: dir,
    BERTH_REGISTRY: '127.0.0.1:5999',
    BERTH_DEPLOY_LOG: 'off',
    BERTH_ENV_FILE: join(dir, 'none.env'),
  });

  it('renders the page, loads it offline at phone width, and the DOM says what --json says', async () => {
    expect(chromium, "Debian's chromium is needed (apt-get install -y chromium; .ci/run installs it)").toBeDefined();
    const result = await runBerth(['--since', '30d', '--json', '--html', html], { script: 'report', env: env() });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toContain(`${join(dir, 'state', 'beta', 'releases.jsonl')}:5: skipped (not JSON (truncated or edited by hand))`);
    const report = JSON.parse(result.stdout);
    // Known answers: alpha 4 deploys, one rolled back (restored 36 s later by the undo), lead time 20 min.
    expect(report.products[0].metrics).toMatchObject({
      deploys: 4,
      changeFailures: 1,
      changeFailureRate: 0.25,
      restoreP50Ms: 36_000,
      leadTimeP50Ms: 20 * 60_000,
    });
    expect(report.products[0].rollbackTargets.map((t: { tag: string }) => t.tag)).toEqual([shas[1], shas[0]]);
    expect(report.products[0].images[0]).toMatchObject({ service: 'web', budgetMb: 500, over: true });
    // beta: v1 is older than the window; v2 rolled back by hand 20 h later, v3 failed: 2 of 2.
    expect(report.products[1].metrics).toMatchObject({
      deploys: 2,
      changeFailures: 2,
      changeFailureRate: 1,
      restoreP50Ms: 20 * HOUR,
      leadTimeP50Ms: null,
    });

    browser = await launchBrowser(chromium as string);
    const { page } = browser;
    await page.send('Runtime.enable');
    await page.send('Log.enable');
    await page.send('Network.enable');
    await page.send('Page.enable');
    await page.send('Emulation.setDeviceMetricsOverride', { width: 390, height: 844, deviceScaleFactor: 2, mobile: true });
    const loaded = page.next('Page.loadEventFired');
    await page.send('Page.navigate', { url: `file://${html}` });
    await loaded;

    const probe = `JSON.stringify({
      products: [...document.querySelectorAll('section.product')].map((s) => ({
        product: s.dataset.product,
        metrics: Object.fromEntries([...s.querySelectorAll('.metric')].map((m) => [m.dataset.metric, m.dataset.value])),
        values: [...s.querySelectorAll('.metric .value')].map((v) => v.textContent),
        marks: s.querySelectorAll('svg .mark').length,
        targets: s.querySelectorAll('.targets li').length,
        images: s.querySelectorAll('figure.image svg circle').length,
      })),
      total: Object.fromEntries([...document.querySelectorAll('#total .metric')].map((m) => [m.dataset.metric, m.dataset.value])),
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      title: document.title,
      body: document.body.innerText,
    })`;
    const evaluated = await page.send<{ result: { value: string } }>('Runtime.evaluate', { expression: probe, returnByValue: true });
    const facts = JSON.parse(evaluated.result.value) as PageFacts;

    const asValue = (n: number | null) => (n === null ? '' : String(n));
    const key = (m: Record<string, number | null>) => ({
      deploysPerDay: asValue(m.deploysPerDay ?? null),
      changeFailureRate: asValue(m.changeFailureRate ?? null),
      restoreP50Ms: asValue(m.restoreP50Ms ?? null),
      leadTimeP50Ms: asValue(m.leadTimeP50Ms ?? null),
      deploys: asValue(m.deploys ?? null),
    });
    expect(facts.title).toBe('berth delivery report');
    expect(facts.products.map((p) => p.product)).toEqual(report.products.map((p: { product: string }) => p.product));
    for (const [i, product] of report.products.entries()) {
      const shown = facts.products[i] as PageFacts['products'][number];
      expect(shown.metrics).toMatchObject(key(product.metrics));
      expect(shown.marks).toBe(product.timeline.length);
      expect(shown.targets).toBe(product.rollbackTargets.length);
      expect(shown.images).toBe(product.images.reduce((n: number, im: { points: unknown[] }) => n + im.points.length, 0));
      expect(shown.values.every((v) => v && !/NaN|undefined|Infinity/.test(v))).toBe(true);
    }
    expect(facts.total).toMatchObject(key(report.total));
    expect(facts.body).toContain('over budget');
    expect(facts.body).not.toMatch(/NaN|undefined/);
    // Phone width: nothing wider than the screen (wide tables scroll inside their own box).
    expect(facts.scrollWidth).toBeLessThanOrEqual(facts.innerWidth);

    // Offline: the page asked for nothing but its own file.
    const requested = page.events
      .filter((e) => e.method === 'Network.requestWillBeSent')
      .map((e) => (e.params?.request as { url: string }).url);
    expect(requested).toEqual([`file://${html}`]);
    const errors = page.events.filter(
      (e) =>
        e.method === 'Runtime.exceptionThrown' ||
        (e.method === 'Runtime.consoleAPICalled' && e.params?.type === 'error') ||
        (e.method === 'Log.entryAdded' && (e.params?.entry as { level: string }).level === 'error'),
    );
    expect(errors).toEqual([]);

    const metrics = await page.send<{ cssContentSize: { height: number } }>('Page.getLayoutMetrics');
    await page.send('Emulation.setDeviceMetricsOverride', {
      width: 390,
      height: Math.ceil(metrics.cssContentSize.height),
      deviceScaleFactor: 2,
      mobile: true,
    });
    const shot = await page.send<{ data: string }>('Page.captureScreenshot', { format: 'png' });
    mkdirSync(artifacts, { recursive: true });
    const file = join(artifacts, 'report-page.png');
    writeFileSync(file, Buffer.from(shot.data, 'base64'));
    expect(shot.data.length).toBeGreaterThan(10_000);
    console.log(`report page screenshot: ${file}`);
  });

  it('prints the table on a terminal, with "no deploys yet" for a state with no ledger', async () => {
    const table = await runBerth(['alpha'], { script: 'report', env: env() });
    expect(table.exitCode, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^alpha\s+4\s+0\.13\s+0\.9\s+25\.0%\s+36\.0s\s+20\.0m\s+11\.1s\/11\.1s\s+0\+1auto$/m);
    expect(table.stdout).toContain('image web: 420.0 MB -> 480.0 MB -> 530.0 MB (budget 500 MB, OVER)');
    expect(table.stdout).not.toMatch(/NaN/);
    const empty = await runBerth([], { script: 'report', env: { ...env(), BERTH_STATE_DIR: join(dir, 'empty-state') } });
    expect(empty.exitCode, empty.stderr).toBe(0);
    expect(empty.stdout).toContain('no deploys yet');
    const bad = await runBerth(['--since', 'forever'], { script: 'report', env: env() });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("error: --since 'forever' is not a span like 30d");
  });
});
