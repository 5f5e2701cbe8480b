/* The AVX2 backend: hand-written AVX2 + FMA intrinsics, threaded with pthreads.
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
 * The vector math (exp, tanh, expm1, log1p and the activations) is in avx2_math.h;
 * the thread pool and the threaded Adam and likelihood, shared with the other
 * backends, in pool.c. Precision bf16's products are avx2_bf16.c's AVX-512 BF16
 * GEMM, reached through the slots at the end of this file on a CPU that has it. */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/backend.h"
#include "../harness/mat.h"
#include "avx2_bf16.h"
#include "avx2_math.h"
#include "pool.h"

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

/* Ap[panel][k][r] = A(i0 + panel MR + r, k0 + k), zero past row m. The vector
 * stores write 8 floats for MR = 6: the 2 extra land where the next k (or the
 * buffer's slack, PACK_SLACK) is written next, so they are overwritten. */
enum { PACK_SLACK = 8 };
static void pack_a(const operand *A, int i0, int m, int k0, int kc, float *restrict ap)
{
    const __m256i six = first_lanes(MR);
    for (int p = 0; p < m; p += MR, ap += (size_t)MR * kc) {
        const int rows = m - p < MR ? m - p : MR;
        if (A->cs == 1) { /* rows contiguous in k: transpose 8x8 blocks (6 real rows) */
            const float *src = A->p + (size_t)(i0 + p) * A->rs + k0;
            int k = 0;
            if (rows == MR) {
                for (; k + 8 <= kc; k += 8) {
                    __m256 r[8];
                    for (int i = 0; i < MR; i++) r[i] = _mm256_loadu_ps(src + (size_t)i * A->rs + k);
                    r[6] = r[7] = _mm256_setzero_ps();
                    transpose8(r);
                    for (int i = 0; i < 8; i++) _mm256_storeu_ps(ap + (size_t)(k + i) * MR, r[i]);
                }
            }
            for (; k < kc; k++)
                for (int r = 0; r < MR; r++)
                    ap[k * MR + r] = r < rows ? src[(size_t)r * A->rs + k] : 0.0f;
        } else { /* A transposed: each k holds the rows side by side */
            const __m256i lanes = rows == MR ? six : first_lanes(rows);
            for (int k = 0; k < kc; k++) {
                const float *src = A->p + (size_t)(k0 + k) * A->cs + (size_t)(i0 + p);
                _mm256_storeu_ps(ap + (size_t)k * MR, _mm256_maskload_ps(src, lanes));
            }
        }
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

float *vae_avx2_scratch(void **state, size_t floats, vae_error *err)
{
    avx2_state *s = *state;
    if (!s && !(s = *state = calloc(1, sizeof *s))) {
        vae_fail(err, "avx2: out of memory for the layer state");
        return NULL;
    }
    if (s->cap < floats) {
        vae_free(s->buf);
        s->cap = 0;
        if (!(s->buf = vae_alloc(floats))) {
            vae_fail(err, "avx2: out of memory for packing buffers (%zu floats)", floats);
            return NULL;
        }
        s->cap = floats;
    }
    return s->buf;
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

/* one part of a threaded GEMM: its rectangle, with its own packing buffers */
typedef struct gemm_task {
    const gemm_job *job;
    float *buf;
    size_t stride, bsize; /* floats per part; the B panels come first */
} gemm_task;

static void gemm_part(void *arg, int part)
{
    const gemm_task *t = arg;
    float *mine = t->buf + (size_t)part * t->stride;
    gemm_thread(t->job, part, mine, mine + t->bsize);
}

static int gemm(void **state, int M, int N, int K, operand A, operand B, float *C, size_t ldc,
                store_mode mode, const float *bias, vae_act act, vae_error *err)
{
    int nt = vae_pool_threads_wanted(2.0 * M * N * K);
    const int mtiles = (M + MR - 1) / MR, ntiles = (N + NR - 1) / NR;
    if (nt > mtiles * ntiles) nt = mtiles * ntiles;
    gemm_job j = { M, N, K, A, B, C, ldc, mode, bias, act, 1, 1 };
    choose_split(M, N, K, nt, &j.tm, &j.tn);

    /* per thread: B panels for its columns (at most NC) and an MC-row block of A */
    const int kc_max = K < KC ? K : KC;
    int ncols = ((ntiles + j.tn - 1) / j.tn) * NR;
    if (ncols > NC) ncols = NC;
    const size_t bsize = (size_t)ncols * kc_max, asize = (size_t)MC * kc_max + PACK_SLACK;
    float *buf = vae_avx2_scratch(state, (size_t)nt * (bsize + asize), err);
    if (!buf) return VAE_FAIL;
    if (nt == 1) {
        gemm_thread(&j, 0, buf, buf + bsize);
        return VAE_OK;
    }
    gemm_task task = { &j, buf, bsize + asize, bsize };
    vae_pool_run(nt, gemm_part, &task);
    return VAE_OK;
}

/* ---------- small shapes: no packing ----------
 * Below SMALL_MACS multiply-adds (the s-curve models' 2-100-1 layers at batch 32
 * are 3200-6400) packing and the 6x16 tiles cost more than the products: these
 * loops read the operands where they are, vectorised over the outputs, with the
 * bias and the activation fused. Narrow outputs (fewer than NARROW) are declined:
 * a vector over 1 or 2 outputs wastes most of its lanes, and naive's column-at-
 * a-time dot products do them faster. */
enum { SMALL_MACS = 1 << 16, NARROW = 8 };

static int small_shape(int B, int n_in, int n_out)
{
    return (double)B * n_in * n_out <= SMALL_MACS;
}

/* y (B x n_out) = act(x W + b), 8 outputs at a time (masked at the end) */
static void small_forward(const float *x, const float *W, const float *b, float *y, int B,
                          int n_in, int n_out, vae_act act)
{
    for (int r = 0; r < B; r++) {
        const float *xr = x + (size_t)r * n_in;
        float *yr = y + (size_t)r * n_out;
        for (int o = 0; o < n_out; o += 16) {
            const __m256i m0 = first_lanes(n_out - o), m1 = first_lanes(n_out - o - 8);
            __m256 a0 = _mm256_maskload_ps(b + o, m0), a1 = _mm256_maskload_ps(b + o + 8, m1);
            for (int i = 0; i < n_in; i++) {
                const __m256 xi = _mm256_broadcast_ss(xr + i);
                const float *Wi = W + (size_t)i * n_out + o;
                a0 = _mm256_fmadd_ps(xi, _mm256_maskload_ps(Wi, m0), a0);
                a1 = _mm256_fmadd_ps(xi, _mm256_maskload_ps(Wi + 8, m1), a1);
            }
            _mm256_maskstore_ps(yr + o, m0, v_act(act, a0));
            _mm256_maskstore_ps(yr + o + 8, m1, v_act(act, a1));
        }
    }
}

/* dW (n_in x n_out) += x^T dpre, each element summed over the rows in order;
 * dx (B x n_in) = dpre W^T unless NULL */
static void small_backward(const float *x, const float *W, const float *dpre, float *dx,
                           float *dW, int B, int n_in, int n_out)
{
    for (int i = 0; i < n_in; i++) {
        float *dWi = dW + (size_t)i * n_out;
        for (int o = 0; o < n_out; o += 16) {
            const __m256i m0 = first_lanes(n_out - o), m1 = first_lanes(n_out - o - 8);
            __m256 a0 = _mm256_setzero_ps(), a1 = a0;
            for (int r = 0; r < B; r++) {
                const __m256 xi = _mm256_broadcast_ss(x + (size_t)r * n_in + i);
                const float *gr = dpre + (size_t)r * n_out + o;
                a0 = _mm256_fmadd_ps(xi, _mm256_maskload_ps(gr, m0), a0);
                a1 = _mm256_fmadd_ps(xi, _mm256_maskload_ps(gr + 8, m1), a1);
            }
            _mm256_maskstore_ps(dWi + o, m0, _mm256_add_ps(_mm256_maskload_ps(dWi + o, m0), a0));
            _mm256_maskstore_ps(dWi + o + 8, m1,
                                _mm256_add_ps(_mm256_maskload_ps(dWi + o + 8, m1), a1));
        }
    }
    if (!dx) return;
    for (int r = 0; r < B; r++) {
        const float *gr = dpre + (size_t)r * n_out;
        for (int i = 0; i < n_in; i++) {
            const float *Wi = W + (size_t)i * n_out;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0;
            for (int o = 0; o < n_out; o += 16) {
                const __m256i m0 = first_lanes(n_out - o), m1 = first_lanes(n_out - o - 8);
                a0 = _mm256_fmadd_ps(_mm256_maskload_ps(gr + o, m0), _mm256_maskload_ps(Wi + o, m0), a0);
                a1 = _mm256_fmadd_ps(_mm256_maskload_ps(gr + o + 8, m1),
                                     _mm256_maskload_ps(Wi + o + 8, m1), a1);
            }
            __m256 s = _mm256_add_ps(a0, a1);
            __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
            h = _mm_add_ps(h, _mm_movehl_ps(h, h));
            h = _mm_add_ss(h, _mm_movehdup_ps(h));
            dx[(size_t)r * n_in + i] = _mm_cvtss_f32(h);
        }
    }
}

/* ---------- the backend ---------- */

static int dense_forward(void **state, const float *x, const float *W, const float *b,
                         float *y, int B, int n_in, int n_out, vae_act act, vae_error *err)
{
    if (B < 1 || n_in < 1 || n_out < 1) return VAE_DECLINED;
    if (small_shape(B, n_in, n_out)) {
        if (n_out < NARROW) return VAE_DECLINED;
        small_forward(x, W, b, y, B, n_in, n_out, act);
        return VAE_OK;
    }
    operand xa = { x, (size_t)n_in, 1 }, wb = { W, (size_t)n_out, 1 };
    return gemm(state, B, n_out, n_in, xa, wb, y, (size_t)n_out, STORE_BIAS, b, act, err);
}

static int dense_backward(void **state, const float *x, const float *W, const float *y,
                          const float *dy, float *dpre, float *dx, float *dW, float *db,
                          int B, int n_in, int n_out, vae_act act, vae_error *err)
{
    if (B < 1 || n_in < 1 || n_out < 1) return VAE_DECLINED;
    const int small = small_shape(B, n_in, n_out);
    if (small && n_out < NARROW) return VAE_DECLINED;
    avx2_dpre_db(act, y, dy, dpre, db, B, n_out);
    if (small) {
        small_backward(x, W, dpre, dx, dW, B, n_in, n_out);
        return VAE_OK;
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

/* Runs before any AVX instruction may: compiled for plain x86-64. */
__attribute__((target("no-avx"))) static int available(char *why, size_t len)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 0;
    snprintf(why, len, "this CPU lacks AVX2 and FMA");
    return -1;
}

/* ---------- precision bf16 ----------
 * The products run on the AVX-512 BF16 GEMM of avx2_bf16.c, built when the
 * compiler has -mavx512bf16 (HAVE_AVX2_BF16) and run only on a CPU that has the
 * instructions: the slots check first, so calling them elsewhere fails cleanly
 * instead of faulting. Everything else (dpre, db, the fp32 path) is this file's. */
#ifdef HAVE_AVX2_BF16

/* vae_cpu_avx512_bf16 runs cpuid, which a virtual machine may trap: asked once.
 * Plain x86-64, like available(): bf16_available may be asked on any CPU. */
__attribute__((target("no-avx"))) static int bf16_cpu(void)
{
    static int known = -1;
    int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (k < 0) {
        k = vae_cpu_avx512_bf16();
        __atomic_store_n(&known, k, __ATOMIC_RELAXED);
    }
    return k;
}

__attribute__((target("no-avx"))) static int bf16_available(char *why, size_t len)
{
    if (bf16_cpu()) return 0;
    snprintf(why, len, "this CPU lacks AVX512-BF16");
    return -1;
}

/* No shape is declined but the empty ones: the reference a declined shape runs
 * is plain loops rounding every operand it reads, and the GEMM was 2.5x (5x3x3)
 * to 300x (32x100x100) faster on every shape tried, including n_out = 1 and
 * B = 1, where the fp32 path hands narrow outputs to naive. */
static int bf16_check(int B, int n_in, int n_out, vae_error *err)
{
    if (B < 1 || n_in < 1 || n_out < 1) return VAE_DECLINED;
    if (!bf16_cpu()) return vae_fail(err, "avx2: precision 'bf16': this CPU lacks AVX512-BF16");
    return VAE_OK;
}

static int dense_forward_bf16(void **state, const float *x, const float *W, const float *b,
                              float *y, int B, int n_in, int n_out, vae_act act, vae_error *err)
{
    const int rc = bf16_check(B, n_in, n_out, err);
    if (rc != VAE_OK) return rc;
    return vae_avx2_bf16_forward(state, x, W, b, y, B, n_in, n_out, act, err);
}

static int dense_backward_bf16(void **state, const float *x, const float *W, const float *y,
                               const float *dy, float *dpre, float *dx, float *dW, float *db,
                               int B, int n_in, int n_out, vae_act act, vae_error *err)
{
    const int rc = bf16_check(B, n_in, n_out, err);
    if (rc != VAE_OK) return rc;
    /* dpre and db in fp32, as the fp32 path has them */
    avx2_dpre_db(act, y, dy, dpre, db, B, n_out);
    return vae_avx2_bf16_backward(state, x, W, dpre, dx, dW, B, n_in, n_out, err);
}
#endif

/* sparse_density, measured (784->400 relu at batch 128, forward + dW, random
 * zeros, 2 threads, interleaved, best of 41): sparse / dense time 0.40 at 15%
 * density, 0.59 at 25%, 1.2 at 35% */
#define SPARSE_DENSITY 0.3f
/* against the bf16 GEMM (the same layer, best of 15, medians of 9 interleaved
 * pairs; the CSR build included): sparse / dense 0.74 at 4%, 0.95 at 7%, 0.98 at
 * 10%, 1.17 at 13%, 1.59 at 19% (MNIST's) */
#define SPARSE_DENSITY_BF16 0.1f

const vae_backend vae_backend_avx2 = {
    .name = "avx2",
    .description = "hand-written AVX2+FMA intrinsics: packed 6x16 GEMM micro-kernel with the "
                   "bias and activation fused, vector exp/tanh/log, threads from the shared pool"
#ifdef HAVE_AVX2_BF16
                   "; bf16 products on an AVX-512 BF16 (vdpbf16ps) packed 12x32 GEMM on CPUs "
                   "that have it"
#endif
    ,
    .available = available,
    .set_threads = vae_pool_set_threads,
    .dense_forward = dense_forward,
    .dense_backward = dense_backward,
    .state_free = state_free,
    .act_forward = avx2_act_forward,
    .act_backward = avx2_act_backward,
    .adam_update = vae_pool_adam,
    .bernoulli_nll = vae_pool_bernoulli,
    .sparse_forward = vae_pool_sparse_forward,
    .sparse_backward = vae_pool_sparse_backward,
    .sparse_density = SPARSE_DENSITY,
#ifdef HAVE_AVX2_BF16
    .sparse_density_bf16 = SPARSE_DENSITY_BF16,
#endif
#ifdef HAVE_AVX2_BF16
    .bf16_available = bf16_available,
    .dense_forward_bf16 = dense_forward_bf16,
    .dense_backward_bf16 = dense_backward_bf16,
#endif
};
