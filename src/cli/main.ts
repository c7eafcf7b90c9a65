#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { registerDemo } from './demo.js';
import { registerDoctor } from './doctor.js';
import { registerEval } from './eval.js';
import { registerGenerate } from './generate.js';
import { registerModel } from './model.js';
import { describeError, EXIT, exitCodeFor } from './output.js';
import { registerRun } from './run.js';
import { registerScore } from './score.js';
import { registerTrain } from './train.js';

const program = new Command()
  .name('cellwatch')
  .description('edge anomaly detection for cell sites: KPIs in, ONNX autoencoder scores, incidents out')
  .version(VERSION)
  .showHelpAfterError()
  .exitOverride();

registerGenerate(program);
registerTrain(program);
registerScore(program);
registerEval(program);
registerRun(program);
registerDemo(program);
registerModel(program);
registerDoctor(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version requests end here too; commander has already printed what was asked for.
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    console.error(describeError(err));
    process.exitCode = exitCodeFor(err);
    // A failed start can leave a handle open (a half-made broker connection); a service manager waiting for
    // the exit would see a hung start instead of a failure. The timer does not itself keep the process up.
    setTimeout(() => process.exit(), 2_000).unref();
  }
}
