// Copies the tables of the latest `pnpm bench` run (bench/results/latest.md) into BENCHMARKS.md,
// between its `<!-- results:start -->` and `<!-- results:end -->` markers; the prose around them
// (machine, commands, analysis) is written by hand.
//   node --import tsx bench/splice-results.ts [results.md]

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const START = '<!-- results:start -->';
const END = '<!-- results:end -->';

const resultsPath = resolve(process.argv[2] ?? join(ROOT, 'bench/results/latest.md'));
const docPath = join(ROOT, 'BENCHMARKS.md');
const doc = readFileSync(docPath, 'utf8');
const from = doc.indexOf(START);
const to = doc.indexOf(END);
if (from < 0 || to < from) {
  process.stderr.write(`error: ${docPath} has no '${START}' … '${END}' block\n`);
  process.exit(2);
}
// the runner's level-2 headings become level-3 under the document's own heading
const results = readFileSync(resultsPath, 'utf8').trim().replace(/^## /gm, '### ');
writeFileSync(docPath, `${doc.slice(0, from + START.length)}\n${results}\n${doc.slice(to)}`);
process.stdout.write(`BENCHMARKS.md: results from ${resultsPath}\n`);
