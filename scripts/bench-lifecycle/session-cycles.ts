/**
 * onnxruntime alone: create a session from the same model bytes, score with it, release it, many times in
 * this process, and watch resident memory. onnxruntime has reports of native memory that grows with every
 * session created and released; if it did here, the agent's swaps would grow the daemon. The JS heap is
 * shown beside RSS so that growth in one is not mistaken for growth in the other.
 */
import { ModelSession } from '../../src/model/session.js';

export async function sessionCycles(bytes: Uint8Array, cycles: number): Promise<void> {
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const gc = (globalThis as { gc?: () => void }).gc;
  console.log(`\n${cycles} onnxruntime sessions created, run (8 × 256 rows) and released in one process:`);
  let first: number | undefined;
  for (let i = 1; i <= cycles; i++) {
    const session = await ModelSession.fromBytes(bytes);
    const input = new Float32Array(256 * session.width).fill(0.1);
    for (let k = 0; k < 8; k++) await session.run(input, 256);
    await session.close();
    gc?.();
    if (i === 1 || i % Math.max(1, Math.floor(cycles / 8)) === 0) {
      const { rss, heapUsed } = process.memoryUsage();
      first ??= rss;
      console.log(`  after ${String(i).padStart(4)}: RSS ${mib(rss)}, JS heap ${mib(heapUsed)}`);
    }
  }
  const growth = process.memoryUsage().rss - (first ?? 0);
  console.log(
    `  growth after the first: ${mib(growth)}${gc ? '' : ' (run with node --expose-gc for steadier figures)'}`,
  );
}
