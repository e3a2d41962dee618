import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where the CLI finds the server and the key: flags, then environment, then the config file. */
export interface ConnectionSettings {
  url: string;
  apiKey: string;
  /** Where each value came from, for error messages. */
  sources: { url: string; apiKey: string };
}

export const DEFAULT_URL = 'http://127.0.0.1:3000';

export class SettingsError extends Error {
  override name = 'SettingsError';
}

/** ~/.config/unroll/config.json (or $XDG_CONFIG_HOME/unroll/config.json). */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'unroll', 'config.json');
}

interface ConfigFile {
  url?: string;
  apiKey?: string;
}

async function readConfigFile(path: string, explicit: boolean): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return {};
    throw new SettingsError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SettingsError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new SettingsError(`config file ${path}: expected an object like {"url": "...", "apiKey": "..."}`);
  const { url, apiKey } = json as Record<string, unknown>;
  for (const [name, value] of [['url', url], ['apiKey', apiKey]] as const) {
    if (value !== undefined && typeof value !== 'string') throw new SettingsError(`config file ${path}: ${name} must be a string`);
  }
  return { url: url as string | undefined, apiKey: apiKey as string | undefined };
}

export async function resolveSettings(flags: { url?: string; apiKey?: string; config?: string }, env: NodeJS.ProcessEnv = process.env): Promise<ConnectionSettings> {
  const configPath = flags.config ?? env.UNROLL_CONFIG ?? defaultConfigPath(env);
  const file = await readConfigFile(configPath, flags.config !== undefined || env.UNROLL_CONFIG !== undefined);
  const pick = (flag: string | undefined, envName: string, fromFile: string | undefined, flagName: string) =>
    flag ? { value: flag, source: `--${flagName}` } : env[envName] ? { value: env[envName]!, source: envName } : fromFile ? { value: fromFile, source: configPath } : null;
  const url = pick(flags.url, 'UNROLL_URL', file.url, 'url') ?? { value: DEFAULT_URL, source: 'default' };
  const apiKey = pick(flags.apiKey, 'UNROLL_API_KEY', file.apiKey, 'api-key');
  if (!apiKey) {
    throw new SettingsError(`no API key: pass --api-key, set UNROLL_API_KEY, or write {"apiKey": "..."} to ${configPath}`);
  }
  try {
    const parsed = new URL(url.value);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new SettingsError(`server URL from ${url.source} is not an http(s) URL: ${url.value}`);
  }
  return { url: url.value, apiKey: apiKey.value, sources: { url: url.source, apiKey: apiKey.source } };
}
