/* Threads and the threaded element-wise passes the backends share.
 *
 * The pool is the avx2 backend's pthread pool (moved here so every backend can use
 * it): part 0 runs on the caller, workers spin with sched_yield and then sleep, so
 * on a shared machine a waiting thread hands its core to the one working.
 *
 * The element-wise passes (Adam, the Bernoulli likelihood) are split into parts
 * by a runner: the pool (avx2, openblas) or an OpenMP team (onednn, whose own
 * threads are OpenMP's). Each part uses the AVX2 kernels of avx2_math.h when the
 * CPU has AVX2 + FMA (checked at run time: this file is built for plain x86-64),
 * else naive's loops. Adam is element-wise and the likelihood sums each row in
 * one part, so the results do not depend on the number of parts; Adam is bit-
 * identical to naive's loop. */
#ifndef VAE_POOL_H
#define VAE_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "../harness/backend.h"

typedef void (*vae_pool_job)(void *arg, int part);

/* fn(arg, part) for part = 0 .. parts-1, part 0 on the calling thread */
void vae_pool_run(int parts, vae_pool_job fn, void *arg);
/* the pool's thread count (0 = all cores), and the threads worth waking for a
 * job of `flops` (1 below about 4e5: waking a thread costs more) */
void vae_pool_set_threads(int threads);
int vae_pool_threads_wanted(double flops);
int vae_pool_all_cores(void);
/* 1 when the CPU has AVX2 and FMA */
int vae_cpu_avx2(void);

/* ---- the element-wise passes, as parts ---- */

typedef struct vae_adam_job {
    float *p, *g, *m, *v;
    size_t n;
    const vae_adam_step *s;
} vae_adam_job;

/* how many parts Adam over n parameters is worth (memory-bound: small arrays 1) */
int vae_adam_parts(size_t n, int threads);
/* part `part` of `parts` of the update; every part of one job updates its own range */
void vae_adam_part(const vae_adam_job *j, int part, int parts);
/* the whole update on the pool's threads */
void vae_pool_adam(float *p, float *g, float *m, float *v, size_t n, const vae_adam_step *s);

typedef struct vae_bce_job {
    const float *x, *p;
    int x_rows, rows, D;
    const vae_bce_clamp *c;
    double *nll;
    float *dout;
    float scale;
} vae_bce_job;

int vae_bce_parts(int rows, int D, int threads);
void vae_bce_part(const vae_bce_job *j, int part, int parts);
/* the bernoulli_nll slot on the pool's threads (VAE_DECLINED without AVX2: the
 * reference loop is then the same speed) */
int vae_pool_bernoulli(const float *x, int x_rows, const float *p, int rows, int D,
                       const vae_bce_clamp *c, double *nll, float *dout, float scale);

/* ---- the Bernoulli likelihood of one data row under many outputs ----
 * The importance-sampled log p(x) (harness/model.c) scores each data row under
 * hundreds of decoder outputs, so what depends on x alone is found once per row
 * (vae_bce_prepare): a bit per pixel where x = 1, and the grey pixels (neither 0
 * nor 1) as columns and values. Per output, a pixel's t log p + (1 - t) log(1 - p)
 * is log q + t log(p / q) with q = 1 - p (p and q clamped as c says), and
 * t log(p / q) is 0 but on grey pixels. So the log-likelihood is the log of ONE
 * product of a factor per pixel (p where x = 1, else q), taken in float lanes
 * renormalised by their exponents every vae_bce_renorm_blocks(c) factors so they
 * neither underflow nor lose bits, plus a log per grey pixel: where the reference
 * loop takes two logs per pixel. The result differs from the loop's only by
 * rounding (both are within a few 1e-6 nats of the exact value on MNIST's 784
 * pixels). Needs AVX2 and FMA and clamp values that are normal floats
 * (vae_bce_product_usable). */
int vae_bce_product_usable(const vae_bce_clamp *c);
int vae_bce_renorm_blocks(const vae_bce_clamp *c);
/* the bytes of a row's bits (room for the 16-lane kernel's loads) */
static inline int vae_bce_ones_bytes(int D) { return (D + 15) / 16 * 2; }
/* x (D values) prepared: ones (vae_bce_ones_bytes(D)) gets bit j % 8 of byte j / 8
 * set where x_j = 1; col and t (room for D + 7 each) the grey pixels, padded with
 * t = 0 to a multiple of 8; returns that padded count */
int vae_bce_prepare(const float *x, int D, uint8_t *ones, int *col, float *t);
/* -log p(x | p) for one row of D values, with x prepared by vae_bce_prepare, in
 * 16 lanes where the CPU has AVX-512, else 8; vae_bce_product_nll8 is the 8-lane
 * one whatever the CPU (the tests check both) */
double vae_bce_product_nll(const uint8_t *ones, const float *p, int D, const vae_bce_clamp *c,
                           int renorm, const int *grey_col, const float *grey_t, int n_grey);
double vae_bce_product_nll8(const uint8_t *ones, const float *p, int D, const vae_bce_clamp *c,
                            int renorm, const int *grey_col, const float *grey_t, int n_grey);

/* ---- a dense layer on a CSR input (the sparse slots of backend.h) ---- */

typedef struct vae_sparse_job {
    const vae_csr *x;
    const float *W, *b;
    float *y;           /* forward: the output; backward: read only */
    const float *dy;
    float *dpre, *dW, *db;
    int n_out;
    vae_act act;
} vae_sparse_job;

/* the forward pass splits the rows, the backward pass the output columns (each
 * element is summed over the rows in order): results do not depend on parts */
int vae_sparse_parts(const vae_csr *x, int n_out, int threads);
void vae_sparse_forward_part(const vae_sparse_job *j, int part, int parts);
void vae_sparse_backward_part(const vae_sparse_job *j, int part, int parts);
/* the slots on the pool's threads (VAE_DECLINED without AVX2: the dense path) */
int vae_pool_sparse_forward(const vae_csr *x, const float *W, const float *b, float *y, int n_out,
                            vae_act act, vae_error *err);
int vae_pool_sparse_backward(const vae_csr *x, const float *y, const float *dy, float *dpre,
                             float *dW, float *db, int n_out, vae_act act, vae_error *err);

#endif
