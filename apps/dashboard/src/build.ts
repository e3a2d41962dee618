// Bundles the dashboard (src/web) into dist/ with esbuild. Runs on demand: the Fastify plugin
// calls ensureDashboardBuilt() at registration, so a fresh clone needs no separate build step.
// `pnpm --filter @unroll/dashboard build` (or running this file) forces a build.
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const PACKAGE_ROOT = fileURLToPath(new URL('../', import.meta.url));
export const WEB_SOURCE_DIR = join(PACKAGE_ROOT, 'src/web');
export const DEFAULT_DIST_DIR = join(PACKAGE_ROOT, 'dist');
const STAMP = 'build.json';

/** Where the sources the bundle depends on live: the web app, the shared schemas and the SDK. */
const HASHED_DIRS = [WEB_SOURCE_DIR, join(PACKAGE_ROOT, '../../packages/protocol/src'), join(PACKAGE_ROOT, '../../packages/client/src')];

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort();
}

/** Hash of every source file (path and content) plus the esbuild version: changes whenever a rebuild is due. */
export async function sourceHash(): Promise<string> {
  const hash = createHash('sha256').update(esbuild.version);
  for (const dir of HASHED_DIRS) {
    for (const file of await filesUnder(dir)) {
      hash.update(relative(PACKAGE_ROOT, file)).update('\0').update(await readFile(file)).update('\0');
    }
  }
  return hash.digest('hex');
}

export async function buildDashboard(outDir = DEFAULT_DIST_DIR): Promise<{ outDir: string; hash: string }> {
  const hash = await sourceHash();
  // Built beside the target and renamed into place, so concurrent processes never serve half a build.
  const temp = `${outDir}.tmp-${process.pid}-${Date.now()}`;
  await rm(temp, { recursive: true, force: true });
  await mkdir(temp, { recursive: true });
  try {
    await esbuild.build({
      entryPoints: { app: join(WEB_SOURCE_DIR, 'main.ts') },
      outdir: temp,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: ['es2022'],
      minify: true,
      sourcemap: true,
      // Node-only branches of the SDK load these lazily and never run in the browser.
      external: ['ws', 'node:*'],
      logLevel: 'silent',
    });
    await cp(join(WEB_SOURCE_DIR, 'index.html'), join(temp, 'index.html'));
    await cp(join(WEB_SOURCE_DIR, 'favicon.svg'), join(temp, 'favicon.svg'));
    await writeFile(join(temp, STAMP), JSON.stringify({ hash, builtAt: new Date().toISOString() }));
    await mkdir(dirname(outDir), { recursive: true });
    await swapInto(temp, outDir, hash);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return { outDir, hash };
}

const isTaken = (err: unknown) => ['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '');

/** Renames `temp` to `outDir`, replacing a stale build; leaves an identical build (another process's) alone. */
async function swapInto(temp: string, outDir: string, hash: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await rename(temp, outDir);
      return;
    } catch (err) {
      if (!isTaken(err)) throw err;
    }
    if ((await builtHash(outDir)) === hash) return; // someone built the same sources meanwhile
    const old = `${outDir}.old-${process.pid}-${Date.now()}`;
    try {
      await rename(outDir, old);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    try {
      await rename(temp, outDir);
      return;
    } catch (err) {
      if (!isTaken(err)) throw err;
    } finally {
      await rm(old, { recursive: true, force: true });
    }
  }
  throw new Error(`could not move the dashboard build into ${outDir}`);
}

async function builtHash(outDir: string): Promise<string | null> {
  try {
    return (JSON.parse(await readFile(join(outDir, STAMP), 'utf8')) as { hash?: string }).hash ?? null;
  } catch {
    return null;
  }
}

/** Builds unless dist/ already holds a build of exactly the current sources. */
export async function ensureDashboardBuilt(outDir = DEFAULT_DIST_DIR): Promise<{ outDir: string; built: boolean; warning?: string }> {
  const existing = await builtHash(outDir);
  if (existing === (await sourceHash())) return { outDir, built: false };
  try {
    await buildDashboard(outDir);
  } catch (err) {
    // A read-only install (e.g. a container built with the bundle in place) keeps serving what it has.
    if (existing !== null) return { outDir, built: false, warning: `dashboard bundle may be stale; rebuild failed: ${(err as Error).message}` };
    throw err;
  }
  return { outDir, built: true };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now();
  const { outDir } = await buildDashboard();
  console.log(`dashboard built into ${outDir} in ${Date.now() - started} ms`);
}
