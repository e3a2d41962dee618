// `unroll`: the command line for the Unroll API. Parsing with commander; each command is a thin
// layer over @unroll/client.
import { Command, Option } from 'commander';
import { UnrollApiError, UnrollClient } from '@unroll/client';
import { JobStatus, type Task } from '@unroll/protocol';
import { followJob, type FollowOutcome, type Output } from './follow.ts';
import { JOB_HEADER, jobRow } from './format.ts';
import { resolveSettings, SettingsError } from './settings.ts';
import { buildJobRequest, defaultTask, intArg, numberArg, TrainOptionsError, type TrainFlags } from './train-options.ts';

interface GlobalFlags {
  url?: string;
  apiKey?: string;
  config?: string;
  json?: boolean;
}

/** Exit codes: 0 ok, 1 API or job failure, 2 bad usage or settings, 130 cancelled with Ctrl-C. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

class CliExit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

function globals(command: Command): GlobalFlags {
  return command.optsWithGlobals<GlobalFlags>();
}

async function clientFor(command: Command): Promise<UnrollClient> {
  const flags = globals(command);
  const settings = await resolveSettings(flags);
  return new UnrollClient({ baseUrl: settings.url, apiKey: settings.apiKey });
}

function outputFor(command: Command): Output {
  return { stdout: process.stdout, stderr: process.stderr, json: globals(command).json === true, live: process.stdout.isTTY === true };
}

function print(command: Command, value: unknown, human: () => string): void {
  process.stdout.write(globals(command).json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

function outcomeExitCode(outcome: FollowOutcome): number {
  if (outcome.kind === 'detached') return EXIT.ok;
  if (outcome.status === 'succeeded') return EXIT.ok;
  if (outcome.status === 'cancelled' && outcome.cancelledByUser) return EXIT.interrupted;
  return EXIT.failed;
}

export function buildProgram(): Command {
  const program = new Command('unroll')
    .description('Train recurrent neural networks on the Unroll service')
    .option('--url <url>', 'server URL (env UNROLL_URL, config file, default http://127.0.0.1:3000)')
    .option('--api-key <key>', 'API key (env UNROLL_API_KEY or config file)')
    .option('--config <path>', 'config file (default ~/.config/unroll/config.json)')
    .option('--json', 'machine-readable JSON output')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('train')
    .description('upload a dataset, start a training job and follow it live')
    .argument('<file>', 'dataset: .txt corpus (language model), .json sequences or .csv time series')
    .addOption(new Option('--task <task>', 'lm | regression | classification (default: from the dataset)').choices(['lm', 'regression', 'classification']))
    .option('--hidden <n>', 'hidden size', intArg)
    .addOption(new Option('--activation <name>', 'nonlinearity').choices(['tanh', 'relu']))
    .addOption(new Option('--init <scheme>', 'weight init').choices(['pytorch', 'xavier', 'orthogonal', 'identity', 'normal']))
    .option('--epochs <n>', 'epochs', intArg)
    .option('--batch-size <n>', 'streams per batch', intArg)
    .option('--k1 <n>', 'truncated BPTT: steps between updates', intArg)
    .option('--k2 <n>', 'truncated BPTT: steps back-propagated', intArg)
    .option('--full-bptt', 'back-propagate through whole sequences')
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['sgd', 'adam', 'adamw', 'adagrad', 'rmsprop']))
    .option('--lr <x>', 'learning rate', numberArg)
    .option('--momentum <x>', 'momentum (sgd, rmsprop)', numberArg)
    .option('--weight-decay <x>', 'weight decay', numberArg)
    .option('--clip-norm <x>', 'clip the gradient norm at x (default 5)', numberArg)
    .option('--no-clip', 'no gradient clipping')
    .option('--val-split <x>', 'validation fraction (0 to 0.5)', numberArg)
    .option('--early-stopping <patience>', 'stop after this many epochs without validation improvement', intArg)
    .option('--seed <n>', 'random seed', intArg)
    .option('--target-columns <names>', 'CSV: comma-separated columns to predict')
    .option('--horizon <n>', 'CSV: steps ahead to predict', intArg)
    .option('--detach', 'start the job and return without following it')
    .action(async (file: string, flags: TrainFlags & { targetColumns?: string; horizon?: number; detach?: boolean }, command: Command) => {
      const client = await clientFor(command);
      const out = outputFor(command);
      // Checked before uploading, with the API's own schema.
      buildJobRequest('ds_00000000', flags.task ?? 'lm', flags);
      const dataset = await client.uploadDataset(file, {
        targetColumns: flags.targetColumns?.split(',').map((c) => c.trim()),
        horizon: flags.horizon,
      });
      const task: Task = flags.task ?? defaultTask(dataset.kind, dataset.stats);
      if (out.json) process.stdout.write(`${JSON.stringify({ dataset })}\n`);
      else process.stdout.write(`uploaded ${file} as ${dataset.id} (${dataset.bytes} bytes, ${describeStats(dataset.stats)})\n`);
      const job = await client.createJob(buildJobRequest(dataset.id, task, flags));
      if (out.json) process.stdout.write(`${JSON.stringify({ job })}\n`);
      else process.stdout.write(`created ${job.id}: ${task}, hidden ${job.spec.model.hiddenSize}, ${job.spec.training.epochs} epochs, ${job.spec.training.optimizer.name} lr ${job.spec.training.optimizer.lr}\n`);
      if (flags.detach) return;
      throw new CliExit(outcomeExitCode(await followJob(client, job, out)));
    });

  program
    .command('jobs')
    .description('list jobs, newest first')
    .addOption(new Option('--status <status>', 'only jobs in this status').choices(JobStatus.options))
    .option('--limit <n>', 'how many', intArg, 20)
    .action(async (flags: { status?: JobStatus; limit: number }, command: Command) => {
      const client = await clientFor(command);
      const page = await client.listJobs({ status: flags.status, limit: flags.limit });
      print(command, page, () => (page.items.length === 0 ? 'no jobs' : [JOB_HEADER, ...page.items.map(jobRow)].join('\n')));
    });

  program
    .command('job')
    .description('show one job')
    .argument('<id>')
    .action(async (id: string, _flags: unknown, command: Command) => {
      const job = await (await clientFor(command)).getJob(id);
      print(command, job, () => [JOB_HEADER, jobRow(job), job.error ? `error: ${job.error.code}: ${job.error.message}` : ''].filter(Boolean).join('\n'));
    });

  program
    .command('watch')
    .description('follow a job live until it finishes')
    .argument('<id>')
    .action(async (id: string, _flags: unknown, command: Command) => {
      const client = await clientFor(command);
      const job = await client.getJob(id);
      throw new CliExit(outcomeExitCode(await followJob(client, job, outputFor(command))));
    });

  program
    .command('cancel')
    .description('cancel a queued or running job')
    .argument('<id>')
    .action(async (id: string, _flags: unknown, command: Command) => {
      const job = await (await clientFor(command)).cancelJob(id);
      print(command, job, () => `${job.id}: ${job.status === 'cancelled' ? 'cancelled' : 'cancel requested; the worker stops at its next step'}`);
    });

  program
    .command('weights')
    .description('download trained weights')
    .argument('<id>')
    .requiredOption('-o, --output <file>', 'where to write them')
    .addOption(new Option('--format <format>', 'file format').choices(['safetensors', 'json']).default('safetensors'))
    .option('--checkpoint <which>', 'best, or an epoch number (default: final weights)', (v: string) => (v === 'best' ? 'best' : intArg(v)))
    .action(async (id: string, flags: { output: string; format: 'safetensors' | 'json'; checkpoint?: 'best' | number }, command: Command) => {
      const saved = await (await clientFor(command)).saveWeights(id, flags.output, { format: flags.format, checkpoint: flags.checkpoint });
      print(command, saved, () => `wrote ${saved.bytes} bytes to ${saved.path}`);
    });

  program
    .command('checkpoints')
    .description('list a job’s checkpoints')
    .argument('<id>')
    .action(async (id: string, _flags: unknown, command: Command) => {
      const items = await (await clientFor(command)).listCheckpoints(id);
      print(command, items, () => (items.length === 0 ? 'no checkpoints' : items.map((c) => `epoch ${String(c.epoch).padEnd(5)} ${String(c.bytes).padStart(10)} bytes  ${c.createdAt}`).join('\n')));
    });

  program
    .command('sample')
    .description('generate text from a language model job')
    .argument('<id>')
    .option('--prime <text>', 'text to start from', '')
    .option('--length <n>', 'characters to generate', intArg, 200)
    .option('--temperature <x>', 'sampling temperature', numberArg, 1)
    .option('--top-k <n>', 'sample among the k likeliest', intArg)
    .option('--seed <n>', 'random seed', intArg, 0)
    .option('--best', 'use the best checkpoint instead of the final weights')
    .action(async (id: string, flags: { prime: string; length: number; temperature: number; topK?: number; seed: number; best?: boolean }, command: Command) => {
      const result = await (await clientFor(command)).sample(id, {
        prime: flags.prime,
        length: flags.length,
        temperature: flags.temperature,
        topK: flags.topK,
        seed: flags.seed,
        weights: flags.best ? 'best' : 'final',
      });
      print(command, result, () => result.text);
    });

  program
    .command('upload')
    .description('upload a dataset')
    .argument('<file>')
    .option('--name <name>', 'dataset name (default: the file name)')
    .option('--target-columns <names>', 'CSV: comma-separated columns to predict')
    .option('--horizon <n>', 'CSV: steps ahead to predict', intArg)
    .action(async (file: string, flags: { name?: string; targetColumns?: string; horizon?: number }, command: Command) => {
      const ds = await (await clientFor(command)).uploadDataset(file, { name: flags.name, targetColumns: flags.targetColumns?.split(','), horizon: flags.horizon });
      print(command, ds, () => `${ds.id} ${ds.kind} ${ds.bytes} bytes (${describeStats(ds.stats)})`);
    });

  program
    .command('datasets')
    .description('list datasets, newest first')
    .option('--limit <n>', 'how many', intArg, 20)
    .action(async (flags: { limit: number }, command: Command) => {
      const page = await (await clientFor(command)).listDatasets({ limit: flags.limit });
      print(command, page, () => page.items.map((d) => `${d.id.padEnd(26)} ${d.kind.padEnd(5)} ${String(d.bytes).padStart(10)} bytes  ${d.name ?? ''}`).join('\n') || 'no datasets');
    });

  return program;
}

function describeStats(stats: Record<string, unknown>): string {
  return Object.entries(stats)
    .filter(([, v]) => typeof v === 'number' || typeof v === 'string')
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

/** Runs the CLI and answers its exit code (never calls process.exit itself). */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CliExit) return err.code;
    const e = err as { code?: string; exitCode?: number };
    // commander's own exits: help, version, usage errors (already printed).
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version' ? EXIT.ok : EXIT.usage;
    if (err instanceof UnrollApiError) {
      if (json) process.stdout.write(`${JSON.stringify({ error: { status: err.status, code: err.code, message: err.message, param: err.param, line: err.line, column: err.column } })}\n`);
      const where = [err.param && `param ${err.param}`, err.line && `line ${err.line}`, err.column && `column ${err.column}`].filter(Boolean).join(', ');
      process.stderr.write(`error: ${err.code}: ${err.message}${where ? ` (${where})` : ''}\n`);
      return EXIT.failed;
    }
    if (err instanceof SettingsError || err instanceof TrainOptionsError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT.usage;
    }
    const sys = err as NodeJS.ErrnoException;
    if (sys.code === 'ENOENT' || sys.code === 'EISDIR' || sys.code === 'EACCES') {
      process.stderr.write(`error: ${sys.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`error: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.failed;
  }
}

process.exitCode = await run(process.argv.slice(2));
