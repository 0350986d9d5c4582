/*
 * Fused MLP DQN / Double DQN training step for wasm32 + 128-bit SIMD (see wasm-engine.ts).
 *
 * One instance holds one agent: online parameters P, target T, gradients G, Adam moments M and V,
 * the batch (obs, nextObs, actions, rewards, terminated) and every activation buffer, all laid out
 * once by setup() in linear memory; train_step() allocates nothing.
 *
 * Parameter layout: the JS layout (per layer kernel [in, out] row-major, then bias) with every
 * layer's output width padded to a multiple of 4 (zeros). Padded units stay exactly zero: zero
 * weights and bias, ReLU(0) = 0, zero gradient, so Adam never moves them. The input width of the
 * first layer (obsDim) is not padded. wasm-engine.ts packs/unpacks between the two layouts.
 *
 * Semantics mirror algorithms/dqn/learning.ts: TD targets (DQN / Double DQN, terminated masks,
 * γⁿ passed in), mean Huber loss and its gradient in float64 exactly as JS does, backward,
 * global-norm clip (norm summed in float64), PyTorch-style Adam, optional hard/soft target update.
 * Matrix products run in float32 SIMD (JS accumulates pairs in float64), hence ~1e-6 differences.
 *
 * Build: ./build.sh (clang + wasm-ld, no libc).
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))
#define MAXL 16

typedef unsigned char u8;
typedef unsigned long size_t;

extern unsigned char __heap_base;

/* ---- layout ------------------------------------------------------------------------------- */

static int hiddenIn[MAXL];
static int D, A, AP, NL, BCAP, MAXP;
static int inD[MAXL + 1], outD[MAXL + 1], inP[MAXL + 1], outP[MAXL + 1];
static int kOff[MAXL + 1], bOff[MAXL + 1];
static int NP; /* padded parameter count (floats, multiple of 4) */

static float *P, *T, *G, *M, *V;
static float *OBS, *NOBS, *REW, *Y, *WT, *S0, *S1, *QT, *QO, *X1, *Q1;
static int *ACT;
static u8 *TERM;
static float *H[MAXL + 1];  /* online net on obs: per-layer outputs (H[NL-1] = Q) */
static float *DH[MAXL + 1]; /* their gradients (DH[NL-1] = dLoss/dQ) */
static double lastNorm;

static int up4(int n) { return (n + 3) & ~3; }

EXPORT(hidden_ptr) int *hidden_ptr(void) { return hiddenIn; }

static size_t heap;
static float *take(size_t floats) {
  float *p = (float *)heap;
  heap += ((floats + 3) & ~(size_t)3) * 4;
  return p;
}

/*
 * Lay out everything for obsDim d, numActions a, nHidden hidden layers (sizes written to
 * hidden_ptr() first) and batches of up to bcap rows. Parameters come first, so calling it again
 * with a larger bcap keeps them. Returns the padded parameter count, or −1 if memory can't grow.
 */
EXPORT(setup) int setup(int d, int a, int nHidden, int bcap) {
  if (nHidden < 1 || nHidden > MAXL - 1 || d < 1 || a < 1 || bcap < 1) return -1;
  D = d; A = a; AP = up4(a); NL = nHidden + 1; BCAP = bcap;
  int in = d, inPad = d, off = 0;
  MAXP = up4(d) > AP ? up4(d) : AP;
  for (int l = 0; l < NL; l++) {
    int o = l < nHidden ? hiddenIn[l] : a;
    inD[l] = in; outD[l] = o; inP[l] = inPad; outP[l] = up4(o);
    kOff[l] = off; off += inP[l] * outP[l];
    bOff[l] = off; off += outP[l];
    if (outP[l] > MAXP) MAXP = outP[l];
    in = o; inPad = outP[l];
  }
  NP = up4(off);
  heap = ((size_t)&__heap_base + 15) & ~(size_t)15;
  P = take(NP); T = take(NP); G = take(NP); M = take(NP); V = take(NP);
  OBS = take((size_t)bcap * d); NOBS = take((size_t)bcap * d);
  REW = take(bcap); Y = take(bcap);
  ACT = (int *)take(bcap); TERM = (u8 *)take((bcap + 3) / 4);
  for (int l = 0; l < NL; l++) { H[l] = take((size_t)bcap * outP[l]); DH[l] = take((size_t)bcap * outP[l]); }
  WT = take((size_t)MAXP * MAXP);
  S0 = take((size_t)bcap * MAXP); S1 = take((size_t)bcap * MAXP);
  QT = take((size_t)bcap * AP); QO = take((size_t)bcap * AP);
  X1 = take(d); Q1 = take(AP);
  size_t need = (heap + 65535) >> 16, have = __builtin_wasm_memory_size(0);
  if (need > have && __builtin_wasm_memory_grow(0, need - have) == (size_t)-1) return -1;
  return NP;
}

EXPORT(params_ptr) float *params_ptr(void) { return P; }
EXPORT(target_ptr) float *target_ptr(void) { return T; }
EXPORT(grads_ptr) float *grads_ptr(void) { return G; }
EXPORT(adam_m_ptr) float *adam_m_ptr(void) { return M; }
EXPORT(adam_v_ptr) float *adam_v_ptr(void) { return V; }
EXPORT(obs_ptr) float *obs_ptr(void) { return OBS; }
EXPORT(next_obs_ptr) float *next_obs_ptr(void) { return NOBS; }
EXPORT(actions_ptr) int *actions_ptr(void) { return ACT; }
EXPORT(rewards_ptr) float *rewards_ptr(void) { return REW; }
EXPORT(terminated_ptr) u8 *terminated_ptr(void) { return TERM; }
EXPORT(x1_ptr) float *x1_ptr(void) { return X1; }
EXPORT(q1_ptr) float *q1_ptr(void) { return Q1; }
EXPORT(targets_ptr) float *targets_ptr(void) { return Y; }
EXPORT(layer_in_pad) int layer_in_pad(int l) { return inP[l]; }
EXPORT(layer_out_pad) int layer_out_pad(int l) { return outP[l]; }
EXPORT(layer_kernel) int layer_kernel(int l) { return kOff[l]; }
EXPORT(layer_bias) int layer_bias(int l) { return bOff[l]; }
EXPORT(grad_norm) double grad_norm(void) { return lastNorm; }

/* ---- dense layers ------------------------------------------------------------------------- */

#define LD(p) wasm_v128_load(p)
#define ST(p, v) wasm_v128_store(p, v)
#define SPL(x) wasm_f32x4_splat(x)
#define FMA(acc, a, b) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a, b))

/* finish 4 output lanes: ReLU, or zero where mask ≤ 0 (ReLU derivative), or as is */
static inline v128_t fin(v128_t v, int relu, const float *mask) {
  if (relu) return wasm_f32x4_pmax(wasm_f32x4_splat(0.f), v);
  if (mask) return wasm_v128_and(v, wasm_f32x4_gt(LD(mask), wasm_f32x4_splat(0.f)));
  return v;
}

/*
 * out[r, j] = bias[j] + Σ_i x[r, i] W[i, j]   for r < B, j < O (O multiple of 4); x rows have stride xs,
 * W is [I, O] row-major, bias may be null (0), out rows have stride O. `mask` (same shape as out):
 * keep out only where mask > 0. Blocked over 4 rows × 8 columns.
 */
static void dense(const float *restrict x, int B, int I, int xs, const float *restrict W, const float *restrict bias, int O,
                  float *restrict out, int relu, const float *restrict mask) {
  const v128_t z = wasm_f32x4_splat(0.f);
  int r = 0;
  for (; r + 4 <= B; r += 4) {
    const float *x0 = x + (size_t)r * xs, *x1 = x0 + xs, *x2 = x1 + xs, *x3 = x2 + xs;
    float *o0 = out + (size_t)r * O;
    const float *m0 = mask ? mask + (size_t)r * O : 0;
    int j = 0;
    for (; j + 8 <= O; j += 8) {
      v128_t b0 = bias ? LD(bias + j) : z, b1 = bias ? LD(bias + j + 4) : z;
      v128_t a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
      const float *w = W + j;
      for (int i = 0; i < I; i++, w += O) {
        v128_t w0 = LD(w), w1 = LD(w + 4), s;
        s = SPL(x0[i]); FMA(a00, s, w0); FMA(a01, s, w1);
        s = SPL(x1[i]); FMA(a10, s, w0); FMA(a11, s, w1);
        s = SPL(x2[i]); FMA(a20, s, w0); FMA(a21, s, w1);
        s = SPL(x3[i]); FMA(a30, s, w0); FMA(a31, s, w1);
      }
      ST(o0 + j, fin(a00, relu, m0 ? m0 + j : 0)); ST(o0 + j + 4, fin(a01, relu, m0 ? m0 + j + 4 : 0));
      ST(o0 + O + j, fin(a10, relu, m0 ? m0 + O + j : 0)); ST(o0 + O + j + 4, fin(a11, relu, m0 ? m0 + O + j + 4 : 0));
      ST(o0 + 2 * O + j, fin(a20, relu, m0 ? m0 + 2 * O + j : 0)); ST(o0 + 2 * O + j + 4, fin(a21, relu, m0 ? m0 + 2 * O + j + 4 : 0));
      ST(o0 + 3 * O + j, fin(a30, relu, m0 ? m0 + 3 * O + j : 0)); ST(o0 + 3 * O + j + 4, fin(a31, relu, m0 ? m0 + 3 * O + j + 4 : 0));
    }
    for (; j < O; j += 4) {
      v128_t b0 = bias ? LD(bias + j) : z;
      v128_t a0 = b0, a1 = b0, a2 = b0, a3 = b0;
      const float *w = W + j;
      for (int i = 0; i < I; i++, w += O) {
        v128_t w0 = LD(w);
        FMA(a0, SPL(x0[i]), w0); FMA(a1, SPL(x1[i]), w0); FMA(a2, SPL(x2[i]), w0); FMA(a3, SPL(x3[i]), w0);
      }
      ST(o0 + j, fin(a0, relu, m0 ? m0 + j : 0));
      ST(o0 + O + j, fin(a1, relu, m0 ? m0 + O + j : 0));
      ST(o0 + 2 * O + j, fin(a2, relu, m0 ? m0 + 2 * O + j : 0));
      ST(o0 + 3 * O + j, fin(a3, relu, m0 ? m0 + 3 * O + j : 0));
    }
  }
  for (; r < B; r++) {
    const float *x0 = x + (size_t)r * xs;
    float *o0 = out + (size_t)r * O;
    const float *m0 = mask ? mask + (size_t)r * O : 0;
    int j = 0;
    for (; j + 16 <= O; j += 16) {
      v128_t a0 = bias ? LD(bias + j) : z, a1 = bias ? LD(bias + j + 4) : z, a2 = bias ? LD(bias + j + 8) : z, a3 = bias ? LD(bias + j + 12) : z;
      const float *w = W + j;
      for (int i = 0; i < I; i++, w += O) {
        v128_t s = SPL(x0[i]);
        FMA(a0, s, LD(w)); FMA(a1, s, LD(w + 4)); FMA(a2, s, LD(w + 8)); FMA(a3, s, LD(w + 12));
      }
      ST(o0 + j, fin(a0, relu, m0 ? m0 + j : 0)); ST(o0 + j + 4, fin(a1, relu, m0 ? m0 + j + 4 : 0));
      ST(o0 + j + 8, fin(a2, relu, m0 ? m0 + j + 8 : 0)); ST(o0 + j + 12, fin(a3, relu, m0 ? m0 + j + 12 : 0));
    }
    for (; j < O; j += 4) {
      v128_t a0 = bias ? LD(bias + j) : z;
      const float *w = W + j;
      for (int i = 0; i < I; i++, w += O) FMA(a0, SPL(x0[i]), LD(w));
      ST(o0 + j, fin(a0, relu, m0 ? m0 + j : 0));
    }
  }
}

/*
 * gW[i, j] = Σ_r x[r, i] dZ[r, j],  gb[j] = Σ_r dZ[r, j]   (overwritten; O multiple of 4).
 * Blocked over 4 inputs × 8 columns.
 */
static void gradw(const float *restrict x, int B, int I, int xs, const float *restrict dZ, int O, float *restrict gW, float *restrict gb) {
  const v128_t z = wasm_f32x4_splat(0.f);
  int i = 0;
  for (; i + 4 <= I; i += 4) {
    float *g0 = gW + (size_t)i * O;
    int j = 0;
    for (; j + 8 <= O; j += 8) {
      v128_t a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z;
      const float *d = dZ + j, *xr = x + i;
      for (int r = 0; r < B; r++, d += O, xr += xs) {
        v128_t d0 = LD(d), d1 = LD(d + 4), s;
        s = SPL(xr[0]); FMA(a00, s, d0); FMA(a01, s, d1);
        s = SPL(xr[1]); FMA(a10, s, d0); FMA(a11, s, d1);
        s = SPL(xr[2]); FMA(a20, s, d0); FMA(a21, s, d1);
        s = SPL(xr[3]); FMA(a30, s, d0); FMA(a31, s, d1);
      }
      ST(g0 + j, a00); ST(g0 + j + 4, a01);
      ST(g0 + O + j, a10); ST(g0 + O + j + 4, a11);
      ST(g0 + 2 * O + j, a20); ST(g0 + 2 * O + j + 4, a21);
      ST(g0 + 3 * O + j, a30); ST(g0 + 3 * O + j + 4, a31);
    }
    for (; j < O; j += 4) {
      v128_t a0 = z, a1 = z, a2 = z, a3 = z;
      const float *d = dZ + j, *xr = x + i;
      for (int r = 0; r < B; r++, d += O, xr += xs) {
        v128_t d0 = LD(d);
        FMA(a0, SPL(xr[0]), d0); FMA(a1, SPL(xr[1]), d0); FMA(a2, SPL(xr[2]), d0); FMA(a3, SPL(xr[3]), d0);
      }
      ST(g0 + j, a0); ST(g0 + O + j, a1); ST(g0 + 2 * O + j, a2); ST(g0 + 3 * O + j, a3);
    }
  }
  for (; i < I; i++) {
    float *g0 = gW + (size_t)i * O;
    for (int j = 0; j < O; j += 4) {
      v128_t a0 = z;
      const float *d = dZ + j, *xr = x + i;
      for (int r = 0; r < B; r++, d += O, xr += xs) FMA(a0, SPL(xr[0]), LD(d));
      ST(g0 + j, a0);
    }
  }
  for (int j = 0; j < O; j += 4) {
    v128_t a0 = z;
    const float *d = dZ + j;
    for (int r = 0; r < B; r++, d += O) a0 = wasm_f32x4_add(a0, LD(d));
    ST(gb + j, a0);
  }
}

/* WT[j, i] = W[i, j] for W [I, O] (both multiples of 4), 4×4 blocks. */
static void transpose(const float *restrict W, int I, int O, float *restrict WT) {
  for (int i = 0; i < I; i += 4) {
    for (int j = 0; j < O; j += 4) {
      const float *w = W + (size_t)i * O + j;
      v128_t r0 = LD(w), r1 = LD(w + O), r2 = LD(w + 2 * O), r3 = LD(w + 3 * O);
      v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7);
      v128_t t2 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
      float *o = WT + (size_t)j * I + i;
      ST(o, wasm_i64x2_shuffle(t0, t2, 0, 2));
      ST(o + I, wasm_i64x2_shuffle(t0, t2, 1, 3));
      ST(o + 2 * I, wasm_i64x2_shuffle(t1, t3, 0, 2));
      ST(o + 3 * I, wasm_i64x2_shuffle(t1, t3, 1, 3));
    }
  }
}

/*
 * Q-values of B rows of x (stride D) through the network with parameters `p`. With `acts`, every
 * layer's output goes to acts[l] (kept for backward); otherwise through the S0/S1 ping-pong
 * (`s0`, `s1`) and the last layer into `q`.
 */
static float *forward(const float *p, const float *x, int B, float **acts, float *s0, float *s1, float *q) {
  const float *in = x;
  int xs = D;
  for (int l = 0; l < NL; l++) {
    int last = l == NL - 1;
    float *out = acts ? acts[l] : last ? q : (l & 1 ? s1 : s0);
    dense(in, B, inP[l], xs, p + kOff[l], p + bOff[l], outP[l], out, !last, 0);
    in = out;
    xs = outP[l];
  }
  return (float *)in;
}

static int argmaxRow(const float *q) {
  int best = 0;
  for (int j = 1; j < A; j++) if (q[j] > q[best]) best = j;
  return best;
}

/* ---- the training step -------------------------------------------------------------------- */

/*
 * One gradient step on the first B rows of the batch buffers. Returns the mean Huber loss; the
 * pre-clip global gradient norm is then grad_norm(). Adam: step = lr / (1 − β1ᵗ) and c2 = 1 − β2ᵗ
 * are computed by the caller (as learning.ts does in float64). targetMode: 0 none, 1 hard copy,
 * 2 soft θ' ← τθ + (1 − τ)θ'.
 */
EXPORT(train_step)
double train_step(int B, int dbl, double gammaN, double delta, double maxNorm, double step, double c2, double b1, double b2,
                  double eps, int targetMode, double tau) {
  /* 1. TD targets y = r + γⁿ (1 − terminated) Q_target(s', a*) */
  float *qt = forward(T, NOBS, B, 0, S0, S1, QT);
  const float *qo = dbl ? forward(P, NOBS, B, 0, S0, S1, QO) : qt;
  for (int r = 0; r < B; r++) {
    int best = argmaxRow(qo + r * AP);
    double boot = TERM[r] ? 0.0 : gammaN * (double)qt[r * AP + best];
    Y[r] = (float)((double)REW[r] + boot);
  }
  /* 2. Q(s, ·), mean Huber loss and dLoss/dQ at the taken actions (float64, as learning.ts) */
  float *q = forward(P, OBS, B, H, 0, 0, 0);
  float *dq = DH[NL - 1];
  for (int i = 0, n = B * AP; i < n; i += 4) ST(dq + i, wasm_f32x4_splat(0.f));
  double loss = 0;
  for (int r = 0; r < B; r++) {
    int a = ACT[r];
    double d = (double)q[r * AP + a] - (double)Y[r];
    double ad = d < 0 ? -d : d;
    loss += ad <= delta ? (0.5 * d * d) / delta : ad - 0.5 * delta;
    double sg = d > 0 ? 1.0 : d < 0 ? -1.0 : d;
    dq[r * AP + a] = (float)((ad <= delta ? d / delta : sg) / B);
  }
  /* 3. backward */
  for (int l = NL - 1; l >= 0; l--) {
    const float *x = l == 0 ? OBS : H[l - 1];
    int xs = l == 0 ? D : inP[l];
    gradw(x, B, inP[l], xs, DH[l], outP[l], G + kOff[l], G + bOff[l]);
    if (l > 0) {
      transpose(P + kOff[l], inP[l], outP[l], WT);
      dense(DH[l], B, outP[l], outP[l], WT, 0, inP[l], DH[l - 1], 0, H[l - 1]);
    }
  }
  /* 4. global norm (float64) and clip factor */
  v128_t s2 = wasm_f64x2_splat(0.0), s2b = wasm_f64x2_splat(0.0);
  for (int i = 0; i < NP; i += 4) {
    v128_t g = LD(G + i);
    v128_t lo = wasm_f64x2_promote_low_f32x4(g), hi = wasm_f64x2_promote_low_f32x4(wasm_i64x2_shuffle(g, g, 1, 0));
    s2 = wasm_f64x2_add(s2, wasm_f64x2_mul(lo, lo));
    s2b = wasm_f64x2_add(s2b, wasm_f64x2_mul(hi, hi));
  }
  s2 = wasm_f64x2_add(s2, s2b);
  double norm = __builtin_sqrt(wasm_f64x2_extract_lane(s2, 0) + wasm_f64x2_extract_lane(s2, 1));
  lastNorm = norm;
  float scale = maxNorm > 0 && norm > maxNorm ? (float)(maxNorm / (norm + 1e-6)) : 1.0f;
  /* 5. Adam (PyTorch form: p −= step·m / (√(v / c2) + ε)) */
  const v128_t vs = SPL(scale), vb1 = SPL((float)b1), v1b1 = SPL((float)(1 - b1)), vb2 = SPL((float)b2), v1b2 = SPL((float)(1 - b2));
  const v128_t vstep = SPL((float)step), vc2 = SPL((float)c2), veps = SPL((float)eps);
  for (int i = 0; i < NP; i += 4) {
    v128_t g = wasm_f32x4_mul(LD(G + i), vs);
    v128_t m = wasm_f32x4_add(wasm_f32x4_mul(vb1, LD(M + i)), wasm_f32x4_mul(v1b1, g));
    v128_t v = wasm_f32x4_add(wasm_f32x4_mul(vb2, LD(V + i)), wasm_f32x4_mul(v1b2, wasm_f32x4_mul(g, g)));
    ST(M + i, m);
    ST(V + i, v);
    v128_t den = wasm_f32x4_add(wasm_f32x4_sqrt(wasm_f32x4_div(v, vc2)), veps);
    ST(P + i, wasm_f32x4_sub(LD(P + i), wasm_f32x4_div(wasm_f32x4_mul(vstep, m), den)));
  }
  /* 6. target network */
  if (targetMode == 1) {
    __builtin_memcpy(T, P, (size_t)NP * 4);
  } else if (targetMode == 2) {
    const v128_t vt = SPL((float)tau), v1t = SPL((float)(1 - tau));
    for (int i = 0; i < NP; i += 4) ST(T + i, wasm_f32x4_add(wasm_f32x4_mul(vt, LD(P + i)), wasm_f32x4_mul(v1t, LD(T + i))));
  }
  return loss / B;
}

/* Target update on its own (same modes as train_step). */
EXPORT(update_target) void update_target(int targetMode, double tau) {
  if (targetMode == 1) __builtin_memcpy(T, P, (size_t)NP * 4);
  else if (targetMode == 2) {
    const v128_t vt = SPL((float)tau), v1t = SPL((float)(1 - tau));
    for (int i = 0; i < NP; i += 4) ST(T + i, wasm_f32x4_add(wasm_f32x4_mul(vt, LD(P + i)), wasm_f32x4_mul(v1t, LD(T + i))));
  }
}

/* Greedy action for the observation in x1_ptr() (online net, or target if which = 1); Q in q1_ptr(). */
EXPORT(act) int act(int which) {
  const float *q = forward(which ? T : P, X1, 1, 0, S0, S1, Q1);
  return argmaxRow(q);
}
