import type { DenseLayer, Gradients } from './network.js';

export interface AdamOptions {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

export const ADAM_DEFAULTS: AdamOptions = { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };

/** Adam (Kingma & Ba 2015) with bias correction, updating the layers' parameters in place. */
export class Adam {
  private step = 0;
  private readonly m: Float64Array[];
  private readonly v: Float64Array[];

  constructor(
    private readonly layers: DenseLayer[],
    private readonly options: AdamOptions = ADAM_DEFAULTS,
  ) {
    const params = layers.flatMap((l) => [l.weights, l.bias]);
    this.m = params.map((p) => new Float64Array(p.length));
    this.v = params.map((p) => new Float64Array(p.length));
  }

  update(grads: Gradients): void {
    this.step++;
    const { learningRate, beta1, beta2, epsilon } = this.options;
    const correction1 = 1 - beta1 ** this.step;
    const correction2 = 1 - beta2 ** this.step;
    const stepSize = (learningRate * Math.sqrt(correction2)) / correction1;
    this.layers.forEach((layer, l) => {
      const pairs: [Float64Array, Float64Array][] = [
        [layer.weights, grads.weights[l] as Float64Array],
        [layer.bias, grads.bias[l] as Float64Array],
      ];
      pairs.forEach(([param, grad], which) => {
        const m = this.m[2 * l + which] as Float64Array;
        const v = this.v[2 * l + which] as Float64Array;
        for (let i = 0; i < param.length; i++) {
          const g = grad[i] as number;
          const mi = beta1 * (m[i] as number) + (1 - beta1) * g;
          const vi = beta2 * (v[i] as number) + (1 - beta2) * g * g;
          m[i] = mi;
          v[i] = vi;
          param[i] = (param[i] as number) - (stepSize * mi) / (Math.sqrt(vi) + epsilon * Math.sqrt(correction2));
        }
      });
    });
  }
}
