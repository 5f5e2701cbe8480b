/* AVX2 + FMA vector math, shared by the avx2 backend (compiled with -mavx2 -mfma)
 * and the openblas backend's element-wise passes (compiled for plain x86-64, which
 * calls these only after checking the CPU): the target pragma lets either use them.
 *
 * Maximum errors against double-precision references, measured over [-40, 40] in
 * steps of 1/4096 by tests/test_backends.c (relative to |f(x)|):
 *   tanh     odd polynomial for |x| < 0.625, else 1 - 2 / (e^{2|x|} + 1);
 *   sigmoid  1 / (1 + e^{-|x|}) or e^{-|x|} / (1 + e^{-|x|});
 *   elu      Taylor series for e^x - 1 when |x| < 0.5, else e^x - 1;
 *   softplus max(x, 0) + log1p(e^{-|x|}), log1p corrected for the rounding of 1 + u;
 * each within 3e-7 (about 2.5 float ulps); exp itself is range-reduced by ln 2 with
 * a degree-6 polynomial, and results below FLT_MIN flush to zero. */
#ifndef VAE_AVX2_MATH_H
#define VAE_AVX2_MATH_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "../harness/activation.h"
#include "../harness/backend.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma")

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

/* log(2^e m) for m in [sqrt(1/2), sqrt 2], with f = m - 1: a Cephes-style
 * polynomial in f, and ln 2 split in two so that e ln 2 adds no rounding */
static inline __m256 v_log_reduced(__m256 f, __m256 e)
{
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
    return _mm256_fmadd_ps(e, V(0.693359375f), _mm256_add_ps(f, y));
}

/* log(1 + u) for u in [0, 1] */
static inline __m256 v_log1p_unit(__m256 u)
{
    __m256 w = _mm256_add_ps(V(1.0f), u);                  /* in [1, 2] */
    __m256 hi = _mm256_cmp_ps(w, V(1.41421356f), _CMP_GT_OQ);
    __m256 e = _mm256_and_ps(hi, V(1.0f));                  /* w = 2^e m, m in [0.707, 1.414] */
    __m256 m = _mm256_blendv_ps(w, _mm256_mul_ps(w, V(0.5f)), hi);
    __m256 lw = v_log_reduced(_mm256_sub_ps(m, V(1.0f)), e);
    /* 1 + u rounded: add back what was lost, (u - (w - 1)) / w */
    __m256 lost = _mm256_sub_ps(u, _mm256_sub_ps(w, V(1.0f)));
    return _mm256_add_ps(lw, _mm256_div_ps(lost, w));
}

/* log x for positive normal x (the Bernoulli likelihood's clamped p and 1 - p):
 * x = 2^e m with m in [sqrt(1/2), sqrt 2) from the float's bits */
static inline __m256 v_log(__m256 x)
{
    __m256i bits = _mm256_castps_si256(x);
    __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127));
    __m256 m = _mm256_castsi256_ps(_mm256_or_si256(
        _mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f800000)));
    __m256 big = _mm256_cmp_ps(m, V(1.41421356f), _CMP_GT_OQ); /* m in [1, 2): halve the top */
    m = _mm256_blendv_ps(m, _mm256_mul_ps(m, V(0.5f)), big);
    __m256 ef = _mm256_add_ps(_mm256_cvtepi32_ps(e), _mm256_and_ps(big, V(1.0f)));
    return v_log_reduced(_mm256_sub_ps(m, V(1.0f)), ef);
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
        /* dy * (y > 0), not a mask: NaN or inf in dy stays NaN, as in naive */
        return _mm256_mul_ps(dy, _mm256_and_ps(one, _mm256_cmp_ps(y, zero, _CMP_GT_OQ)));
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

static inline void avx2_act_forward(vae_act act, const float *x, float *y, size_t n)
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

static inline void avx2_act_backward(vae_act act, const float *y, const float *dy, float *dx,
                                     size_t n)
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

/* The dense layer's backward element-wise pass: dpre (B x n_out) = dy * act'(y),
 * summed into db row by row as it goes. */
static inline void avx2_dpre_db(vae_act act, const float *y, const float *dy, float *dpre,
                                float *db, int B, int n_out)
{
    for (int r = 0; r < B; r++) {
        const size_t off = (size_t)r * n_out;
        avx2_act_backward(act, y + off, dy + off, dpre + off, (size_t)n_out);
        int o = 0;
        for (; o + 8 <= n_out; o += 8)
            _mm256_storeu_ps(db + o, _mm256_add_ps(_mm256_loadu_ps(db + o),
                                                   _mm256_loadu_ps(dpre + off + o)));
        for (; o < n_out; o++) db[o] += dpre[off + o];
    }
}

/* The Bernoulli likelihood (the backend slot bernoulli_nll, harness/backend.h) for
 * rows r0..r1-1: the logs in float vectors, the per-pixel terms and the row sums
 * in double, as the reference loop in harness/likelihood.c has them. */
static inline void avx2_bernoulli_rows(const float *x, int x_rows, const float *p, int r0,
                                       int r1, int D, const vae_bce_clamp *c, double *nll,
                                       float *dout, float scale)
{
    const __m256 keep_lo = V(c->keep_lo), keep_hi = V(c->keep_hi), one = V(1.0f),
                 vscale = V(scale);
    for (int r = r0; r < r1; r++) {
        const float *xr = x + (size_t)(r % x_rows) * D, *pr = p + (size_t)r * D;
        float *g = dout ? dout + (size_t)r * D : NULL;
        __m256d sum_lo = _mm256_setzero_pd(), sum_hi = _mm256_setzero_pd();
        for (int j = 0; j < D; j += 8) {
            __m256i lanes = first_lanes(D - j);
            __m256 pj = _mm256_maskload_ps(pr + j, lanes), t = _mm256_maskload_ps(xr + j, lanes);
            __m256 keep = _mm256_and_ps(_mm256_cmp_ps(pj, keep_lo, _CMP_GE_OQ),
                                        _mm256_cmp_ps(pj, keep_hi, _CMP_LE_OQ));
            __m256 low = _mm256_cmp_ps(pj, keep_lo, _CMP_LT_OQ); /* NaN: neither: high */
            __m256 pl = _mm256_blendv_ps(_mm256_blendv_ps(V(c->high_p), V(c->low_p), low), pj, keep);
            __m256 ql = _mm256_blendv_ps(_mm256_blendv_ps(V(c->high_q), V(c->low_q), low),
                                         _mm256_sub_ps(one, pj), keep);
            __m256 lp = v_log(pl), lq = v_log(ql);
            /* term = t log p + (1 - t) log q, in double (masked-off lanes load 0: t = 0
             * and log of the clamp value; they are dropped by the mask below) */
            __m256 term_mask = _mm256_castsi256_ps(lanes);
            lp = _mm256_and_ps(lp, term_mask);
            lq = _mm256_and_ps(lq, term_mask);
            __m256d t0 = _mm256_cvtps_pd(_mm256_castps256_ps128(t)),
                    t1 = _mm256_cvtps_pd(_mm256_extractf128_ps(t, 1));
            __m256d lp0 = _mm256_cvtps_pd(_mm256_castps256_ps128(lp)),
                    lp1 = _mm256_cvtps_pd(_mm256_extractf128_ps(lp, 1));
            __m256d lq0 = _mm256_cvtps_pd(_mm256_castps256_ps128(lq)),
                    lq1 = _mm256_cvtps_pd(_mm256_extractf128_ps(lq, 1));
            const __m256d done = _mm256_set1_pd(1.0);
            sum_lo = _mm256_add_pd(sum_lo, _mm256_add_pd(_mm256_mul_pd(t0, lp0),
                                                         _mm256_mul_pd(_mm256_sub_pd(done, t0), lq0)));
            sum_hi = _mm256_add_pd(sum_hi, _mm256_add_pd(_mm256_mul_pd(t1, lp1),
                                                         _mm256_mul_pd(_mm256_sub_pd(done, t1), lq1)));
            if (g) { /* scale (p - t) / (p (1 - p)), zero where clamped */
                __m256 d = _mm256_div_ps(_mm256_sub_ps(pj, t),
                                         _mm256_mul_ps(pj, _mm256_sub_ps(one, pj)));
                d = _mm256_and_ps(_mm256_mul_ps(vscale, d), keep);
                _mm256_maskstore_ps(g + j, lanes, d);
            }
        }
        __m256d s4 = _mm256_add_pd(sum_lo, sum_hi);
        __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
        nll[r] = -(_mm_cvtsd_f64(s2) + _mm_cvtsd_f64(_mm_unpackhi_pd(s2, s2)));
    }
}

/* One Adam update of p[lo..hi) (lo and hi multiples of 8), the same operations in
 * the same order as naive's loop (no FMA contraction): bit-identical to it. */
static inline void avx2_adam_range(float *p, float *g, float *m, float *v, size_t lo, size_t hi,
                                   const vae_adam_step *s)
{
    const float step = s->lr / s->bias1, inv_sqrt_b2 = 1.0f / __builtin_sqrtf(s->bias2);
    const __m256 b1 = V(s->beta1), c1 = V(1.0f - s->beta1), b2 = V(s->beta2),
                 c2 = V(1.0f - s->beta2), vstep = V(step), vinv = V(inv_sqrt_b2), veps = V(s->eps);
    for (size_t i = lo; i < hi; i += 8) {
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
}

/* ---- a dense layer on a CSR input (the sparse slots, harness/backend.h) ---- */

/* rows r0..r1-1 of y (rows x n_out) = act(x W + b), 32 outputs at a time so a
 * slice of W stays in cache across the rows */
static inline void avx2_sparse_forward_rows(const vae_csr *x, const float *W, const float *b,
                                            float *y, int n_out, vae_act act, int r0, int r1)
{
    for (int o = 0; o < n_out; o += 32) {
        __m256i m[4];
        __m256 bias[4];
        for (int q = 0; q < 4; q++) {
            m[q] = first_lanes(n_out - o - 8 * q);
            bias[q] = _mm256_maskload_ps(b + o + 8 * q, m[q]);
        }
        const int full = o + 32 <= n_out;
        for (int r = r0; r < r1; r++) {
            __m256 a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3];
            for (int k = x->ptr[r]; k < x->ptr[r + 1]; k++) {
                const __m256 v = _mm256_broadcast_ss(x->val + k);
                const float *Wc = W + (size_t)x->col[k] * n_out + o;
                if (full) {
                    a0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(Wc), a0);
                    a1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(Wc + 8), a1);
                    a2 = _mm256_fmadd_ps(v, _mm256_loadu_ps(Wc + 16), a2);
                    a3 = _mm256_fmadd_ps(v, _mm256_loadu_ps(Wc + 24), a3);
                } else {
                    a0 = _mm256_fmadd_ps(v, _mm256_maskload_ps(Wc, m[0]), a0);
                    a1 = _mm256_fmadd_ps(v, _mm256_maskload_ps(Wc + 8, m[1]), a1);
                    a2 = _mm256_fmadd_ps(v, _mm256_maskload_ps(Wc + 16, m[2]), a2);
                    a3 = _mm256_fmadd_ps(v, _mm256_maskload_ps(Wc + 24, m[3]), a3);
                }
            }
            float *yr = y + (size_t)r * n_out + o;
            _mm256_maskstore_ps(yr, m[0], v_act(act, a0));
            _mm256_maskstore_ps(yr + 8, m[1], v_act(act, a1));
            _mm256_maskstore_ps(yr + 16, m[2], v_act(act, a2));
            _mm256_maskstore_ps(yr + 24, m[3], v_act(act, a3));
        }
    }
}

/* columns c0..c1-1 (c0 a multiple of 8) of: dpre = dy act'(y); db += colsum(dpre);
 * dW += x^T dpre, the last by x's columns (x->cptr: vae_csr_transpose), so each
 * slice of dW is read and written once. Every element is summed over the rows in
 * order, so a split by columns does not change the result. */
static inline void avx2_sparse_backward_cols(const vae_csr *x, const float *y, const float *dy,
                                             float *dpre, float *dW, float *db, int n_out,
                                             vae_act act, int c0, int c1)
{
    for (int o = c0; o < c1; o += 32) {
        __m256i m[4];
        for (int q = 0; q < 4; q++) m[q] = first_lanes((c1 < o + 32 ? c1 : o + 32) - o - 8 * q);
        __m256 s[4];
        for (int q = 0; q < 4; q++) s[q] = _mm256_maskload_ps(db + o + 8 * q, m[q]);
        for (int r = 0; r < x->rows; r++) {
            const size_t off = (size_t)r * n_out + o;
            for (int q = 0; q < 4; q++) {
                const __m256 g = v_act_grad(act, _mm256_maskload_ps(y + off + 8 * q, m[q]),
                                            _mm256_maskload_ps(dy + off + 8 * q, m[q]));
                _mm256_maskstore_ps(dpre + off + 8 * q, m[q], g);
                s[q] = _mm256_add_ps(s[q], g);
            }
        }
        for (int q = 0; q < 4; q++) _mm256_maskstore_ps(db + o + 8 * q, m[q], s[q]);
        const int full = o + 32 <= c1;
        for (int j = 0; j < x->cols; j++) {
            const int k0 = x->cptr[j], k1 = x->cptr[j + 1];
            if (k0 == k1) continue;
            float *Wj = dW + (size_t)j * n_out + o;
            __m256 a0, a1, a2, a3;
            if (full) {
                a0 = _mm256_loadu_ps(Wj), a1 = _mm256_loadu_ps(Wj + 8);
                a2 = _mm256_loadu_ps(Wj + 16), a3 = _mm256_loadu_ps(Wj + 24);
            } else {
                a0 = _mm256_maskload_ps(Wj, m[0]), a1 = _mm256_maskload_ps(Wj + 8, m[1]);
                a2 = _mm256_maskload_ps(Wj + 16, m[2]), a3 = _mm256_maskload_ps(Wj + 24, m[3]);
            }
            for (int k = k0; k < k1; k++) {
                const __m256 v = _mm256_broadcast_ss(x->cval + k);
                const float *g = dpre + (size_t)x->crow[k] * n_out + o;
                if (full) {
                    a0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(g), a0);
                    a1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(g + 8), a1);
                    a2 = _mm256_fmadd_ps(v, _mm256_loadu_ps(g + 16), a2);
                    a3 = _mm256_fmadd_ps(v, _mm256_loadu_ps(g + 24), a3);
                } else {
                    a0 = _mm256_fmadd_ps(v, _mm256_maskload_ps(g, m[0]), a0);
                    a1 = _mm256_fmadd_ps(v, _mm256_maskload_ps(g + 8, m[1]), a1);
                    a2 = _mm256_fmadd_ps(v, _mm256_maskload_ps(g + 16, m[2]), a2);
                    a3 = _mm256_fmadd_ps(v, _mm256_maskload_ps(g + 24, m[3]), a3);
                }
            }
            if (full) {
                _mm256_storeu_ps(Wj, a0), _mm256_storeu_ps(Wj + 8, a1);
                _mm256_storeu_ps(Wj + 16, a2), _mm256_storeu_ps(Wj + 24, a3);
            } else {
                _mm256_maskstore_ps(Wj, m[0], a0), _mm256_maskstore_ps(Wj + 8, m[1], a1);
                _mm256_maskstore_ps(Wj + 16, m[2], a2), _mm256_maskstore_ps(Wj + 24, m[3], a3);
            }
        }
    }
}

#pragma GCC pop_options

#endif
