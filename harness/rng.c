#include "rng.h"

#include <immintrin.h>
#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void vae_rng_seed(vae_rng *r, uint64_t seed, uint64_t stream)
{
    /* mix the stream in through its own splitmix round, so (seed, stream) pairs
     * that differ anywhere give unrelated states */
    uint64_t x = stream;
    uint64_t key = seed ^ splitmix64(&x);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&key);
    r->has_spare = 0;
    r->spare = 0;
}

double vae_rng_uniform(vae_rng *r) { return (double)(vae_rng_u64(r) >> 11) * 0x1.0p-53; }

void vae_rng_box_muller(uint64_t a, uint64_t b, float *first, float *second)
{
    double u1 = 1.0 - (double)(a >> 11) * 0x1.0p-53; /* in (0, 1]: log is finite */
    double u2 = (double)(b >> 11) * 0x1.0p-53;
    double rad = sqrt(-2.0 * log(u1));
    double ang = 6.283185307179586 * u2;
    *second = (float)(rad * sin(ang));
    *first = (float)(rad * cos(ang));
}

float vae_rng_normal(vae_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    uint64_t a = vae_rng_u64(r);
    float first;
    vae_rng_box_muller(a, vae_rng_u64(r), &first, &r->spare);
    r->has_spare = 1;
    return first;
}

uint32_t vae_rng_below(vae_rng *r, uint32_t n)
{
    uint32_t limit = (uint32_t)(-n) % n; /* rejection keeps it unbiased */
    for (;;) {
        uint32_t x = vae_rng_u32(r);
        if (x >= limit) return x % n;
    }
}

void vae_rng_shuffle(vae_rng *r, int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)vae_rng_below(r, (uint32_t)i + 1);
        int t = a[i]; a[i] = a[j]; a[j] = t;
    }
}

/* ---------- many normals: the Box-Muller transform in vectors ----------
 * libm's log, sin and cos cost 36 ns a pair here; the same transform in AVX2
 * doubles, four pairs at a time, about 6 (8 with drawing the bits). It cannot
 * promise libm's doubles bit for bit, but it need not: only their rounding to
 * float is kept. Each result v is within a few double ulps of the exact value, as
 * libm's is (measured against libm over 4e8 values, the ranges' edges among them:
 * at most 6 ulps, 6.7e-16 relative), so whenever v (1 - 2^-40) and v (1 + 2^-40)
 * round to the same float, libm's value, inside that interval with a margin of
 * over 1000, rounds to it too: that float is exactly vae_rng_normal's. A pair
 * whose value is nearer than that to a float rounding boundary (about 1 pair in
 * 20000) is done by vae_rng_box_muller itself.
 *
 * log u1, u1 in [2^-53, 1]: u1 = 2^e m with m in [sqrt(1/2), sqrt 2], f = m - 1
 * (exact) and s = f / (2 + f), log m = 2 atanh s = 2 (s + s^3/3 + s^5/5 + ...),
 * |s| <= 0.172, to s^23 (the next term is below 2^-60 of the sum); plus e ln 2 in
 * one fused multiply-add. sin and cos of ang in [0, 2 pi): ang - q pi/2 with q the
 * nearest integer, pi/2 in two parts with fused multiply-adds (exact to about
 * 1e-32, so the result keeps its relative accuracy even next to a zero of cos or
 * sin, which is at least 6e-17 from any double), then Taylor series to r^19 and
 * r^20 on |r| <= pi/4 (the next terms are below 2^-70). */

enum { NORMAL_BLOCK = 256 }; /* pairs drawn before they are transformed */

__attribute__((target("avx2,fma"))) static inline __m256d bm_uniform(__m256i bits)
{
    /* (bits >> 11) 2^-53, exactly: the top 52 bits as 1.f - 1, plus bit 11 as 2^-53 */
    const __m256d one = _mm256_set1_pd(1.0);
    __m256d m = _mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(bits, 12),
                                                    _mm256_castpd_si256(one)));
    __m256i b11 = _mm256_and_si256(_mm256_srli_epi64(bits, 11), _mm256_set1_epi64x(1));
    __m256d low = _mm256_and_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(b11, _mm256_set1_epi64x(1))),
                                _mm256_set1_pd(0x1.0p-53));
    return _mm256_add_pd(_mm256_sub_pd(m, one), low);
}

__attribute__((target("avx2,fma"))) static inline __m256d bm_log(__m256d x)
{
    const __m256d one = _mm256_set1_pd(1.0);
    const __m256i xb = _mm256_castpd_si256(x);
    __m256d m = _mm256_castsi256_pd(_mm256_or_si256(
        _mm256_and_si256(xb, _mm256_set1_epi64x(0x000fffffffffffffLL)), _mm256_castpd_si256(one)));
    const __m256d big = _mm256_cmp_pd(m, _mm256_set1_pd(1.4142135623730951), _CMP_GT_OQ);
    m = _mm256_blendv_pd(m, _mm256_mul_pd(m, _mm256_set1_pd(0.5)), big);
    /* the biased exponent (below 2^11) as a double, through the 2^52 trick */
    const __m256d two52 = _mm256_set1_pd(0x1.0p52);
    __m256d e = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(xb, 52),
                                                                  _mm256_castpd_si256(two52))),
                              two52);
    e = _mm256_add_pd(_mm256_sub_pd(e, _mm256_set1_pd(1023.0)), _mm256_and_pd(big, one));
    const __m256d f = _mm256_sub_pd(m, one);
    const __m256d s = _mm256_div_pd(f, _mm256_add_pd(_mm256_set1_pd(2.0), f)), y = _mm256_mul_pd(s, s);
    __m256d p = _mm256_set1_pd(1.0 / 23);
    static const double inv_odd[] = { 1.0 / 21, 1.0 / 19, 1.0 / 17, 1.0 / 15, 1.0 / 13,
                                      1.0 / 11, 1.0 / 9, 1.0 / 7, 1.0 / 5, 1.0 / 3 };
    for (int i = 0; i < 10; i++) p = _mm256_fmadd_pd(p, y, _mm256_set1_pd(inv_odd[i]));
    const __m256d two_s = _mm256_add_pd(s, s);
    const __m256d log_m = _mm256_fmadd_pd(_mm256_mul_pd(two_s, y), p, two_s);
    const double ln2_hi = 0.6931471805599453, ln2_lo = 2.3190468138462996e-17;
    return _mm256_fmadd_pd(e, _mm256_set1_pd(ln2_hi),
                           _mm256_fmadd_pd(e, _mm256_set1_pd(ln2_lo), log_m));
}

/* cos and sin of ang in [0, 2 pi) */
__attribute__((target("avx2,fma"))) static inline void bm_sincos(__m256d ang, __m256d *c, __m256d *s)
{
    const double pio2_hi = 1.5707963267948966, pio2_lo = 6.123233995736766e-17;
    const __m256d q = _mm256_round_pd(_mm256_mul_pd(ang, _mm256_set1_pd(0.6366197723675814)),
                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256d r = _mm256_fnmadd_pd(q, _mm256_set1_pd(pio2_hi), ang);
    r = _mm256_fnmadd_pd(q, _mm256_set1_pd(pio2_lo), r);
    const __m256d y = _mm256_mul_pd(r, r);
    /* sin r = r + r y S(y), cos r = 1 + y C(y): Taylor coefficients, highest first */
    static const double sin_c[] = { -1.0 / 121645100408832000.0, 1.0 / 355687428096000.0,
                                    -1.0 / 1307674368000.0, 1.0 / 6227020800.0, -1.0 / 39916800.0,
                                    1.0 / 362880.0, -1.0 / 5040.0, 1.0 / 120.0, -1.0 / 6.0 };
    static const double cos_c[] = { 1.0 / 2432902008176640000.0, -1.0 / 6402373705728000.0,
                                    1.0 / 20922789888000.0, -1.0 / 87178291200.0,
                                    1.0 / 479001600.0, -1.0 / 3628800.0, 1.0 / 40320.0,
                                    -1.0 / 720.0, 1.0 / 24.0, -1.0 / 2.0 };
    __m256d ps = _mm256_set1_pd(sin_c[0]), pc = _mm256_set1_pd(cos_c[0]);
    for (int i = 1; i < 9; i++) ps = _mm256_fmadd_pd(ps, y, _mm256_set1_pd(sin_c[i]));
    for (int i = 1; i < 10; i++) pc = _mm256_fmadd_pd(pc, y, _mm256_set1_pd(cos_c[i]));
    const __m256d sr = _mm256_fmadd_pd(_mm256_mul_pd(r, y), ps, r);
    const __m256d cr = _mm256_fmadd_pd(y, pc, _mm256_set1_pd(1.0));
    /* quadrant q (0..4; 4 is 0): cos ang = cos r, -sin r, -cos r, sin r;
     * sin ang = sin r, cos r, -sin r, -cos r */
    const __m256i qi = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(q));
    const __m256i one = _mm256_set1_epi64x(1), two = _mm256_set1_epi64x(2);
    const __m256d swap = _mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_and_si256(qi, one), one));
    const __m256i neg_c = _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_add_epi64(qi, one), two), two);
    const __m256i neg_s = _mm256_cmpeq_epi64(_mm256_and_si256(qi, two), two);
    const __m256d sign = _mm256_set1_pd(-0.0);
    *c = _mm256_xor_pd(_mm256_blendv_pd(cr, sr, swap), _mm256_and_pd(_mm256_castsi256_pd(neg_c), sign));
    *s = _mm256_xor_pd(_mm256_blendv_pd(sr, cr, swap), _mm256_and_pd(_mm256_castsi256_pd(neg_s), sign));
}

/* v to float, and whether every value within 2^-40 of it rounds to the same one */
__attribute__((target("avx2,fma"))) static inline __m128 bm_round(__m256d v, __m128i *sure)
{
    const __m256d d = _mm256_mul_pd(_mm256_andnot_pd(_mm256_set1_pd(-0.0), v),
                                    _mm256_set1_pd(0x1.0p-40));
    const __m128 lo = _mm256_cvtpd_ps(_mm256_sub_pd(v, d)), hi = _mm256_cvtpd_ps(_mm256_add_pd(v, d));
    *sure = _mm_cmpeq_epi32(_mm_castps_si128(lo), _mm_castps_si128(hi));
    return lo;
}

/* out[2k], out[2k + 1] = the pair vae_rng_box_muller makes of a[k], b[k] */
__attribute__((target("avx2,fma"))) static void box_muller_avx2(const uint64_t *a,
                                                                 const uint64_t *b, size_t pairs,
                                                                 float *out)
{
    size_t k = 0;
    for (; k + 4 <= pairs; k += 4) {
        const __m256d u1 = _mm256_sub_pd(_mm256_set1_pd(1.0),
                                         bm_uniform(_mm256_loadu_si256((const __m256i *)(a + k))));
        const __m256d u2 = bm_uniform(_mm256_loadu_si256((const __m256i *)(b + k)));
        const __m256d rad = _mm256_sqrt_pd(_mm256_mul_pd(_mm256_set1_pd(-2.0), bm_log(u1)));
        __m256d c, s;
        bm_sincos(_mm256_mul_pd(_mm256_set1_pd(6.283185307179586), u2), &c, &s);
        __m128i sure_c, sure_s;
        const __m128 fc = bm_round(_mm256_mul_pd(rad, c), &sure_c);
        const __m128 fs = bm_round(_mm256_mul_pd(rad, s), &sure_s);
        _mm_storeu_ps(out + 2 * k, _mm_unpacklo_ps(fc, fs));
        _mm_storeu_ps(out + 2 * k + 4, _mm_unpackhi_ps(fc, fs));
        const int sure = _mm_movemask_ps(_mm_castsi128_ps(_mm_and_si128(sure_c, sure_s)));
        if (sure != 0xf)
            for (int i = 0; i < 4; i++)
                if (!(sure >> i & 1))
                    vae_rng_box_muller(a[k + i], b[k + i], &out[2 * (k + i)], &out[2 * (k + i) + 1]);
    }
    for (; k < pairs; k++) vae_rng_box_muller(a[k], b[k], &out[2 * k], &out[2 * k + 1]);
}

static int have_avx2(void)
{
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return known;
}

void vae_rng_box_muller_many(const uint64_t *a, const uint64_t *b, size_t pairs, float *out)
{
    if (have_avx2()) {
        box_muller_avx2(a, b, pairs, out);
        return;
    }
    for (size_t k = 0; k < pairs; k++) vae_rng_box_muller(a[k], b[k], &out[2 * k], &out[2 * k + 1]);
}

void vae_rng_normals(vae_rng *r, float *out, size_t n)
{
    size_t i = 0;
    if (n && r->has_spare) { /* the half of a pair vae_rng_normal has in hand */
        out[i++] = r->spare;
        r->has_spare = 0;
    }
    uint64_t a[NORMAL_BLOCK], b[NORMAL_BLOCK];
    while (n - i >= 2) {
        size_t pairs = (n - i) / 2;
        if (pairs > NORMAL_BLOCK) pairs = NORMAL_BLOCK;
        for (size_t k = 0; k < pairs; k++) { /* in the order vae_rng_normal draws them */
            a[k] = vae_rng_u64(r);
            b[k] = vae_rng_u64(r);
        }
        vae_rng_box_muller_many(a, b, pairs, out + i);
        i += 2 * pairs;
    }
    if (i < n) out[i] = vae_rng_normal(r); /* draws a pair and keeps its other half */
}
