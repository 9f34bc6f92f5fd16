import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, editJson, listFiles, makeWorkspace, removeWorkspace } from './workspace.ts';

/**
 * The gpu engine chosen by a profile (`training.engine: "gpu"`, as quick-gpu does), built end to end
 * on this machine's WebGPU adapter (lavapipe here): every figure, and the same bytes from two
 * workspaces. Without an adapter the build stops before any task, naming what is missing.
 */
describe('a profile on the gpu engine', () => {
  const dirs = [makeWorkspace('smdd-gpu-a'), makeWorkspace('smdd-gpu-b')];
  afterAll(() => dirs.forEach(removeWorkspace));
  for (const d of dirs)
    editJson(join(d, 'experiment.json'), (c) => {
      c.profiles['tiny-gpu'] = {
        extends: 'quick-gpu', description: 'quick-gpu, smaller: a few sizes, fewer steps',
        training: { steps: 600, warmupSteps: 30, lossCurvePoints: 21 },
        datasetSizes: [3, 10, 100, 'infinity'],
        figures: ['small-datasets', 'double-descent'],
        sweeps: {},
      };
    });

  it('stops before anything runs when there is no WebGPU adapter, naming the driver to install', async () => {
    const r = await build(dirs[0], 'tiny-gpu', [], { VK_ICD_FILENAMES: '/nonexistent/icd.json' });
    expect(r.status).toBe(2);
    expect(r.output).toMatch(/error: the gpu engine cannot run on this machine: no WebGPU adapter/);
    expect(r.output).toContain('mesa-vulkan-drivers');
    expect(r.ran).toEqual([]);
    expect(existsSync(join(dirs[0], 'data', 'tiny-gpu'))).toBe(false);
    expect(existsSync(join(dirs[0], 'dist'))).toBe(false);
  }, 120_000);

  it('builds every figure, byte-identical in two workspaces', async () => {
    const results = [];
    for (const d of dirs) results.push(await build(d, 'tiny-gpu')); // one after the other: lavapipe uses every core
    for (const r of results) expect(r.status, r.output.slice(-3000)).toBe(0);
    const metrics = JSON.parse(readFileSync(join(dirs[0], 'data', 'tiny-gpu', 'runs', 'T10-m2-s0', 'metrics.json'), 'utf8'));
    expect(metrics.engine.name).toBe('gpu');
    const [a, b] = dirs.map((d) => listFiles(join(d, 'dist')));
    expect(a).toEqual(b);
    for (const fig of ['small-datasets', 'double-descent']) expect(a).toContain(`tiny-gpu/${fig}.png`);
    for (const f of a) {
      const [x, y] = dirs.map((d) => readFileSync(join(d, 'dist', f)));
      expect(x.equals(y), `dist/${f} differs between the two builds`).toBe(true);
    }
    process.stderr.write(`tiny-gpu cold builds on the gpu engine: ${results.map((r) => r.seconds.toFixed(1) + ' s').join(', ')}\n`);
  }, 900_000);
});
