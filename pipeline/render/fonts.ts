import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FONT_FAMILY = 'DejaVu Sans';

/**
 * Must run before `canvas` (and so `vega`) is first imported: fontconfig reads
 * FONTCONFIG_FILE once, and ours lists only the DejaVu fonts from node_modules.
 */
export function pinFonts(): void {
  process.env.FONTCONFIG_FILE = fileURLToPath(new URL('./fonts.conf', import.meta.url));
  process.env.LC_ALL = 'C';
  process.env.TZ = 'UTC';
}

export async function registerFonts(): Promise<void> {
  const { registerFont } = await import('canvas');
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve('dejavu-fonts-ttf/package.json'));
  registerFont(join(dir, 'ttf', 'DejaVuSans.ttf'), { family: FONT_FAMILY });
  registerFont(join(dir, 'ttf', 'DejaVuSans-Bold.ttf'), { family: FONT_FAMILY, weight: 'bold' });
}
