import type { Command } from 'commander';
import { runDoctor } from '../doctor/doctor.js';
import { doctorFailed, formatReport } from '../doctor/report.js';
import { real } from './parse.js';

interface DoctorFlags {
  config: string;
  json?: boolean;
  timeoutS: number;
  login?: boolean;
}

/**
 * Check an installation as the service user would run it: configuration, buffer, models, broker, clock,
 * disk and runtime, changing nothing. Exits 0 when no check failed (warnings allowed); otherwise the report
 * is printed all the same and the command ends with DOCTOR_FAILED.
 */
export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check an installation (config, buffer, models, broker, clock, disk, runtime) without changing it')
    .requiredOption('--config <file>', 'YAML configuration of the installation, e.g. /etc/cellwatch/cellwatch.yaml')
    .option('--json', 'print the report as JSON')
    .option('--timeout-s <seconds>', 'how long the broker has to accept the connection', real(0.1, 600), 10)
    .option('--login', "also log in to the broker under the site's identity (stop the agent first: see README)")
    .action(async (flags: DoctorFlags) => {
      const report = await runDoctor({
        configPath: flags.config,
        brokerTimeoutMs: Math.round(flags.timeoutS * 1000),
        login: flags.login ?? false,
      });
      console.log(flags.json ? JSON.stringify(report, null, 2) : formatReport(report));
      const failed = doctorFailed(report);
      if (failed) throw failed;
    });
}
