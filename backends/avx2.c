/* The AVX2 backend: hand-written AVX2 + FMA intrinsics, threaded with OpenMP.
 * This file alone is compiled with -mavx2 -mfma; the backend declines to load on
 * a CPU without both.
 *
 * The three dense products go through one GEMM in the style of GotoBLAS/BLIS:
 * operands are packed into panels (A into MR-row panels, B into NR-column panels,
 * K in blocks of KC), and a 6x16 register-blocked micro-kernel (12 accumulators,
 * two B vectors, one broadcast of A) runs over them. Transposed operands are
 * handled while packing, so the kernel sees one layout. The forward pass adds the
 * bias and applies the activation to the tile in registers before it is stored.
 *
 * Results do not depend on the thread count: threads split the output into
 * rectangles, and every element is summed over K in the same order.
 *
 * Vector math (maximum errors against double-precision references, measured
 * over a dense sweep by the tests; see README):
 *   exp      range-reduced by ln 2, degree-6 polynomial; results below FLT_MIN
 *            flush to zero;
 *   tanh     odd polynomial for |x| < 0.625, else 1 - 2 / (e^{2|x|} + 1);
 *   expm1    (elu, softplus') Taylor series for |x| < 0.5, else e^x - 1;
 *   log1p    (softplus) log(1 + u) with a polynomial for log, corrected for the
 *            rounding of 1 + u. */
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/backend.h"
#include "../harness/mat.h"

/* ---------- vector math ---------- */

#define V(x) _mm256_set1_ps(x)

/* e^x. Inputs below -87.3 give 0 (not denormals); inputs above 88 are clamped
 * (no caller needs overflow). NaN propagates: max/min keep their second operand. */
static inline __m256 v_exp(__m256 x)
{
    const __m256 lo = V(-87.33654f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_min_ps(V(88.0f), _mm256_max_ps(lo, x));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, V(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    /* r = x - n ln2, with ln2 split so n * hi is exact */
    __m256 r = _mm256_fnmadd_ps(n, V(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, V(-2.12194440e-4f), r);
    __m256 p = V(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, V(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, V(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, V(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, V(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, V(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, V(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)),
                                  23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

/* e^x - 1 for x <= 0 */
static inline __m256 v_expm1_neg(__m256 x)
{
    /* near 0, e^x - 1 would cancel: the Taylor series to x^8 (remainder < 6e-9 x) */
    __m256 t = V(1.0f / 40320);
    t = _mm256_fmadd_ps(t, x, V(1.0f / 5040));
    t = _mm256_fmadd_ps(t, x, V(1.0f / 720));
    t = _mm256_fmadd_ps(t, x, V(1.0f / 120));
    t = _mm256_fmadd_ps(t, x, V(1.0f / 24));
    t = _mm256_fmadd_ps(t, x, V(1.0f / 6));
    t = _mm256_fmadd_ps(t, x, V(0.5f));
    t = _mm256_fmadd_ps(_mm256_mul_ps(t, x), x, x);
    __m256 big = _mm256_sub_ps(v_exp(x), V(1.0f));
    __m256 near0 = _mm256_cmp_ps(x, V(-0.5f), _CMP_GT_OQ); /* false for NaN: big is NaN */
    return _mm256_blendv_ps(big, t, near0);
}

static inline __m256 v_tanh(__m256 x)
{
    const __m256 sign = V(-0.0f);
    __m256 ax = _mm256_andnot_ps(sign, x);
    /* small |x|: x + x^3 P(x^2) */
    __m256 z = _mm256_mul_ps(x, x);
    __m256 p = V(-5.70498872745e-3f);
    p = _mm256_fmadd_ps(p, z, V(2.06390887954e-2f));
    p = _mm256_fmadd_ps(p, z, V(-5.37397155531e-2f));
    p = _mm256_fmadd_ps(p, z, V(1.33314422036e-1f));
    p = _mm256_fmadd_ps(p, z, V(-3.33332819422e-1f));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
    /* large |x|: 1 - 2 / (e^{2|x|} + 1), |x| capped at 9 where tanh is 1 in float */
    __m256 e = v_exp(_mm256_add_ps(_mm256_min_ps(V(9.0f), ax), _mm256_min_ps(V(9.0f), ax)));
    __m256 t = _mm256_sub_ps(V(1.0f), _mm256_div_ps(V(2.0f), _mm256_add_ps(e, V(1.0f))));
    t = _mm256_or_ps(t, _mm256_and_ps(sign, x));
    return _mm256_blendv_ps(t, p, _mm256_cmp_ps(ax, V(0.625f), _CMP_LT_OQ));
}

/* log(1 + u) for u in [0, 1] */
static inline __m256 v_log1p_unit(__m256 u)
{
    __m256 w = _mm256_add_ps(V(1.0f), u);                  /* in [1, 2] */
    __m256 hi = _mm256_cmp_ps(w, V(1.41421356f), _CMP_GT_OQ);
    __m256 e = _mm256_and_ps(hi, V(1.0f));                  /* w = 2^e m, m in [0.707, 1.414] */
    __m256 m = _mm256_blendv_ps(w, _mm256_mul_ps(w, V(0.5f)), hi);
    __m256 f = _mm256_sub_ps(m, V(1.0f));
    __m256 z = _mm256_mul_ps(f, f);
    __m256 p = V(7.0376836292e-2f);
    p = _mm256_fmadd_ps(p, f, V(-1.1514610310e-1f));
    p = _mm256_fmadd_ps(p, f, V(1.1676998740e-1f));
    p = _mm256_fmadd_ps(p, f, V(-1.2420140846e-1f));
    p = _mm256_fmadd_ps(p, f, V(1.4249322787e-1f));
    p = _mm256_fmadd_ps(p, f, V(-1.6668057665e-1f));
    p = _mm256_fmadd_ps(p, f, V(2.0000714765e-1f));
    p = _mm256_fmadd_ps(p, f, V(-2.4999993993e-1f));
    p = _mm256_fmadd_ps(p, f, V(3.3333331174e-1f));
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, f), z);       /* f^3 P(f) */
    y = _mm256_fmadd_ps(e, V(-2.12194440e-4f), y);
    y = _mm256_fnmadd_ps(z, V(0.5f), y);
    __m256 lw = _mm256_fmadd_ps(e, V(0.693359375f), _mm256_add_ps(f, y));
    /* 1 + u rounded: add back what was lost, (u - (w - 1)) / w */
    __m256 lost = _mm256_sub_ps(u, _mm256_sub_ps(w, V(1.0f)));
    return _mm256_add_ps(lw, _mm256_div_ps(lost, w));
}

static inline __m256 v_act(vae_act act, __m256 x)
{
    const __m256 zero = _mm256_setzero_ps(), sign = V(-0.0f);
    switch (act) {
    case VAE_ACT_RELU:
        return _mm256_max_ps(zero, x); /* x second: NaN propagates, -0 stays -0 */
    case VAE_ACT_TANH:
        return v_tanh(x);
    case VAE_ACT_ELU:
        return _mm256_blendv_ps(v_expm1_neg(_mm256_min_ps(zero, x)), x,
                                _mm256_cmp_ps(x, zero, _CMP_GT_OQ));
    case VAE_ACT_SOFTPLUS: { /* max(x, 0) + log(1 + e^{-|x|}) */
        __m256 u = v_exp(_mm256_or_ps(x, sign));
        return _mm256_add_ps(_mm256_max_ps(zero, x), v_log1p_unit(u));
    }
    case VAE_ACT_SIGMOID: { /* e = e^{-|x|}: 1 / (1 + e) for x >= 0, e / (1 + e) below */
        __m256 e = v_exp(_mm256_or_ps(x, sign));
        __m256 r = _mm256_div_ps(V(1.0f), _mm256_add_ps(V(1.0f), e));
        return _mm256_blendv_ps(_mm256_mul_ps(e, r), r, _mm256_cmp_ps(x, zero, _CMP_GE_OQ));
    }
    default:
        return x;
    }
}

/* dy * act'(x), from the output y */
static inline __m256 v_act_grad(vae_act act, __m256 y, __m256 dy)
{
    const __m256 zero = _mm256_setzero_ps(), one = V(1.0f);
    switch (act) {
    case VAE_ACT_RELU:
        return _mm256_and_ps(dy, _mm256_cmp_ps(y, zero, _CMP_GT_OQ));
    case VAE_ACT_TANH:
        return _mm256_mul_ps(dy, _mm256_fnmadd_ps(y, y, one));
    case VAE_ACT_ELU:
        return _mm256_blendv_ps(_mm256_mul_ps(dy, _mm256_add_ps(y, one)), dy,
                                _mm256_cmp_ps(y, zero, _CMP_GT_OQ));
    case VAE_ACT_SOFTPLUS: /* sigmoid(x) = 1 - e^{-y} */
        return _mm256_mul_ps(dy, _mm256_sub_ps(zero, v_expm1_neg(_mm256_sub_ps(zero, y))));
    case VAE_ACT_SIGMOID:
        return _mm256_mul_ps(dy, _mm256_mul_ps(y, _mm256_sub_ps(one, y)));
    default:
        return dy;
    }
}

/* lane masks for the first n (0..8) floats of a vector */
static const int32_t mask_table[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };
static inline __m256i first_lanes(int n)
{
    n = n < 0 ? 0 : n > 8 ? 8 : n;
    return _mm256_loadu_si256((const __m256i *)(mask_table + 8 - n));
}

static void act_forward(vae_act act, const float *x, float *y, size_t n)
{
    if (act == VAE_ACT_LINEAR) {
        if (y != x) memmove(y, x, n * sizeof *y);
        return;
    }
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, v_act(act, _mm256_loadu_ps(x + i)));
    if (i < n) {
        __m256i m = first_lanes((int)(n - i));
        _mm256_maskstore_ps(y + i, m, v_act(act, _mm256_maskload_ps(x + i, m)));
    }
}

static void act_backward(vae_act act, const float *y, const float *dy, float *dx, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dx + i, v_act_grad(act, _mm256_loadu_ps(y + i), _mm256_loadu_ps(dy + i)));
    if (i < n) {
        __m256i m = first_lanes((int)(n - i));
        __m256 g = v_act_grad(act, _mm256_maskload_ps(y + i, m), _mm256_maskload_ps(dy + i, m));
        _mm256_maskstore_ps(dx + i, m, g);
    }
}

/* ---------- threads ---------- */

static int n_threads; /* 0 until set: all cores */

static void set_threads(int threads)
{
    n_threads = threads > 0 ? threads : omp_get_num_procs();
}

static int threads_wanted(double flops)
{
    /* below this, waking a second thread costs more than it saves */
    if (flops < 4e5) return 1;
    return n_threads > 0 ? n_threads : omp_get_num_procs();
}

/* ---------- GEMM: C (M x N) = A (M x K) B (K x N), with a store mode ---------- */

enum { MR = 6, NR = 16, KC = 256, MC = 96, NC = 2048 };

/* element (i, j) of a matrix is p[i * rs + j * cs]: one of rs, cs is 1 */
typedef struct operand {
    const float *p;
    size_t rs, cs;
} operand;

typedef enum { STORE_SET, STORE_ADD, STORE_BIAS } store_mode;

typedef struct gemm_job {
    int M, N, K;
    operand A, B;
    float *C;
    size_t ldc;
    store_mode mode;
    const float *bias; /* STORE_BIAS: C = bias + AB, then the activation */
    vae_act act;
    int tm, tn; /* threads split M into tm parts, N into tn */
} gemm_job;

/* Ap[panel][k][r] = A(i0 + panel MR + r, k0 + k), zero past row m */
static void pack_a(const operand *A, int i0, int m, int k0, int kc, float *restrict ap)
{
    for (int p = 0; p < m; p += MR, ap += (size_t)MR * kc) {
        const int rows = m - p < MR ? m - p : MR;
        if (A->cs == 1) { /* rows contiguous in k */
            for (int r = 0; r < MR; r++) {
                if (r >= rows) {
                    for (int k = 0; k < kc; k++) ap[k * MR + r] = 0.0f;
                    continue;
                }
                const float *src = A->p + (size_t)(i0 + p + r) * A->rs + k0;
                for (int k = 0; k < kc; k++) ap[k * MR + r] = src[k];
            }
        } else { /* A transposed: each k holds MR consecutive rows */
            for (int k = 0; k < kc; k++) {
                const float *src = A->p + (size_t)(k0 + k) * A->cs + (size_t)(i0 + p) * A->rs;
                for (int r = 0; r < MR; r++) ap[k * MR + r] = r < rows ? src[r * A->rs] : 0.0f;
            }
        }
    }
}

/* r[i] <- column i of the 8x8 block held in r[0..7] */
static inline void transpose8(__m256 r[8])
{
    __m256 t[8], s[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int h = 0; h < 2; h++) { /* rows 0-3, then 4-7 */
        __m256 *u = t + 4 * h, *o = s + 4 * h;
        o[0] = _mm256_shuffle_ps(u[0], u[2], _MM_SHUFFLE(1, 0, 1, 0));
        o[1] = _mm256_shuffle_ps(u[0], u[2], _MM_SHUFFLE(3, 2, 3, 2));
        o[2] = _mm256_shuffle_ps(u[1], u[3], _MM_SHUFFLE(1, 0, 1, 0));
        o[3] = _mm256_shuffle_ps(u[1], u[3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
    }
}

/* Bp[k][c] = B(k0 + k, j0 + c) for one panel of NR columns, zero past column n */
static void pack_b_panel(const operand *B, int k0, int kc, int j0, int n, float *restrict bp)
{
    if (B->cs == 1) { /* rows of B contiguous */
        for (int k = 0; k < kc; k++) {
            const float *src = B->p + (size_t)(k0 + k) * B->rs + j0;
            float *dst = bp + (size_t)k * NR;
            if (n == NR) {
                _mm256_store_ps(dst, _mm256_loadu_ps(src));
                _mm256_store_ps(dst + 8, _mm256_loadu_ps(src + 8));
            } else {
                for (int c = 0; c < NR; c++) dst[c] = c < n ? src[c] : 0.0f;
            }
        }
        return;
    }
    /* B transposed: column j is contiguous in k; transpose 8x8 blocks */
    for (int c8 = 0; c8 < NR; c8 += 8) {
        const float *col = B->p + (size_t)(j0 + c8) * B->cs + (size_t)k0 * B->rs;
        int k = 0;
        if (c8 + 8 <= n && B->rs == 1) {
            for (; k + 8 <= kc; k += 8) {
                __m256 r[8];
                for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(col + (size_t)i * B->cs + k);
                transpose8(r);
                for (int i = 0; i < 8; i++) _mm256_store_ps(bp + (size_t)(k + i) * NR + c8, r[i]);
            }
        }
        for (; k < kc; k++)
            for (int i = 0; i < 8; i++)
                bp[(size_t)k * NR + c8 + i] =
                    c8 + i < n ? col[(size_t)i * B->cs + (size_t)k * B->rs] : 0.0f;
    }
}

/* Stores row r of a tile: v0, v1 are its two accumulators. */
static inline void store_row(float *cr, __m256 v0, __m256 v1, int nr, store_mode mode,
                             __m256 bias0, __m256 bias1, vae_act act)
{
    if (nr == NR) {
        if (mode == STORE_ADD) {
            v0 = _mm256_add_ps(_mm256_loadu_ps(cr), v0);
            v1 = _mm256_add_ps(_mm256_loadu_ps(cr + 8), v1);
        } else if (mode == STORE_BIAS) {
            v0 = _mm256_add_ps(bias0, v0);
            v1 = _mm256_add_ps(bias1, v1);
        }
        _mm256_storeu_ps(cr, v_act(act, v0));
        _mm256_storeu_ps(cr + 8, v_act(act, v1));
        return;
    }
    const __m256i m0 = first_lanes(nr), m1 = first_lanes(nr - 8);
    if (mode == STORE_ADD) {
        v0 = _mm256_add_ps(_mm256_maskload_ps(cr, m0), v0);
        v1 = _mm256_add_ps(_mm256_maskload_ps(cr + 8, m1), v1);
    } else if (mode == STORE_BIAS) {
        v0 = _mm256_add_ps(bias0, v0);
        v1 = _mm256_add_ps(bias1, v1);
    }
    _mm256_maskstore_ps(cr, m0, v_act(act, v0));
    _mm256_maskstore_ps(cr + 8, m1, v_act(act, v1));
}

/* The micro-kernel: a MR x NR tile of C from kc packed columns of A and rows of B,
 * stored by mode (only the first mr rows, nr columns); act is applied last.
 * The twelve accumulators are named variables: as an array, GCC keeps them in
 * memory and the kernel runs at a quarter of the speed. */
static inline void kernel(int kc, const float *restrict a, const float *restrict b, float *c,
                          size_t ldc, int mr, int nr, store_mode mode, const float *bias,
                          vae_act act)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
#define ROW(r, x0, x1)                                   \
    do {                                                 \
        const __m256 ar = _mm256_broadcast_ss(a + (r));  \
        x0 = _mm256_fmadd_ps(ar, b0, x0);                \
        x1 = _mm256_fmadd_ps(ar, b1, x1);                \
    } while (0)
#pragma GCC unroll 4
    for (int k = 0; k < kc; k++) {
        const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        ROW(0, c00, c01);
        ROW(1, c10, c11);
        ROW(2, c20, c21);
        ROW(3, c30, c31);
        ROW(4, c40, c41);
        ROW(5, c50, c51);
        a += MR;
        b += NR;
    }
#undef ROW
    __m256 bias0 = _mm256_setzero_ps(), bias1 = bias0;
    if (mode == STORE_BIAS) {
        bias0 = _mm256_maskload_ps(bias, first_lanes(nr));
        bias1 = _mm256_maskload_ps(bias + 8, first_lanes(nr - 8));
    }
    store_row(c, c00, c01, nr, mode, bias0, bias1, act);
    if (mr > 1) store_row(c + ldc, c10, c11, nr, mode, bias0, bias1, act);
    if (mr > 2) store_row(c + 2 * ldc, c20, c21, nr, mode, bias0, bias1, act);
    if (mr > 3) store_row(c + 3 * ldc, c30, c31, nr, mode, bias0, bias1, act);
    if (mr > 4) store_row(c + 4 * ldc, c40, c41, nr, mode, bias0, bias1, act);
    if (mr > 5) store_row(c + 5 * ldc, c50, c51, nr, mode, bias0, bias1, act);
}

/* split `tiles` tiles into `parts` near-equal ranges; range `i` is [*lo, *hi) */
static void split(int tiles, int parts, int i, int *lo, int *hi)
{
    *lo = (int)((long)tiles * i / parts);
    *hi = (int)((long)tiles * (i + 1) / parts);
}

/* One thread's share: its rectangle of C, packed into its own buffers, so the
 * threads never wait for each other until the end (on a shared machine a
 * barrier waits for the slowest time slice). */
static void gemm_thread(const gemm_job *j, int tid, float *bp, float *ap)
{
    int mlo, mhi, nlo, nhi;
    split((j->M + MR - 1) / MR, j->tm, tid / j->tn, &mlo, &mhi);
    split((j->N + NR - 1) / NR, j->tn, tid % j->tn, &nlo, &nhi);
    const int i_begin = mlo * MR, i_end = mhi * MR < j->M ? mhi * MR : j->M;
    const int j_begin = nlo * NR, j_end = nhi * NR < j->N ? nhi * NR : j->N;

    for (int jc = j_begin; jc < j_end; jc += NC) {
        const int nc = j_end - jc < NC ? j_end - jc : NC;
        const int panels = (nc + NR - 1) / NR;
        for (int pc = 0; pc < j->K; pc += KC) {
            const int kc = j->K - pc < KC ? j->K - pc : KC;
            for (int q = 0; q < panels; q++) {
                const int n = nc - q * NR < NR ? nc - q * NR : NR;
                pack_b_panel(&j->B, pc, kc, jc + q * NR, n, bp + (size_t)q * NR * kc);
            }
            /* the first K block sets or adds to C by the mode; the rest add to it;
             * the last applies the activation */
            const store_mode mode = pc == 0 ? j->mode : STORE_ADD;
            const vae_act act = pc + kc == j->K && j->mode == STORE_BIAS ? j->act : VAE_ACT_LINEAR;
            for (int ic = i_begin; ic < i_end; ic += MC) {
                const int mc = i_end - ic < MC ? i_end - ic : MC;
                pack_a(&j->A, ic, mc, pc, kc, ap);
                for (int q = 0; q < panels; q++) {
                    const int col = jc + q * NR;
                    const int nr = j->N - col < NR ? j->N - col : NR;
                    for (int ir = 0; ir < mc; ir += MR) {
                        const int mr = mc - ir < MR ? mc - ir : MR;
                        kernel(kc, ap + (size_t)ir * kc, bp + (size_t)q * NR * kc,
                               j->C + (size_t)(ic + ir) * j->ldc + col, j->ldc, mr, nr, mode,
                               j->bias ? j->bias + col : NULL, act);
                    }
                }
            }
        }
    }
}

/* Per-layer state: the packing buffers, grown on demand and kept between calls. */
typedef struct avx2_state {
    float *buf;
    size_t cap; /* floats */
} avx2_state;

static void state_free(void *state)
{
    avx2_state *s = state;
    if (!s) return;
    vae_free(s->buf);
    free(s);
}

/* How nt threads split C: tm parts of the rows times tn of the columns. Each
 * thread packs the rows of A and the columns of B it needs, so the estimate
 * (in cycles) counts the busiest thread's tiles and its packing. */
static void choose_split(int M, int N, int K, int nt, int *tm_out, int *tn_out)
{
    const int mtiles = (M + MR - 1) / MR, ntiles = (N + NR - 1) / NR;
    double best = -1;
    for (int tm = nt; tm >= 1; tm--) {
        if (nt % tm) continue;
        const int tn = nt / tm;
        const double tiles = (double)((mtiles + tm - 1) / tm) * ((ntiles + tn - 1) / tn);
        const double packed = ((double)(mtiles + tm - 1) / tm * MR +
                               (double)(ntiles + tn - 1) / tn * NR) * K;
        const double cost = tiles * 6.0 * K + 0.5 * packed; /* 12 FMAs take 6 cycles a k */
        if (best < 0 || cost < best) {
            best = cost;
            *tm_out = tm;
            *tn_out = tn;
        }
    }
}

static int gemm(void **state, int M, int N, int K, operand A, operand B, float *C, size_t ldc,
                store_mode mode, const float *bias, vae_act act, vae_error *err)
{
    int nt = threads_wanted(2.0 * M * N * K);
    const int mtiles = (M + MR - 1) / MR, ntiles = (N + NR - 1) / NR;
    if (nt > mtiles * ntiles) nt = mtiles * ntiles;
    gemm_job j = { M, N, K, A, B, C, ldc, mode, bias, act, 1, 1 };
    choose_split(M, N, K, nt, &j.tm, &j.tn);

    /* per thread: B panels for its columns (at most NC) and an MC-row block of A */
    const int kc_max = K < KC ? K : KC;
    int ncols = ((ntiles + j.tn - 1) / j.tn) * NR;
    if (ncols > NC) ncols = NC;
    const size_t bsize = (size_t)ncols * kc_max, asize = (size_t)MC * kc_max;
    const size_t need = (size_t)nt * (bsize + asize);
    avx2_state *s = *state;
    if (!s && !(s = *state = calloc(1, sizeof *s)))
        return vae_fail(err, "avx2: out of memory for the layer state");
    if (s->cap < need) {
        vae_free(s->buf);
        s->cap = 0;
        if (!(s->buf = vae_alloc(need)))
            return vae_fail(err, "avx2: out of memory for packing buffers (%zu floats)", need);
        s->cap = need;
    }
    if (nt == 1) {
        gemm_thread(&j, 0, s->buf, s->buf + bsize);
        return VAE_OK;
    }
#pragma omp parallel num_threads(nt)
    {
        /* OpenMP may give fewer threads than asked: then some take two parts */
        for (int part = omp_get_thread_num(); part < nt; part += omp_get_num_threads()) {
            float *mine = s->buf + (size_t)part * (bsize + asize);
            gemm_thread(&j, part, mine, mine + bsize);
        }
    }
    return VAE_OK;
}

/* ---------- the backend ---------- */

static int dense_forward(void **state, const float *x, const float *W, const float *b,
                         float *y, int B, int n_in, int n_out, vae_act act, vae_error *err)
{
    if (B < 1 || n_in < 1 || n_out < 1) return VAE_DECLINED;
    operand xa = { x, (size_t)n_in, 1 }, wb = { W, (size_t)n_out, 1 };
    return gemm(state, B, n_out, n_in, xa, wb, y, (size_t)n_out, STORE_BIAS, b, act, err);
}

static int dense_backward(void **state, const float *x, const float *W, const float *y,
                          const float *dy, float *dpre, float *dx, float *dW, float *db,
                          int B, int n_in, int n_out, vae_act act, vae_error *err)
{
    if (B < 1 || n_in < 1 || n_out < 1) return VAE_DECLINED;
    /* dpre = dy * act'(y), row by row, summed into db as it goes */
    for (int r = 0; r < B; r++) {
        const size_t off = (size_t)r * n_out;
        act_backward(act, y + off, dy + off, dpre + off, (size_t)n_out);
        int o = 0;
        for (; o + 8 <= n_out; o += 8)
            _mm256_storeu_ps(db + o, _mm256_add_ps(_mm256_loadu_ps(db + o),
                                                   _mm256_loadu_ps(dpre + off + o)));
        for (; o < n_out; o++) db[o] += dpre[off + o];
    }
    /* dW (n_in x n_out) += x^T dpre: A = x^T, element (i, r) at x[r n_in + i] */
    operand xt = { x, 1, (size_t)n_in }, d = { dpre, (size_t)n_out, 1 };
    if (gemm(state, n_in, n_out, B, xt, d, dW, (size_t)n_out, STORE_ADD, NULL, VAE_ACT_LINEAR,
             err))
        return VAE_FAIL;
    if (!dx) return VAE_OK;
    /* dx (B x n_in) = dpre W^T: B = W^T, element (o, i) at W[i n_out + o] */
    operand wt = { W, 1, (size_t)n_out };
    return gemm(state, B, n_in, n_out, d, wt, dx, (size_t)n_in, STORE_SET, NULL, VAE_ACT_LINEAR,
                err);
}

static void adam_update(float *p, float *g, float *m, float *v, size_t n, const vae_adam_step *s)
{
    /* the same operations, in the same order, as naive's loop (no FMA contraction):
     * the update is bit-identical to the reference */
    const float step = s->lr / s->bias1, inv_sqrt_b2 = 1.0f / __builtin_sqrtf(s->bias2);
    const __m256 b1 = V(s->beta1), c1 = V(1.0f - s->beta1), b2 = V(s->beta2),
                 c2 = V(1.0f - s->beta2), vstep = V(step), vinv = V(inv_sqrt_b2), veps = V(s->eps);
    const long blocks = (long)(n / 8);
#pragma omp parallel for schedule(static) num_threads(n >= (1u << 16) ? threads_wanted(1e9) : 1)
    for (long blk = 0; blk < blocks; blk++) {
        const size_t i = (size_t)blk * 8;
        __m256 gi = _mm256_loadu_ps(g + i);
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(c1, gi));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)),
                                  _mm256_mul_ps(_mm256_mul_ps(c2, gi), gi));
        __m256 den = _mm256_add_ps(_mm256_mul_ps(_mm256_sqrt_ps(vi), vinv), veps);
        __m256 pi = _mm256_sub_ps(_mm256_loadu_ps(p + i),
                                  _mm256_div_ps(_mm256_mul_ps(vstep, mi), den));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        _mm256_storeu_ps(p + i, pi);
        _mm256_storeu_ps(g + i, _mm256_setzero_ps());
    }
    const size_t done = (size_t)blocks * 8;
    if (done < n) vae_backend_naive.adam_update(p + done, g + done, m + done, v + done, n - done, s);
}

/* Runs before any AVX instruction may: compiled for plain x86-64. */
__attribute__((target("no-avx"))) static int available(char *why, size_t len)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 0;
    snprintf(why, len, "this CPU lacks AVX2 and FMA");
    return -1;
}

const vae_backend vae_backend_avx2 = {
    .name = "avx2",
    .description = "hand-written AVX2+FMA intrinsics: packed 6x16 GEMM micro-kernel with the "
                   "bias and activation fused, vector exp/tanh/log, OpenMP threads",
    .available = available,
    .set_threads = set_threads,
    .dense_forward = dense_forward,
    .dense_backward = dense_backward,
    .state_free = state_free,
    .act_forward = act_forward,
    .act_backward = act_backward,
    .adam_update = adam_update,
};
