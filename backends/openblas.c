/* The OpenBLAS backend: the three dense products through cblas_sgemm, with the
 * bias and the activation applied in one pass over the output while it is still
 * warm in cache. Gradients accumulate through beta = 1. Activations outside dense
 * layers and Adam are element-wise loops OpenBLAS has nothing for: naive does them. */
#include <cblas.h>
#include <string.h>
#include <unistd.h>

#include "../harness/backend.h"

static void set_threads(int threads)
{
    if (threads <= 0) threads = openblas_get_num_procs();
    openblas_set_num_threads(threads);
}

/* y (B x n_out) = act(y + b), row by row */
static void bias_act(float *y, const float *b, int B, int n_out, vae_act act)
{
    for (int r = 0; r < B; r++) {
        float *yr = y + (size_t)r * n_out;
        for (int o = 0; o < n_out; o++) yr[o] += b[o];
        vae_backend_naive.act_forward(act, yr, yr, (size_t)n_out);
    }
}

static int dense_forward(void **state, const float *x, const float *W, const float *b,
                         float *y, int B, int n_in, int n_out, vae_act act, vae_error *err)
{
    (void)state; (void)err;
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
    /* dpre = dy * act'(y) and db += colsum(dpre), one row at a time */
    for (int r = 0; r < B; r++) {
        const size_t off = (size_t)r * n_out;
        vae_backend_naive.act_backward(act, y + off, dy + off, dpre + off, (size_t)n_out);
        for (int o = 0; o < n_out; o++) db[o] += dpre[off + o];
    }
    /* dW (n_in x n_out) += x^T dpre */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_in, n_out, B, 1.0f, x, n_in, dpre,
                n_out, 1.0f, dW, n_out);
    /* dx (B x n_in) = dpre W^T */
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, n_in, n_out, 1.0f, dpre, n_out,
                    W, n_out, 0.0f, dx, n_in);
    return VAE_OK;
}

const vae_backend vae_backend_openblas = {
    .name = "openblas",
    .description = "OpenBLAS cblas_sgemm for the dense products, bias and activation fused "
                   "in one pass; its own threads",
    .set_threads = set_threads,
    .dense_forward = dense_forward,
    .dense_backward = dense_backward,
};
