/**
 * Every failure cellwatch reports carries a stable code so operators, tests and the central side can
 * match on it without parsing prose. The list is closed: add a code here and in docs/errors.md together.
 */
export const ERROR_CODES = {
  INPUT_NOT_FOUND: 'the input file does not exist or cannot be read',
  INPUT_FORMAT: 'the input file format is not recognised (use .csv, .jsonl, optionally .gz)',
  INPUT_FIELD_COUNT: 'a CSV row has a different number of fields than the header',
  INPUT_TIMESTAMP: 'a timestamp is missing or not ISO 8601',
  INPUT_VALUE: 'a KPI value is not a number',
  INPUT_JSON: 'a JSONL line is not a JSON object',
  INPUT_COLUMNS: 'a required column (timestamp, entity or feature) is missing',
  INPUT_EMPTY: 'the input holds no usable rows',
  INPUT_DUPLICATE: 'a row repeats the timestamp and entity of an earlier row',
  MODEL_READ: 'the model file cannot be read or is not an ONNX model',
  MODEL_METADATA: 'the model lacks cellwatch metadata or it is invalid',
  MODEL_IR_VERSION: 'the model IR version is not supported',
  MODEL_OPSET: 'the model opset is not supported',
  MODEL_INPUT_TYPE: 'the model input is not float32 [N, D]',
  MODEL_INPUT_WIDTH: 'the model input width does not match its metadata or the pipeline features',
  MODEL_OUTPUT: 'the model has no reconstruction output of the expected shape',
  MODEL_RUNTIME: 'onnxruntime failed to load or run the model',
  SCORE_NON_FINITE: 'a model input or output holds NaN or Infinity',
  TRAIN_CONFIG: 'the training configuration is invalid',
  TRAIN_DIVERGED: 'training produced a non-finite loss',
  LABELS_MISMATCH: 'the labels do not match any scored row',
  OUTPUT_WRITE: 'an output file or folder cannot be written',
  USAGE: 'the command line is invalid',
  CONFIG_READ: 'the configuration file cannot be read',
  CONFIG_YAML: 'the configuration file is not valid YAML',
  CONFIG_INVALID: 'a configuration key is missing, unknown or has a wrong value',
  CONFIG_SECRET: 'a secret file or environment variable named in the configuration is missing or empty',
  CONFIG_PIPELINE: 'a pipeline does not fit its model (features or entity columns)',
  STORAGE_OPEN: 'the SQLite buffer cannot be opened or created',
  STORAGE_CORRUPT: 'the SQLite buffer failed its integrity check and was replaced by a fresh one',
  STORAGE_FULL: 'the disk or the buffer size limit is full',
  STORAGE_WRITE: 'a write to the SQLite buffer failed',
  SOURCE_READ: 'a source file or drop directory cannot be read',
  SOURCE_SYSTEM: 'a host metric call failed or took too long',
  MQTT_CONNECT: 'the connection to the MQTT broker failed or was lost',
  MQTT_TLS: 'the TLS handshake with the MQTT broker failed (certificate not trusted, expired, or for another name)',
  MQTT_REFUSED: 'the MQTT broker answered the connection with a refusal (bad user name or password, not authorized)',
  MQTT_PUBLISH: 'the broker refused or failed to acknowledge a publish',
  OUTBOX_DROPPED: 'the outbox was full and dropped its lowest-priority messages',
  COMMAND_INVALID: 'a command received over MQTT is malformed or unknown',
  PM_MALFORMED: 'a performance file is not well-formed XML or JSON, or is cut short',
  PM_NOT_PM_DATA: 'a file is neither 3GPP PM XML (measCollecFile, measDataFile) nor a VES measurement event',
  PM_NO_VALUES: 'a performance file holds no measurement values',
  PM_UNMAPPED: 'a performance file has values, but none map to a configured entity and KPI',
  PM_PERIOD: 'a measurement block has no usable period (begin, end or duration)',
  PM_VALUE: 'a measurement value is not a number or an unmapped array (PDF/bin) value',
  PM_CONFLICT:
    'a measurement block was ingested before, or a counter given for the same entity and period, with other ' +
    'values; the first is kept',
  BUNDLE_FORMAT: 'a model bundle is not a cellwatch bundle, is cut short, or its manifest is invalid',
  BUNDLE_SIZE: 'a model bundle is over the size limit, or its ONNX part is not the size its manifest says',
  BUNDLE_HASH: 'the ONNX bytes of a bundle do not match the SHA-256 in its manifest',
  BUNDLE_UNSIGNED: 'a model bundle is not signed and the agent takes signed bundles only',
  BUNDLE_UNTRUSTED: 'a model bundle is signed by a key the agent does not trust',
  BUNDLE_SIGNATURE: 'the signature of a model bundle does not match its manifest',
  BUNDLE_KEY: 'a signing or public key file cannot be read or is not an Ed25519 key',
  BUNDLE_AGENT_VERSION: 'a model bundle needs a newer agent than this one',
  BUNDLE_GOLDEN: "a model does not give the scores its bundle's golden inputs promise",
  MODEL_STORE:
    'the model store holds no such version, nothing to roll back to, or other bytes under a version, a pipeline ' +
    'name cannot be a folder name, or a stored file cannot be read',
  MODEL_PROBE: 'a model crashed, hung or ran out of memory in the test process that loads it before activation',
  BUNDLE_PIPELINE: 'a model bundle names a pipeline this agent does not run, or its KPIs are not the pipeline features',
  BUNDLE_REPLAY: 'a model bundle is not newer than the version the pipeline runs or has run',
  BUNDLE_CALIBRATION: 'a model would flag far more recent rows than its own threshold percentile promises',
  MODEL_ROLLBACK: 'a model was rolled back: by command, or because it failed or flagged too many rows after activation',
  MODEL_TRAIN: 'on-device training failed or gave no usable model',
  FLEET_TIMEOUT: 'a site did not answer a model push or rollback within the wait',
  SERVICE_NOTIFY: 'a readiness, status or watchdog notification could not be sent to the service manager',
  SERVICE_UNHEALTHY: 'the daemon withholds its watchdog ping: the buffer stopped answering or scoring is stuck',
  HOST_UNSUITABLE: 'the system clock is before the release date of this version, or Node.js is older than it needs',
  NATIVE_MODULE: 'a compiled module of the release does not load here: another platform or Node ABI, or a damaged file',
  DOCTOR_FAILED: 'cellwatch doctor found at least one failing check',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class CellwatchError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'CellwatchError';
    this.code = code;
    this.details = details;
  }
}

export function isCellwatchError(err: unknown, code?: ErrorCode): err is CellwatchError {
  return err instanceof CellwatchError && (code === undefined || err.code === code);
}
