import { describe, expect, it } from 'vitest';
import { describeMessage } from '../../src/cli/describe-message.js';

const envelope = { messageId: 'm-1', site: 'S1', createdAt: '2026-12-04T10:00:00.000Z' };

describe('describeMessage', () => {
  it('reads model/state: the active model per pipeline, or the training state', () => {
    const state = {
      ...envelope,
      pipelines: [
        {
          pipeline: 'cells',
          active: { modelId: 'cell', version: 3, origin: 'push', keyId: 'ab', sha256: 'ff', activatedAt: null },
          previous: [1],
          training: null,
        },
        {
          pipeline: 'host',
          active: null,
          previous: [],
          training: { state: 'collecting', baselineHours: 2, neededHours: 168, lastTrainedAt: null },
        },
      ],
    };
    expect(describeMessage('state', JSON.stringify(state))).toBe(
      '[state]   models: cells cell v3 (push), host training collecting',
    );
  });

  it('reads model/result with its code', () => {
    const result = {
      ...envelope,
      action: 'push',
      result: 'rejected',
      pipeline: 'cells',
      modelId: 'cell',
      version: 2,
      code: 'BUNDLE_REPLAY',
      message: 'version 2 is not newer than version 3',
      details: {},
    };
    expect(describeMessage('result', JSON.stringify(result))).toBe(
      '[result]  push rejected BUNDLE_REPLAY: version 2 is not newer than version 3',
    );
    expect(describeMessage('result', '{"broken')).toBe('[result] (not JSON) {"broken');
  });
});
