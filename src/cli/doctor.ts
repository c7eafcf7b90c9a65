import type { Command } from 'commander';
import { runDoctor, runRuntimeDoctor } from '../doctor/doctor.js';
import { CellwatchError } from '../errors.js';
import { doctorFailed, formatReport } from '../doctor/report.js';
import { real } from './parse.js';

interface DoctorFlags {
  config?: string;
  runtime?: boolean;
  json?: boolean;
  timeoutS: number;
  login?: boolean;
}

/**
 * Check an installation as the service user would run it: configuration, buffer, models, broker, clock,
 * disk, runtime and compiled modules, changing nothing (with --runtime, only the last two). Exits 0 when no
 * check failed (warnings allowed); otherwise the report is printed all the same and the command ends with
 * DOCTOR_FAILED.
 */
export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check an installation (config, buffer, models, broker, clock, disk, runtime) without changing it')
    .option('--config <file>', 'YAML configuration of the installation, e.g. /etc/cellwatch/cellwatch.yaml')
    .option('--runtime', 'check only Node.js and the compiled modules, with no configuration (the install smoke test)')
    .option('--json', 'print the report as JSON')
    .option('--timeout-s <seconds>', 'how long the broker has to accept the connection', real(0.1, 600), 10)
    .option('--login', "also log in to the broker under the site's identity (stop the agent first: see README)")
    .action(async (flags: DoctorFlags) => {
      if ((flags.runtime ?? false) === (flags.config !== undefined)) {
        throw new CellwatchError('USAGE', 'doctor takes either --config <file> or --runtime');
      }
      const report =
        flags.config === undefined
          ? await runRuntimeDoctor()
          : await runDoctor({
              configPath: flags.config,
              brokerTimeoutMs: Math.round(flags.timeoutS * 1000),
              login: flags.login ?? false,
            });
      console.log(flags.json ? JSON.stringify(report, null, 2) : formatReport(report));
      const failed = doctorFailed(report);
      if (failed) throw failed;
    });
}
