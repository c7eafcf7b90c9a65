/**
 * Preloaded into the agent under test (`node --import tsx --import <this file> dist/cli/main.js run ...`):
 * the first SIGUSR2 starts a loop probe, the second stops it and writes its figures as JSON to the file named
 * by CELLWATCH_BENCH_LOOP_FILE. Signals, not start-up, mark the window, so module loading and shutdown stay
 * out of the figures and only the import of the dropped file is measured. The agent itself does not listen
 * to SIGUSR2, so nothing else changes in it.
 */
import { writeFileSync } from 'node:fs';
import { LoopProbe } from './loop-probe.js';

const out = process.env.CELLWATCH_BENCH_LOOP_FILE;
if (out === undefined) throw new Error('CELLWATCH_BENCH_LOOP_FILE is not set');

let probe: LoopProbe | undefined;
process.on('SIGUSR2', () => {
  if (probe === undefined) {
    probe = new LoopProbe();
    probe.start();
    return;
  }
  writeFileSync(out, JSON.stringify(probe.stop()));
});
