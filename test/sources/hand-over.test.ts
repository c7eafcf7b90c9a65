import { describe, expect, it } from 'vitest';
import { SampleBatcher } from '../../src/sources/hand-over.js';
import type { Sample, SourceSink } from '../../src/sources/source.js';

const sample = (i: number): Sample => ({ timestampMs: i * 1_000, entity: ['S1'], values: new Float64Array([i]) });

describe('SampleBatcher', () => {
  it('hands rows over in batches, in order, and gives the event loop a turn after each batch', async () => {
    // Counts turns of the event loop: one setImmediate callback per turn, while the batcher works.
    let turns = 0;
    let counting = true;
    const count = () => {
      turns++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);

    // Settles at once, as the agent's synchronous buffer write does: a microtask, which lets no timer run.
    const batches: { values: number[]; turnsBefore: number }[] = [];
    const sink: SourceSink = {
      samples: (batch) => {
        batches.push({ values: batch.map((s) => s.values[0]!), turnsBefore: turns });
        return Promise.resolve();
      },
      issue: () => undefined,
      end: () => undefined,
    };
    const batcher = new SampleBatcher(sink, new AbortController().signal, 2);
    for (let i = 0; i < 5; i++) await batcher.add(sample(i));
    await batcher.flush();
    counting = false;

    expect(batches.map((b) => b.values)).toEqual([[0, 1], [2, 3], [4]]);
    const [first, second, third] = batches.map((b) => b.turnsBefore);
    expect(second).toBeGreaterThan(first!);
    expect(third).toBeGreaterThan(second!);
  });
});
