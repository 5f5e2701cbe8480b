/* The backend vtable: a table of function pointers chosen at run time by name.
 *
 * Contract for every slot (docs/design.md):
 *  - row-major (batch x features); outputs after inputs; inputs are const;
 *  - dense weights W are (n_in x n_out), so y = act(x W + b);
 *  - parameter gradients ACCUMULATE (+=); the optimizer zeroes them;
 *  - dx == NULL skips the input gradient; dx is overwritten, not accumulated;
 *  - a slot may be NULL, or return VAE_DECLINED for a shape: the naive backend then does it.
 * `state` points at a per-layer slot a backend may fill once (cached primitives,
 * packed weights) and free in state_free. */
#ifndef VAE_BACKEND_H
#define VAE_BACKEND_H

#include <stddef.h>

#include "activation.h"
#include "error.h"

/* The precision of a model's dense products (key 'precision'). fp32 is exact
 * single precision. bf16 is mixed precision: the operands of the three products
 * (x and W forward; x and dpre for dW; dpre and W for dx) are rounded to bfloat16
 * (round to nearest even, subnormals flushed to zero, as the hardware converts),
 * their products summed in fp32; bias, activation, db, the likelihood, Adam and
 * the master weights stay fp32. harness/bf16.c holds the reference. */
typedef enum vae_precision { VAE_PREC_FP32 = 0, VAE_PREC_BF16, VAE_PREC_COUNT } vae_precision;
extern const char *const vae_precision_names[VAE_PREC_COUNT];

typedef struct vae_adam_step {
    float lr, beta1, beta2, eps;
    float bias1, bias2; /* 1 - beta1^t, 1 - beta2^t */
} vae_adam_step;

/* How the Bernoulli likelihood clamps a decoder output p (harness/likelihood.c):
 * p is used as it is when keep_lo <= p <= keep_hi; below, log p and log(1 - p)
 * are taken of low_p and low_q; above (or NaN), of high_p and high_q. */
typedef struct vae_bce_clamp {
    float keep_lo, keep_hi, low_p, low_q, high_p, high_q;
} vae_bce_clamp;

/* A batch of rows stored by their nonzeros (compressed sparse rows): row r's
 * nonzeros are val[ptr[r] .. ptr[r + 1]), in columns col[...], increasing. */
typedef struct vae_csr {
    int rows, cols;
    const int *ptr, *col;
    const float *val;
    /* the same nonzeros by column (CSC), rows increasing, for the weight gradient:
     * column j's are cval[cptr[j] .. cptr[j + 1]) in rows crow[...]; filled by
     * vae_csr_transpose before sparse_backward */
    const int *cptr, *crow;
    const float *cval;
} vae_csr;

typedef struct vae_backend {
    const char *name;
    const char *description;
    /* optional: 0 when usable on this machine, else fills why and returns -1 */
    int (*available)(char *why, size_t why_len);
    /* optional: thread count for backends that have threads */
    void (*set_threads)(int threads);

    /* y (B x n_out) = act(x (B x n_in) W (n_in x n_out) + b (n_out)) */
    int (*dense_forward)(void **state, const float *x, const float *W, const float *b,
                         float *y, int B, int n_in, int n_out, vae_act act, vae_error *err);
    /* dpre (B x n_out, scratch) = dy * act'(y); dW += x^T dpre; db += colsum(dpre);
     * dx = dpre W^T unless dx is NULL. */
    int (*dense_backward)(void **state, const float *x, const float *W, const float *y,
                          const float *dy, float *dpre, float *dx, float *dW, float *db,
                          int B, int n_in, int n_out, vae_act act, vae_error *err);
    void (*state_free)(void *state); /* optional */

    /* y = act(x) over n values (y may be x); dx = dy * act'(y) (dx must not alias y or dy) */
    void (*act_forward)(vae_act act, const float *x, float *y, size_t n);
    void (*act_backward)(vae_act act, const float *y, const float *dy, float *dx, size_t n);

    /* one Adam update of n parameters; zeroes g afterwards */
    void (*adam_update)(float *p, float *g, float *m, float *v, size_t n,
                        const vae_adam_step *s);

    /* optional: the Bernoulli negative log-likelihood (binary cross-entropy) of
     * outputs p (rows x D) against data x, row r pairing with x row r % x_rows:
     * nll[r] = -sum_j x log p + (1 - x) log(1 - p), p clamped as c says; dout
     * (nullable) = scale * d nll / d p, zero where clamped. The reference is the
     * loop in harness/likelihood.c (the naive backend's). */
    int (*bernoulli_nll)(const float *x, int x_rows, const float *p, int rows, int D,
                         const vae_bce_clamp *c, double *nll, float *dout, float scale);

    /* optional: a dense layer whose input x is mostly zero (the data at the first
     * encoder layer; 81% of MNIST's pixels are 0), reading only x's nonzeros:
     * y (B x n_out) = act(x W + b), and, without an input gradient,
     * dpre = dy act'(y); dW += x^T dpre; db += colsum(dpre). The layer uses them
     * for a batch whose density (nonzeros / (B n_in)) is at most sparse_density,
     * the backend's measured break-even; VAE_DECLINED: the dense slots do it. */
    int (*sparse_forward)(const vae_csr *x, const float *W, const float *b, float *y,
                          int n_out, vae_act act, vae_error *err);
    int (*sparse_backward)(const vae_csr *x, const float *y, const float *dy, float *dpre,
                           float *dW, float *db, int n_out, vae_act act, vae_error *err);
    float sparse_density;
    /* the same break-even against the backend's bf16 dense products, which are
     * faster (precision bf16; 0: a bf16 layer never takes the sparse path) */
    float sparse_density_bf16;

    /* optional: the dense slots in precision bf16 (vae_precision), same arguments
     * and contract. A backend without them declines the mode; bf16_available says
     * whether this machine runs them with its bf16 instructions (0), else fills why
     * and returns -1 (a CPU without them declines: no emulated or fp32 run is ever
     * labelled bf16). A shape they return VAE_DECLINED for goes to the reference
     * (vae_bf16_dense_*_ref), which computes the same thing. */
    int (*bf16_available)(char *why, size_t why_len);
    int (*dense_forward_bf16)(void **state, const float *x, const float *W, const float *b,
                              float *y, int B, int n_in, int n_out, vae_act act, vae_error *err);
    int (*dense_backward_bf16)(void **state, const float *x, const float *W, const float *y,
                               const float *dy, float *dpre, float *dx, float *dW, float *db,
                               int B, int n_in, int n_out, vae_act act, vae_error *err);

    /* optional, for `make bench` only: the library's own row-major sgemm,
     * C = op(A) op(B) + beta C with op = transpose when trans_* is 'T', so the
     * bench can show what the layer machinery costs over raw library calls */
    void (*raw_sgemm)(char trans_a, char trans_b, int M, int N, int K, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc);
} vae_backend;

extern const vae_backend vae_backend_naive;

/* The registry: every compiled-in backend in order of preference, fastest first
 * (avx2, onednn, openblas), naive last. */
int vae_backend_count(void);
const vae_backend *vae_backend_at(int i);
/* A compiled-in backend by name, usable here or not; NULL when there is none. */
const vae_backend *vae_backend_named(const char *name);
/* 1 when the backend can run on this machine; else 0, with the reason in why. */
int vae_backend_usable(const vae_backend *be, char *why, size_t len);
/* 1 when the backend runs precision p here; else 0, with the reason in why
 * (fp32: vae_backend_usable; bf16: the slots and bf16_available). */
int vae_backend_precision_usable(const vae_backend *be, vae_precision p, char *why, size_t len);
/* Looks a usable backend up by name; on failure the error lists the usable ones. */
const vae_backend *vae_backend_find(const char *name, vae_error *err);
/* "naive, openblas" style list of usable backends into buf. */
void vae_backend_list(char *buf, size_t len);

/* Threads for every backend that has them (0 = all cores): backends keep one pool
 * each, so the count is the process's, not a model's. vae_threads() is the last
 * count set (0 until then). */
void vae_set_threads(int n);
int vae_threads(void);

/* Dispatch with the naive fallback for empty slots and declined shapes. */
int vae_dense_forward(const vae_backend *be, void **state, const float *x, const float *W,
                      const float *b, float *y, int B, int n_in, int n_out, vae_act act,
                      vae_error *err);
int vae_dense_backward(const vae_backend *be, void **state, const float *x, const float *W,
                       const float *y, const float *dy, float *dpre, float *dx, float *dW,
                       float *db, int B, int n_in, int n_out, vae_act act, vae_error *err);
/* The same in precision bf16: the backend's bf16 slot, the reference for a declined
 * shape; a backend without the slots fails (vae_backend_precision_usable first). */
int vae_dense_forward_bf16(const vae_backend *be, void **state, const float *x, const float *W,
                           const float *b, float *y, int B, int n_in, int n_out, vae_act act,
                           vae_error *err);
int vae_dense_backward_bf16(const vae_backend *be, void **state, const float *x, const float *W,
                            const float *y, const float *dy, float *dpre, float *dx, float *dW,
                            float *db, int B, int n_in, int n_out, vae_act act, vae_error *err);
/* The bf16 reference (the oracle for the bf16 slots): plain loops over operands
 * rounded by vae_bf16_round; every product of two bf16 values is exact in fp32. */
float vae_bf16_round(float f);
int vae_bf16_dense_forward_ref(const float *x, const float *W, const float *b, float *y, int B,
                               int n_in, int n_out, vae_act act);
int vae_bf16_dense_backward_ref(const float *x, const float *W, const float *y, const float *dy,
                                float *dpre, float *dx, float *dW, float *db, int B, int n_in,
                                int n_out, vae_act act);
/* Whether this CPU (and its OS) has AVX512-BF16 and AMX-BF16: 1 or 0 each. */
int vae_cpu_avx512_bf16(void);
int vae_cpu_amx_bf16(void);

void vae_act_forward(const vae_backend *be, vae_act act, const float *x, float *y, size_t n);
void vae_act_backward(const vae_backend *be, vae_act act, const float *y, const float *dy,
                      float *dx, size_t n);
void vae_adam_update(const vae_backend *be, float *p, float *g, float *m, float *v, size_t n,
                     const vae_adam_step *s);

/* x (rows x cols) into CSR arrays (ptr: rows + 1, col and val: max_nnz + cols,
 * the room it writes into); the number of nonzeros, or -1 once a row takes it past
 * max_nnz (too dense). */
long vae_csr_build(const float *x, int rows, int cols, int *ptr, int *col, float *val,
                   long max_nnz);
/* x's column form into cptr (cols + 1), crow and cval (nonzeros), and points x at it */
void vae_csr_transpose(vae_csr *x, int *cptr, int *crow, float *cval);

#endif
