/**
 * Threshold-free detection metrics. Ties in the score share one rank, so a detector that gives every row
 * the same score gets a ROC-AUC of exactly 0.5 rather than whatever the row order happens to give.
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[a] as number) - (scores[b] as number));
  let positives = 0;
  let rankSumPositives = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1] as number] === scores[order[i] as number]) j++;
    const averageRank = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) {
      if (labels[order[t] as number] === 1) {
        positives++;
        rankSumPositives += averageRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSumPositives - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export interface PrSummary {
  /** Average precision: the area under the precision-recall curve, step-wise. */
  prAuc: number;
  bestF1: number;
  bestF1Threshold: number;
  bestF1Precision: number;
  bestF1Recall: number;
}

/** Walk thresholds from the highest score down; each distinct score is one threshold. No point-adjust. */
export function precisionRecall(scores: ArrayLike<number>, labels: ArrayLike<number>): PrSummary {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[b] as number) - (scores[a] as number));
  let totalPositives = 0;
  for (let i = 0; i < n; i++) totalPositives += labels[i] === 1 ? 1 : 0;
  const result: PrSummary = { prAuc: 0, bestF1: 0, bestF1Threshold: Number.NaN, bestF1Precision: 0, bestF1Recall: 0 };
  if (totalPositives === 0) return { ...result, prAuc: Number.NaN };
  let tp = 0;
  let fp = 0;
  let previousRecall = 0;
  for (let i = 0; i < n;) {
    const threshold = scores[order[i] as number] as number;
    while (i < n && scores[order[i] as number] === threshold) {
      if (labels[order[i] as number] === 1) tp++;
      else fp++;
      i++;
    }
    const precision = tp / (tp + fp);
    const recall = tp / totalPositives;
    result.prAuc += precision * (recall - previousRecall);
    previousRecall = recall;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    if (f1 > result.bestF1) {
      Object.assign(result, {
        bestF1: f1,
        bestF1Threshold: threshold,
        bestF1Precision: precision,
        bestF1Recall: recall,
      });
    }
  }
  return result;
}

export interface Confusion {
  precision: number;
  recall: number;
  f1: number;
  flagged: number;
}

export function confusionAt(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): Confusion {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < scores.length; i++) {
    const flagged = (scores[i] as number) > threshold;
    const positive = labels[i] === 1;
    if (flagged && positive) tp++;
    else if (flagged) fp++;
    else if (positive) fn++;
  }
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f1, flagged: tp + fp };
}
