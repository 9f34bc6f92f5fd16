import { ConfigError, readConfigJson } from '../config/load.ts';
import { themeFile } from '../config/layout.ts';
import { FONT_FAMILY, pinFonts, registerFonts } from './fonts.ts';

const PNG_SCALE = 2;

/**
 * Renders a Vega-Lite spec with its named tables to SVG and to PNG (at 2x).
 * Tables reach the spec as top-level `datasets`, so the spec names them with {"name": ...}.
 */
export async function renderVegaLite(spec: Record<string, unknown>, tables: Record<string, unknown[]>, theme: Record<string, unknown>, specFile = 'spec'): Promise<{ svg: string; png: Buffer }> {
  pinFonts();
  await registerFonts();
  const vl = await import('vega-lite');
  const vega = await import('vega');
  const full = { ...spec, datasets: { ...(spec.datasets as object | undefined), ...tables } };
  // One logger for Vega-Lite's compiler and Vega's runtime: every warning is reported with the spec's name.
  const warnings: string[] = [];
  const logger = vega.logger(vega.Warn);
  logger.warn = (...args: unknown[]) => { warnings.push(args.map(String).join(' ')); return logger; };
  let vgSpec;
  try {
    vgSpec = vl.compile(full as never, { config: { ...theme, font: FONT_FAMILY } as never, logger }).spec;
  } catch (e) {
    throw new ConfigError(`${specFile}: Vega-Lite cannot compile it (${(e as Error).message})`);
  }
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none', logger });
  await view.runAsync();
  const svg = await view.toSVG();
  const canvas = (await view.toCanvas(PNG_SCALE)) as unknown as { toBuffer(mime: 'image/png', cfg?: object): Buffer };
  const png = canvas.toBuffer('image/png', { compressionLevel: 9, filters: 0 });
  view.finalize();
  if (warnings.length) process.stderr.write(`${specFile}: Vega warnings:\n  ${warnings.join('\n  ')}\n`);
  return { svg, png };
}

export function loadTheme(root = '.'): Record<string, unknown> {
  return readConfigJson(themeFile(root)) as Record<string, unknown>;
}
