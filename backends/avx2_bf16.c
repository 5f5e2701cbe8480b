/* The avx2 backend's bf16 products (precision bf16, harness/backend.h): one GEMM
 * on AVX-512 BF16's dot-product instruction, in the GotoBLAS/BLIS style of the
 * fp32 GEMM in avx2.c. This file alone is compiled with -mavx512f -mavx512bw
 * -mavx512vl -mavx512bf16, so nothing in it may run on a CPU without them: its
 * two entry points (avx2_bf16.h) are called only by avx2.c's bf16 slots, after
 * vae_cpu_avx512_bf16() has said yes. The fp32 path never comes here.
 *
 * VDPBF16PS (_mm512_dpbf16_ps) takes bf16 values in pairs: lane j of the fp32
 * accumulator gets a[2j] b[2j] + a[2j+1] b[2j+1]. So K goes in pairs: a packed
 * panel holds, for each pair (k, k+1), one 32-bit word per row of A, holding
 * (a(i, k), a(i, k+1)), and one per column of B, holding (b(k, j), b(k+1, j)). The
 * 12x32 micro-kernel broadcasts a row's word of A against 32 columns of B (two
 * vectors of 16 words) into 24 accumulators, so each pair of k costs 24
 * instructions for 768 multiply-adds. Every product of two bf16 values is exact in
 * fp32, so the sums differ from the reference's only by their order.
 *
 * The packing does the rounding (VCVTNE2PS2BF16: round to nearest even,
 * subnormals to zero, NaN quieted: exactly vae_bf16_round), so each operand is
 * converted once per panel; an odd K is padded with a zero. Transposed operands
 * are handled while packing, as in avx2.c: words come either from two rows of k
 * side by side (interleaved) or from items whose k is contiguous (a 16x16
 * transpose of words).
 *
 * The bias and activation are applied to the tile in registers before it is stored
 * (the activations of avx2_math.h, on the two 256-bit halves). Threads split the
 * output into rectangles of whole tiles and the K blocking depends on K alone, so
 * every element is summed in the same order whatever the thread count. */
#include <immintrin.h>
#include <stdint.h>

#include "../harness/backend.h"
#include "avx2_bf16.h"
#include "avx2_math.h"
#include "pool.h"

/* KC bounds a K block (in k, not pairs): a B panel of KC/2 x 32 words (16 KB at
 * 256) stays in the L1 cache while the 12-row panels of A (6 KB) stream past it.
 * MC rows of A cover a batch of 128 in one block (12 panels of 12). SLACK: room
 * for the packing's overlapping stores past the last A panel. */
enum { MR = 12, NR = 32, KC = 256, MC = 144, NC = 1024, SLACK = 16 };

/* element (i, k) of A, or (k, j) of B, is p[i * rs + k * cs]: one of rs, cs is 1 */
typedef struct operand {
    const float *p;
    size_t rs, cs;
} operand;

typedef enum { STORE_SET, STORE_ADD, STORE_BIAS } store_mode;

typedef struct gemm_job {
    int M, N, K, kc; /* kc: the K block, the same for every thread */
    operand A, B;
    float *C;
    size_t ldc;
    store_mode mode;
    const float *bias; /* STORE_BIAS: C = bias + AB, then the activation */
    vae_act act;
    int tm, tn; /* threads split M into tm parts, N into tn */
} gemm_job;

/* the mask of the first n (0..16) lanes */
static inline __mmask16 lanes16(int n)
{
    n = n < 0 ? 0 : n > 16 ? 16 : n;
    return (__mmask16)((1u << n) - 1u);
}

/* 16 floats of k (lo) and of k + 1 (hi) into 16 words (lo[t], hi[t]) */
static inline __m512i pair_words(__m512 lo, __m512 hi)
{
    /* cvtne2ps puts lo's 16 bf16 in halves 0..15 and hi's in 16..31; word t
     * takes halves t and 16 + t */
    static const uint16_t interleave[32] = { 0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,
                                             21, 6, 22, 7, 23, 8,  24, 9,  25, 10, 26,
                                             11, 27, 12, 28, 13, 29, 14, 30, 15, 31 };
    const __m512i idx = _mm512_loadu_si512(interleave);
    return _mm512_permutexvar_epi16(idx, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

/* Words for `items` (<= 16) items laid side by side (item t at p[t]), k at
 * p[k * k_stride], for kc values of k: word row q (pair 2q, 2q + 1) goes to
 * dst + q * dst_stride, 16 words (those past `items` zero). Rows are stored in
 * order, so when dst_stride < 16 each one's extra words are overwritten by the
 * next (the last ones land in the buffer's slack). */
static void pack_interleaved(const float *p, size_t k_stride, int items, int kc, uint32_t *dst,
                             size_t dst_stride)
{
    const __mmask16 m = lanes16(items);
    int k = 0;
    for (; k + 2 <= kc; k += 2, dst += dst_stride) {
        const float *lo = p + (size_t)k * k_stride;
        const __m512i w = pair_words(_mm512_maskz_loadu_ps(m, lo),
                                     _mm512_maskz_loadu_ps(m, lo + k_stride));
        _mm512_storeu_si512(dst, w);
    }
    if (k < kc) /* odd K: the pair's second value is a zero */
        _mm512_storeu_si512(dst, pair_words(_mm512_maskz_loadu_ps(m, p + (size_t)k * k_stride),
                                            _mm512_setzero_ps()));
}

/* r[i] <- column i of the 16x16 block of words in r[0..15] */
static inline void transpose16(__m512i r[16])
{
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) { /* per 128-bit lane: a0 b0 a1 b1 | a2 b2 a3 b3 */
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) { /* r[i + e], lane L: column 4L + e of rows i..i+3 */
        r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int e = 0; e < 4; e++) { /* gather lane L of r[e], r[4 + e], r[8 + e], r[12 + e] */
        const __m512i s0 = _mm512_shuffle_i32x4(r[e], r[4 + e], 0x44);
        const __m512i s1 = _mm512_shuffle_i32x4(r[e], r[4 + e], 0xee);
        const __m512i s2 = _mm512_shuffle_i32x4(r[8 + e], r[12 + e], 0x44);
        const __m512i s3 = _mm512_shuffle_i32x4(r[8 + e], r[12 + e], 0xee);
        t[e] = _mm512_shuffle_i32x4(s0, s2, 0x88);
        t[4 + e] = _mm512_shuffle_i32x4(s0, s2, 0xdd);
        t[8 + e] = _mm512_shuffle_i32x4(s1, s3, 0x88);
        t[12 + e] = _mm512_shuffle_i32x4(s1, s3, 0xdd);
    }
    for (int i = 0; i < 16; i++) r[i] = t[i];
}

/* The same words for items whose k is contiguous (item t's k at p[t * item_stride
 * + k]): 32 values of k (16 pairs) per item convert into one vector of words,
 * and a transpose turns 16 items' vectors into 16 rows of pairs. */
static void pack_transposed(const float *p, size_t item_stride, int items, int kc, uint32_t *dst,
                            size_t dst_stride)
{
    for (int k = 0; k < kc; k += 32) {
        const int left = kc - k, pairs = left >= 32 ? 16 : (left + 1) / 2;
        const __mmask16 m0 = lanes16(left), m1 = lanes16(left - 16);
        __m512i r[16];
        for (int t = 0; t < 16; t++) {
            if (t < items) {
                const float *s = p + (size_t)t * item_stride + k;
                r[t] = (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, s + 16),
                                                    _mm512_maskz_loadu_ps(m0, s));
            } else {
                r[t] = _mm512_setzero_si512();
            }
        }
        transpose16(r);
        for (int q = 0; q < pairs; q++)
            _mm512_storeu_si512(dst + (size_t)(k / 2 + q) * dst_stride, r[q]);
    }
}

/* Ap[panel][q][r] = the word of rows i0 + panel MR + r, pair q of k0 .. k0 + kc,
 * zero past row m */
static void pack_a(const operand *A, int i0, int m, int k0, int kc, uint32_t *restrict ap)
{
    const size_t pairs = (size_t)(kc + 1) / 2;
    for (int p = 0; p < m; p += MR, ap += MR * pairs) {
        const int rows = m - p < MR ? m - p : MR;
        if (A->cs == 1) /* rows contiguous in k */
            pack_transposed(A->p + (size_t)(i0 + p) * A->rs + k0, A->rs, rows, kc, ap, MR);
        else /* A transposed: each k holds the rows side by side */
            pack_interleaved(A->p + (size_t)k0 * A->cs + (size_t)(i0 + p), A->cs, rows, kc, ap,
                             MR);
    }
}

/* Bp[q][c] = the word of column j0 + c, pair q, for one panel of NR columns;
 * words past column n are zero, or (the second half when n <= 16) not written:
 * the kernel for such a panel reads only the first half. */
static void pack_b_panel(const operand *B, int k0, int kc, int j0, int n, uint32_t *restrict bp)
{
    for (int g = 0; g < NR; g += 16) {
        const int items = n - g < 16 ? n - g : 16;
        if (items <= 0) break;
        if (B->cs == 1) /* rows of B contiguous */
            pack_interleaved(B->p + (size_t)k0 * B->rs + (size_t)(j0 + g), B->rs, items, kc,
                             bp + g, NR);
        else /* B transposed: column j contiguous in k */
            pack_transposed(B->p + (size_t)(j0 + g) * B->cs + (size_t)k0 * B->rs, B->cs, items,
                            kc, bp + g, NR);
    }
}

/* the activation on 16 lanes: avx2_math.h's, on each 256-bit half */
static inline __m512 act16(vae_act act, __m512 v)
{
    const __m256 lo = v_act(act, _mm512_castps512_ps256(v));
    const __m256 hi = v_act(act, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    return _mm512_castpd_ps(
        _mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
}

/* Stores row r of a tile: v0, v1 its two accumulators (v1 unused when nv = 1) */
static inline __attribute__((always_inline)) void
store_row(float *cr, __m512 v0, __m512 v1, int nr, store_mode mode, __m512 bias0, __m512 bias1,
          vae_act act, const int nv)
{
    if (nr == NR) {
        if (mode == STORE_ADD) {
            v0 = _mm512_add_ps(_mm512_loadu_ps(cr), v0);
            v1 = _mm512_add_ps(_mm512_loadu_ps(cr + 16), v1);
        } else if (mode == STORE_BIAS) {
            v0 = _mm512_add_ps(bias0, v0);
            v1 = _mm512_add_ps(bias1, v1);
        }
        if (act != VAE_ACT_LINEAR) {
            v0 = act16(act, v0);
            v1 = act16(act, v1);
        }
        _mm512_storeu_ps(cr, v0);
        _mm512_storeu_ps(cr + 16, v1);
        return;
    }
    const __mmask16 m0 = lanes16(nr), m1 = lanes16(nr - 16);
    if (mode == STORE_ADD) {
        v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, cr), v0);
        if (nv > 1) v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, cr + 16), v1);
    } else if (mode == STORE_BIAS) {
        v0 = _mm512_add_ps(bias0, v0);
        if (nv > 1) v1 = _mm512_add_ps(bias1, v1);
    }
    if (act != VAE_ACT_LINEAR) {
        v0 = act16(act, v0);
        if (nv > 1) v1 = act16(act, v1);
    }
    _mm512_mask_storeu_ps(cr, m0, v0);
    if (nv > 1) _mm512_mask_storeu_ps(cr + 16, m1, v1);
}

/* The micro-kernel: a MR x NR tile of C from `pairs` packed pairs of A's rows and
 * B's columns, stored by mode (only the first mr rows, nr columns); nv = 1 when
 * nr <= 16 (half the work: only the first vector of B). The 24 accumulators are
 * named variables, as in avx2.c's kernel, so that they stay in registers. */
static inline __attribute__((always_inline)) void
kernel(int pairs, const uint32_t *restrict a, const uint32_t *restrict b, float *c, size_t ldc,
       int mr, int nr, store_mode mode, const float *bias, vae_act act, const int nv)
{
    __m512 c0a = _mm512_setzero_ps(), c0b = c0a, c1a = c0a, c1b = c0a, c2a = c0a, c2b = c0a;
    __m512 c3a = c0a, c3b = c0a, c4a = c0a, c4b = c0a, c5a = c0a, c5b = c0a;
    __m512 c6a = c0a, c6b = c0a, c7a = c0a, c7b = c0a, c8a = c0a, c8b = c0a;
    __m512 c9a = c0a, c9b = c0a, c10a = c0a, c10b = c0a, c11a = c0a, c11b = c0a;
#define ROW(r, xa, xb)                                                     \
    do {                                                                   \
        const __m512bh ar = (__m512bh)_mm512_set1_epi32((int)a[r]);        \
        xa = _mm512_dpbf16_ps(xa, b0, ar);                                 \
        if (nv > 1) xb = _mm512_dpbf16_ps(xb, b1, ar);                     \
    } while (0)
#pragma GCC unroll 2
    for (int q = 0; q < pairs; q++) {
        const __m512bh b0 = (__m512bh)_mm512_load_si512(b);
        const __m512bh b1 = nv > 1 ? (__m512bh)_mm512_load_si512(b + 16) : b0;
        ROW(0, c0a, c0b);
        ROW(1, c1a, c1b);
        ROW(2, c2a, c2b);
        ROW(3, c3a, c3b);
        ROW(4, c4a, c4b);
        ROW(5, c5a, c5b);
        ROW(6, c6a, c6b);
        ROW(7, c7a, c7b);
        ROW(8, c8a, c8b);
        ROW(9, c9a, c9b);
        ROW(10, c10a, c10b);
        ROW(11, c11a, c11b);
        a += MR;
        b += NR;
    }
#undef ROW
    __m512 bias0 = _mm512_setzero_ps(), bias1 = bias0;
    if (mode == STORE_BIAS) {
        bias0 = _mm512_maskz_loadu_ps(lanes16(nr), bias);
        bias1 = _mm512_maskz_loadu_ps(lanes16(nr - 16), bias + 16);
    }
#define STORE(r, xa, xb) \
    if (mr > r) store_row(c + (r) * ldc, xa, xb, nr, mode, bias0, bias1, act, nv)
    store_row(c, c0a, c0b, nr, mode, bias0, bias1, act, nv);
    STORE(1, c1a, c1b);
    STORE(2, c2a, c2b);
    STORE(3, c3a, c3b);
    STORE(4, c4a, c4b);
    STORE(5, c5a, c5b);
    STORE(6, c6a, c6b);
    STORE(7, c7a, c7b);
    STORE(8, c8a, c8b);
    STORE(9, c9a, c9b);
    STORE(10, c10a, c10b);
    STORE(11, c11a, c11b);
#undef STORE
}

/* split `tiles` tiles into `parts` near-equal ranges; range `i` is [*lo, *hi) */
static void split(int tiles, int parts, int i, int *lo, int *hi)
{
    *lo = (int)((long)tiles * i / parts);
    *hi = (int)((long)tiles * (i + 1) / parts);
}

/* One thread's share: its rectangle of C, packed into its own buffers (no
 * barrier between threads, as in avx2.c). */
static void gemm_thread(const gemm_job *j, int tid, uint32_t *bp, uint32_t *ap)
{
    int mlo, mhi, nlo, nhi;
    split((j->M + MR - 1) / MR, j->tm, tid / j->tn, &mlo, &mhi);
    split((j->N + NR - 1) / NR, j->tn, tid % j->tn, &nlo, &nhi);
    const int i_begin = mlo * MR, i_end = mhi * MR < j->M ? mhi * MR : j->M;
    const int j_begin = nlo * NR, j_end = nhi * NR < j->N ? nhi * NR : j->N;

    for (int jc = j_begin; jc < j_end; jc += NC) {
        const int nc = j_end - jc < NC ? j_end - jc : NC;
        const int panels = (nc + NR - 1) / NR;
        for (int pc = 0; pc < j->K; pc += j->kc) {
            const int kc = j->K - pc < j->kc ? j->K - pc : j->kc, pairs = (kc + 1) / 2;
            for (int q = 0; q < panels; q++) {
                const int n = nc - q * NR < NR ? nc - q * NR : NR;
                pack_b_panel(&j->B, pc, kc, jc + q * NR, n, bp + (size_t)q * NR * pairs);
            }
            /* the first K block sets or adds to C by the mode; the rest add to it;
             * the last applies the activation */
            const store_mode mode = pc == 0 ? j->mode : STORE_ADD;
            const vae_act act =
                pc + kc == j->K && j->mode == STORE_BIAS ? j->act : VAE_ACT_LINEAR;
            for (int ic = i_begin; ic < i_end; ic += MC) {
                const int mc = i_end - ic < MC ? i_end - ic : MC;
                pack_a(&j->A, ic, mc, pc, kc, ap);
                for (int q = 0; q < panels; q++) {
                    const int col = jc + q * NR;
                    const int nr = j->N - col < NR ? j->N - col : NR;
                    const uint32_t *bq = bp + (size_t)q * NR * pairs;
                    const float *bias = j->bias ? j->bias + col : NULL;
                    for (int ir = 0; ir < mc; ir += MR) {
                        const int mr = mc - ir < MR ? mc - ir : MR;
                        float *c = j->C + (size_t)(ic + ir) * j->ldc + col;
                        const uint32_t *aq = ap + (size_t)ir * pairs;
                        if (nr > 16)
                            kernel(pairs, aq, bq, c, j->ldc, mr, nr, mode, bias, act, 2);
                        else
                            kernel(pairs, aq, bq, c, j->ldc, mr, nr, mode, bias, act, 1);
                    }
                }
            }
        }
    }
}

/* How nt threads split C: tm parts of the rows times tn of the columns, by an
 * estimate in cycles of the busiest thread's tiles (24 dot products, one a cycle,
 * per pair of k) and its packing (each thread packs the rows of A and the columns
 * of B it needs). */
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
        const double cost = tiles * 12.0 * K + 0.5 * packed;
        if (best < 0 || cost < best) {
            best = cost;
            *tm_out = tm;
            *tn_out = tn;
        }
    }
}

typedef struct gemm_task {
    const gemm_job *job;
    uint32_t *buf;
    size_t stride, bsize; /* words per part; the B panels come first */
} gemm_task;

static void gemm_part(void *arg, int part)
{
    const gemm_task *t = arg;
    uint32_t *mine = t->buf + (size_t)part * t->stride;
    gemm_thread(t->job, part, mine, mine + t->bsize);
}

static int gemm(void **state, int M, int N, int K, operand A, operand B, float *C, size_t ldc,
                store_mode mode, const float *bias, vae_act act, vae_error *err)
{
    /* a bf16 multiply-add costs about half an fp32 one: the pool's threshold is
     * in fp32 flops */
    int nt = vae_pool_threads_wanted((double)M * N * K);
    const int mtiles = (M + MR - 1) / MR, ntiles = (N + NR - 1) / NR;
    if (nt > mtiles * ntiles) nt = mtiles * ntiles;
    /* K in blocks of at most KC, as equal as pairs allow (784 = 4 x 196, not
     * 3 x 256 + 16, whose last block would pay for C's loads and stores for
     * little work); the blocks depend on K alone */
    const int blocks = (K + KC - 1) / KC;
    int kc = (K + blocks - 1) / blocks;
    kc += kc & 1;
    gemm_job j = { M, N, K, kc, A, B, C, ldc, mode, bias, act, 1, 1 };
    choose_split(M, N, K, nt, &j.tm, &j.tn);

    /* per thread, in 32-bit words: B panels for its columns (at most NC) and an
     * MC-row block of A, each part starting on a cache line */
    const size_t pairs = (size_t)(kc + 1) / 2;
    int ncols = ((ntiles + j.tn - 1) / j.tn) * NR;
    if (ncols > NC) ncols = NC;
    const size_t bsize = (size_t)ncols * pairs, asize = (size_t)MC * pairs + SLACK;
    const size_t stride = (bsize + asize + 15) / 16 * 16;
    float *buf = vae_avx2_scratch(state, (size_t)nt * stride, err);
    if (!buf) return VAE_FAIL;
    gemm_task task = { &j, (uint32_t *)buf, stride, bsize };
    if (nt == 1) gemm_part(&task, 0);
    else vae_pool_run(nt, gemm_part, &task);
    return VAE_OK;
}

int vae_avx2_bf16_forward(void **state, const float *x, const float *W, const float *b, float *y,
                          int B, int n_in, int n_out, vae_act act, vae_error *err)
{
    const operand xa = { x, (size_t)n_in, 1 }, wb = { W, (size_t)n_out, 1 };
    return gemm(state, B, n_out, n_in, xa, wb, y, (size_t)n_out, STORE_BIAS, b, act, err);
}

int vae_avx2_bf16_backward(void **state, const float *x, const float *W, const float *dpre,
                           float *dx, float *dW, int B, int n_in, int n_out, vae_error *err)
{
    /* dW (n_in x n_out) += x^T dpre: A = x^T, element (i, r) at x[r n_in + i] */
    const operand xt = { x, 1, (size_t)n_in }, d = { dpre, (size_t)n_out, 1 };
    if (gemm(state, n_in, n_out, B, xt, d, dW, (size_t)n_out, STORE_ADD, NULL, VAE_ACT_LINEAR,
             err))
        return VAE_FAIL;
    if (!dx) return VAE_OK;
    /* dx (B x n_in) = dpre W^T: B = W^T, element (o, i) at W[i n_out + o] */
    const operand wt = { W, 1, (size_t)n_out };
    return gemm(state, B, n_in, n_out, d, wt, dx, (size_t)n_in, STORE_SET, NULL, VAE_ACT_LINEAR,
                err);
}
