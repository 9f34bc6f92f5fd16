import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { codeInputs, scanImports } from '../../pipeline/nx/code-inputs.ts';

describe('scanImports', () => {
  it('follows static imports and re-exports of project files, and collects the packages they name', () => {
    const r = scanImports(`
      import { a } from './a.ts';
      import * as b from "../b.ts";
      import './side-effect.ts';
      export { c } from './c.ts';
      import { z } from 'zod';
      import { x } from '@scope/pkg/sub/path.js';
    `);
    expect(r.follow).toEqual(['./a.ts', '../b.ts', './side-effect.ts', './c.ts']);
    expect(r.packages).toEqual(['zod', '@scope/pkg']);
  });

  it('skips type-only imports, which load nothing', () => {
    expect(scanImports(`import type { T } from './types.ts';\nexport type { U } from './u.ts';`).follow).toEqual([]);
  });

  it('does not follow a dynamic import of a project file (a choice made at run time) but counts a dynamic import of a package', () => {
    const r = scanImports(`const s = await import('./stages/train.ts'); const v = await import('vega');`);
    expect(r.follow).toEqual([]);
    expect(r.packages).toEqual(['vega']);
  });

  it('follows new URL(..., import.meta.url) to source files such as a worker, not to build products', () => {
    const r = scanImports(`new Worker(new URL('./worker.mjs', import.meta.url)); readFileSync(new URL('./build/kernel.wasm', import.meta.url));`);
    expect(r.follow).toEqual(['./worker.mjs']);
  });

  it('follows new URL(..., import.meta.url) to a WGSL shader, whose text is data', () => {
    const r = scanImports(`device.createShaderModule({ code: readFileSync(new URL('./train.wgsl', import.meta.url), 'utf8') });`);
    expect(r.follow).toEqual(['./train.wgsl']);
  });

  it('counts require.resolve of a package, and never Node built-ins', () => {
    const r = scanImports(`import { join } from 'node:path'; import fs from 'fs'; require.resolve('dejavu-fonts-ttf/package.json');`);
    expect(r.follow).toEqual([]);
    expect(r.packages).toEqual(['dejavu-fonts-ttf']);
  });
});

describe('codeInputs', () => {
  const root = mkdtempSync(join(tmpdir(), 'smdd-code-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const put = (file: string, text: string) => {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  };
  put('src/entry.ts', `import { a } from './a.ts';\nimport type { T } from './types.ts';\nconst lazy = () => import('./lazy.ts');`);
  put('src/a.ts', `import { b } from '../lib/b.ts';\nimport { z } from 'zod';\nnew URL('./conf.json', import.meta.url);`);
  put('src/conf.json', `{ "import": "./not-code.ts" }`);
  put('src/shader.ts', `readFileSync(new URL('./kernel.wgsl', import.meta.url), 'utf8');`);
  put('src/kernel.wgsl', `// import './not-code.ts'\n@compute @workgroup_size(64) fn main() {}`);
  put('lib/b.ts', `import { a } from '../src/a.ts';\nexport const b = 1;`);
  put('src/types.ts', '');
  put('src/lazy.ts', '');

  it('gives the files reached from the entries, each once (cycles included), and their packages', () => {
    expect(codeInputs(root, ['src/entry.ts'])).toEqual({ files: ['lib/b.ts', 'src/a.ts', 'src/conf.json', 'src/entry.ts'], packages: ['zod'] });
  });

  it('adds what another entry loads: the graph names a run-time choice as an entry', () => {
    expect(codeInputs(root, ['src/entry.ts', 'src/lazy.ts']).files).toContain('src/lazy.ts');
  });

  it('counts a shader the code loads, and reads nothing in it as an import', () => {
    expect(codeInputs(root, ['src/shader.ts']).files).toEqual(['src/kernel.wgsl', 'src/shader.ts']);
  });

  it('fails naming a file that is imported but missing', () => {
    put('src/broken.ts', `import './gone.ts';`);
    expect(() => codeInputs(root, ['src/broken.ts'])).toThrow(/src\/gone\.ts: imported but missing/);
  });
});

describe("the project's stages", () => {
  const ROOT = fileURLToPath(new URL('../../', import.meta.url));

  it('keep the engines out of the code of data, geometry and render tasks: the config loads no engine code', () => {
    for (const stage of ['data', 'geometry', 'render']) {
      const { files } = codeInputs(ROOT, ['pipeline/commands/stage.ts', `pipeline/stages/${stage}.ts`]);
      expect(files, stage).toContain('pipeline/config/load.ts');
      expect(files.filter((f) => /^pipeline\/(engines|kernel)\//.test(f)), stage).toEqual([]);
    }
  });

  it('and the engines load no config', () => {
    for (const engine of ['pipeline/engines/registry.ts', 'pipeline/engines/reference.ts', 'pipeline/engines/tfjs.ts', 'pipeline/kernel/fast-engine.ts'])
      expect(codeInputs(ROOT, [engine]).files.filter((f) => f.startsWith('pipeline/config/')), engine).toEqual([]);
  });

  it('give training the engine registry (its runs name their engine)', () => {
    expect(codeInputs(ROOT, ['pipeline/commands/stage.ts', 'pipeline/stages/train.ts']).files).toContain('pipeline/engines/registry.ts');
  });
});
