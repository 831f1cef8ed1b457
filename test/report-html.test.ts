import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { audit, JudgedFlows, loadRoleMap } from '../src/audit/index.js';
import { writePcap } from '../src/capture/writer.js';
import { loadCatalog } from '../src/catalog/index.js';
import { buildFlows } from '../src/flow/pipeline.js';
import { auditHtml } from '../src/report/html.js';
import { frame, tcpConversation } from '../src/synth/frames.js';
import { CHROMIUM_PATH, skipWithoutChromium } from './helpers/captures.js';

const root = resolve(__dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'fa-html-'));
const HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)></script>';

/** A real report of the bmc-cm sample, with a hostile file name, catalog citation and waiver reason. */
async function sampleReport() {
  const catalog = loadCatalog('bmc-cm');
  catalog.rules.find((r) => r.id === 'database-connection')!.cite.text = HOSTILE;
  const file = join(dir, `x${HOSTILE.replace(/[/<>"]/g, '_')}.pcap`);
  const packets = [...tcpConversation('10.20.0.21', 50001, '10.10.0.10', 1610), ...tcpConversation('10.20.0.22', 50009, '10.10.0.20', 1433), ...tcpConversation('10.20.0.21', 50010, '10.10.0.10', 3389)];
  writeFileSync(file, writePcap(packets.map((p, i) => ({ data: frame(p), tsSec: 1_700_000_000, tsNs: i * 1000 })), { linkType: 1 }));
  const run = await buildFlows([file]);
  const report = audit(run, { catalogs: [catalog], roleMap: loadRoleMap(join(root, 'samples/bmc-cm-roles.yaml'), [catalog]), grants: [], version: 'test' });
  report.capture.files[0]!.file = HOSTILE;
  return report;
}

describe('the HTML report', () => {
  it('counts every flow of a busy cell in the matrix (60 000 flows, most in one cell)', async () => {
    // Each cell's flows used to be copied for every flow added: these 60 000 flows took 12 s, a
    // site's 200 000 two minutes (now 0.4 s; speed is the benchmark's business, this checks the
    // counts). The same flows, repeated, land in the same cells.
    const report = await sampleReport();
    const flows = report.flows;
    const n = flows.length;
    const busy = new JudgedFlows(
      { ...flows.columns, n: 60_000, record: (i) => flows.columns.record(i % n) },
      flows.judgements,
      Uint32Array.from({ length: 60_000 }, (_, i) => flows.of[i % n]!),
    );
    const html = auditHtml({ ...report, flows: busy });
    const counts = [...html.matchAll(/<title>[^<]*?: (\d+) flows;/g)].map((m) => Number(m[1]));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(60_000);
    expect(Math.max(...counts)).toBeGreaterThanOrEqual(20_000);
  });

  it('escapes every string that comes from a capture, a catalog or a role map, and loads nothing', async () => {
    const html = auditHtml(await sampleReport());
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html.match(/<script>/g)).toHaveLength(1); // the table sorter, nothing else
    expect(html).not.toMatch(/(src|href)=["']?https?:/);
    expect(html).toContain("default-src 'none'");
  });

  it.skipIf(skipWithoutChromium('HTML report in a browser'))('in Chromium: the matrix renders, tables sort on click, no request, no error', async () => {
    const { chromium } = await import('playwright-core');
    const page_file = join(dir, 'report.html');
    writeFileSync(page_file, auditHtml(await sampleReport()));
    const browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      const errors: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      const url = pathToFileURL(page_file).href;
      await page.goto(url);
      // The matrix: a cell per client-role/server-role pair that talks, coloured by its worst verdict.
      const box = await page.locator('#matrix').boundingBox();
      expect(box!.width).toBeGreaterThan(300);
      expect(box!.height).toBeGreaterThan(80);
      const cells = await page.locator('#matrix g.cell').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-verdict')));
      expect(cells.sort()).toEqual(['role-mismatch', 'undocumented']);
      // Sorting the flows by bytes: ascending on the first click, descending on the second.
      const bytes = () => page.locator('#flows tbody tr td:nth-child(8)').allTextContents();
      await page.click('#flows th[data-col="7"]');
      const up = (await bytes()).map(Number);
      expect(up).toEqual([...up].sort((a, b) => a - b));
      await page.click('#flows th[data-col="7"]');
      const down = (await bytes()).map(Number);
      expect(down).toEqual([...up].sort((a, b) => b - a));
      // What a person reads: the hostile citation as text, not as markup.
      expect(await page.locator('#requirements, #flows').first().isVisible()).toBe(true);
      expect(await page.locator('img').count()).toBe(0);
      await page.screenshot({ path: join(dir, 'report.png'), fullPage: true });
      expect(requests).toEqual([url]);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
