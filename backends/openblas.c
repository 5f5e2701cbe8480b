/* The OpenBLAS backend: the three dense products through cblas_sgemm, with the
 * bias and the activation applied in one pass over the output while it is still
 * warm in cache. Gradients accumulate through beta = 1.
 *
 * OpenBLAS has nothing for the element-wise passes (bias + activation, dy * act',
 * the bias gradient). They use the AVX2 vector math when the CPU has it (this
 * file is compiled for plain x86-64 and checks at run time), else naive's loops;
 * so do standalone activation layers and the Bernoulli likelihood. Adam is
 * naive's loop. */
#include <cblas.h>
#include <string.h>

#include "../harness/backend.h"
#include "avx2_math.h"
#include "pool.h"

static void set_threads(int threads)
{
    if (threads <= 0) threads = openblas_get_num_procs();
    openblas_set_num_threads(threads);
    vae_pool_set_threads(threads);
}

/* y (B x n_out) = act(y + b), row by row */
__attribute__((target("avx2,fma"))) static void bias_act_avx2(float *y, const float *b, int B,
                                                              int n_out, vae_act act)
{
    for (int r = 0; r < B; r++) {
        float *yr = y + (size_t)r * n_out;
        int o = 0;
        for (; o + 8 <= n_out; o += 8)
            _mm256_storeu_ps(yr + o, v_act(act, _mm256_add_ps(_mm256_loadu_ps(yr + o),
                                                               _mm256_loadu_ps(b + o))));
        if (o < n_out) {
            const __m256i m = first_lanes(n_out - o);
            __m256 v = _mm256_add_ps(_mm256_maskload_ps(yr + o, m), _mm256_maskload_ps(b + o, m));
            _mm256_maskstore_ps(yr + o, m, v_act(act, v));
        }
    }
}

static void bias_act(float *y, const float *b, int B, int n_out, vae_act act)
{
    if (vae_cpu_avx2()) {
        bias_act_avx2(y, b, B, n_out, act);
        return;
    }
    for (int r = 0; r < B; r++) {
        float *yr = y + (size_t)r * n_out;
        for (int o = 0; o < n_out; o++) yr[o] += b[o];
        vae_backend_naive.act_forward(act, yr, yr, (size_t)n_out);
    }
}

/* dpre = dy * act'(y) and db += colsum(dpre), one row at a time */
static void dpre_db(const float *y, const float *dy, float *dpre, float *db, int B, int n_out,
                    vae_act act)
{
    if (vae_cpu_avx2()) {
        avx2_dpre_db(act, y, dy, dpre, db, B, n_out);
        return;
    }
    for (int r = 0; r < B; r++) {
        const size_t off = (size_t)r * n_out;
        vae_backend_naive.act_backward(act, y + off, dy + off, dpre + off, (size_t)n_out);
        for (int o = 0; o < n_out; o++) db[o] += dpre[off + o];
    }
}

static void act_forward(vae_act act, const float *x, float *y, size_t n)
{
    if (vae_cpu_avx2()) avx2_act_forward(act, x, y, n);
    else vae_backend_naive.act_forward(act, x, y, n);
}

static void act_backward(vae_act act, const float *y, const float *dy, float *dx, size_t n)
{
    if (vae_cpu_avx2()) avx2_act_backward(act, y, dy, dx, n);
    else vae_backend_naive.act_backward(act, y, dy, dx, n);
}

/* Small products with few outputs go to naive: cblas_sgemm's call and blocking
 * cost more than naive's column-at-a-time dot products there (the s-curve
 * models' 100->1 and 100->2 heads at batch 32). */
enum { SMALL_MACS = 1 << 16, NARROW = 8 };

static int declined(int B, int n_in, int n_out)
{
    return n_out < NARROW && (double)B * n_in * n_out <= SMALL_MACS;
}

static int dense_forward(void **state, const float *x, const float *W, const float *b,
                         float *y, int B, int n_in, int n_out, vae_act act, vae_error *err)
{
    (void)state; (void)err;
    if (declined(B, n_in, n_out)) return VAE_DECLINED;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, n_out, n_in, 1.0f, x, n_in, W,
                n_out, 0.0f, y, n_out);
    bias_act(y, b, B, n_out, act);
    return VAE_OK;
}

static int dense_backward(void **state, const float *x, const float *W, const float *y,
                          const float *dy, float *dpre, float *dx, float *dW, float *db,
                          int B, int n_in, int n_out, vae_act act, vae_error *err)
{
    (void)state; (void)err;
    if (declined(B, n_in, n_out)) return VAE_DECLINED;
    dpre_db(y, dy, dpre, db, B, n_out, act);
    /* dW (n_in x n_out) += x^T dpre */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_in, n_out, B, 1.0f, x, n_in, dpre,
                n_out, 1.0f, dW, n_out);
    /* dx (B x n_in) = dpre W^T */
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, n_in, n_out, 1.0f, dpre, n_out,
                    W, n_out, 0.0f, dx, n_in);
    return VAE_OK;
}

static void raw_sgemm(char ta, char tb, int M, int N, int K, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, ta == 'T' ? CblasTrans : CblasNoTrans,
                tb == 'T' ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

/* sparse_density, measured (784->400 relu at batch 128, forward + dW, random
 * zeros, 2 threads, interleaved, best of 41): sparse / dense time 0.40 at 15%
 * density, 0.80 at 25%, 1.3 at 35% */
#define SPARSE_DENSITY 0.3f

const vae_backend vae_backend_openblas = {
    .name = "openblas",
    .description = "OpenBLAS cblas_sgemm for the dense products (its own threads); bias and "
                   "activation in one pass, AVX2 vector math when the CPU has it",
    .set_threads = set_threads,
    .dense_forward = dense_forward,
    .dense_backward = dense_backward,
    .act_forward = act_forward,
    .act_backward = act_backward,
    .adam_update = vae_pool_adam,
    .bernoulli_nll = vae_pool_bernoulli,
    .sparse_forward = vae_pool_sparse_forward,
    .sparse_backward = vae_pool_sparse_backward,
    .sparse_density = SPARSE_DENSITY,
    .raw_sgemm = raw_sgemm,
};
