/**
 * Small hypothesis tests for the augmentation parity tests (test/transforms/random_parity.test.ts).
 *
 * - `ks2`: two-sample Kolmogorov–Smirnov test. D = sup_x |F₁(x) − F₂(x)| over the pooled sample (ties handled by
 *   stepping past every copy of a value before comparing), p from the asymptotic Kolmogorov distribution with the
 *   Stephens / Numerical Recipes small-sample correction λ = (√nₑ + 0.12 + 0.11/√nₑ)·D, nₑ = n₁n₂/(n₁+n₂).
 *   For discrete data (integer hole sizes) this p-value is conservative (too large), never anti-conservative.
 * - `ks1`: one-sample KS against a continuous CDF, same p-value formula with nₑ = n.
 * - `binomTest`: exact two-sided binomial test (sum of the probabilities ≤ P(k), as R's binom.test).
 * - `twoProportions`: pooled two-sample z-test for equal proportions (normal approximation; n ≥ 1000 here).
 * - `chiSquare`: Pearson χ² statistic and upper-tail p-value, for goodness of fit (`chiSquareGof`) and for a 2×k
 *   homogeneity table (`chiSquareHomogeneity`).
 */

/** Kolmogorov survival function Q(λ) = 2 Σ_{j≥1} (−1)^{j−1} exp(−2j²λ²). */
export function kolmogorovQ(lambda: number): number {
  if (lambda < 1e-3) return 1;
  let sum = 0;
  for (let j = 1; j <= 200; j++) {
    const term = 2 * (j % 2 ? 1 : -1) * Math.exp(-2 * j * j * lambda * lambda);
    sum += term;
    if (Math.abs(term) < 1e-12) break;
  }
  return Math.min(1, Math.max(0, sum));
}

export interface TestResult {
  stat: number;
  p: number;
}

export function ks2(a: ArrayLike<number>, b: ArrayLike<number>): TestResult {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  const n = x.length,
    m = y.length;
  if (n === 0 || m === 0) throw new Error('ks2: empty sample');
  let i = 0,
    j = 0,
    d = 0;
  while (i < n && j < m) {
    const v = Math.min(x[i], y[j]);
    while (i < n && x[i] === v) i++;
    while (j < m && y[j] === v) j++;
    d = Math.max(d, Math.abs(i / n - j / m));
  }
  const ne = (n * m) / (n + m);
  const s = Math.sqrt(ne);
  return { stat: d, p: kolmogorovQ((s + 0.12 + 0.11 / s) * d) };
}

export function ks1(a: ArrayLike<number>, cdf: (x: number) => number): TestResult {
  const x = Float64Array.from(a).sort();
  const n = x.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(x[i]);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  }
  const s = Math.sqrt(n);
  return { stat: d, p: kolmogorovQ((s + 0.12 + 0.11 / s) * d) };
}

function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/** Lanczos approximation of ln Γ(x), x > 0 (|error| < 1e-13 relative). */
export function logGamma(x: number): number {
  const g = 7;
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Exact two-sided binomial test of k successes in n trials against success probability p. */
export function binomTest(k: number, n: number, p: number): TestResult {
  const logP = (i: number) => logChoose(n, i) + i * Math.log(p) + (n - i) * Math.log1p(-p);
  const pk = logP(k);
  let sum = 0;
  for (let i = 0; i <= n; i++) {
    const li = logP(i);
    if (li <= pk + 1e-7) sum += Math.exp(li);
  }
  return { stat: k / n, p: Math.min(1, sum) };
}

/** Standard normal upper tail via erfc (Numerical Recipes erfcc, |rel. error| < 1.2e-7). */
export function normalSf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const r =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  const upper = r / 2; // P(Z > |z|)
  return z >= 0 ? upper : 1 - upper;
}

/** Two-sided pooled z-test that k1/n1 and k2/n2 estimate the same proportion; stat = z. */
export function twoProportions(k1: number, n1: number, k2: number, n2: number): TestResult {
  const p = (k1 + k2) / (n1 + n2);
  const se = Math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2));
  if (se === 0) return { stat: 0, p: 1 };
  const z = (k1 / n1 - k2 / n2) / se;
  return { stat: z, p: 2 * normalSf(Math.abs(z)) };
}

/** Regularized upper incomplete gamma Q(a, x) (series for x < a + 1, continued fraction otherwise). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const lg = logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a,
      term = sum;
    for (let n = 1; n < 1000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return 1 - sum * Math.exp(-x + a * Math.log(x) - lg);
  }
  let b = x + 1 - a,
    c = 1e300,
    d = 1 / b,
    h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.exp(-x + a * Math.log(x) - lg) * h;
}

/** χ² goodness of fit of observed counts against expected probabilities; stat = χ², df = k − 1. */
export function chiSquareGof(observed: number[], probs: number[]): TestResult {
  const n = observed.reduce((a, b) => a + b, 0);
  let x2 = 0;
  observed.forEach((o, i) => {
    const e = n * probs[i];
    x2 += ((o - e) * (o - e)) / e;
  });
  return { stat: x2, p: gammaQ((observed.length - 1) / 2, x2 / 2) };
}

/** χ² test that two rows of counts come from the same categorical distribution; df = k − 1. */
export function chiSquareHomogeneity(a: number[], b: number[]): TestResult {
  const na = a.reduce((s, v) => s + v, 0),
    nb = b.reduce((s, v) => s + v, 0),
    n = na + nb;
  let x2 = 0,
    k = 0;
  a.forEach((_, i) => {
    const col = a[i] + b[i];
    if (col === 0) return;
    k++;
    const ea = (na * col) / n,
      eb = (nb * col) / n;
    x2 += ((a[i] - ea) ** 2) / ea + ((b[i] - eb) ** 2) / eb;
  });
  return { stat: x2, p: gammaQ((k - 1) / 2, x2 / 2) };
}
