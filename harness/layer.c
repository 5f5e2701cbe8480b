#include "layer.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "mat.h"

const char *const vae_init_names[VAE_INIT_COUNT] = { "xavier", "pytorch" };

/* A buffer that grows to the largest batch seen; the layers keep their scratch in it. */
typedef struct scratch {
    float *v;
    size_t cap;
} scratch;

static float *scratch_get(scratch *s, size_t n, vae_error *err, const char *what)
{
    if (n > s->cap) {
        float *v = vae_alloc(n);
        if (!v) {
            vae_fail(err, "out of memory for %s scratch (%zu floats)", what, n);
            return NULL;
        }
        vae_free(s->v);
        s->v = v;
        s->cap = n;
    }
    return s->v;
}

/* ---------- dense: y = act(x W + b) ---------- */

static const struct vae_layer_ops dense_ops;

typedef struct dense {
    vae_layer base;
    vae_act act;
    vae_precision precision; /* of the dense products (the sparse path, when a batch is
                                sparse enough for it, reads the exact nonzeros in fp32) */
    void *backend_state; /* owned by the backend */
    scratch dpre;        /* (B x n_out) gradient before the activation */
    /* a mostly-zero input (vae_dense_sparse_input): the last forward's x in CSR,
     * for the backward pass when it gets the same x */
    int sparse_input;
    int *csr_ptr, *csr_col, *csc_ptr, *csc_row;
    float *csr_val, *csc_val;
    size_t ptr_cap, nz_cap, cnz_cap;
    const float *csr_x; /* the x the CSR holds, NULL when the last forward was dense */
    vae_csr csr;
} dense;

/* x in CSR when the backend has the sparse slots and x's density is within its
 * break-even; 0 (dense) otherwise or when out of memory */
static int dense_to_csr(dense *d, const float *x, int B)
{
    const vae_backend *be = d->base.backend;
    const int n_in = d->base.n_in;
    d->csr_x = NULL;
    if (!d->sparse_input || !be->sparse_forward || !be->sparse_backward || B < 1) return 0;
    const float density = d->precision == VAE_PREC_BF16 ? be->sparse_density_bf16
                                                         : be->sparse_density;
    const long max_nnz = (long)(density * (double)B * n_in);
    if (max_nnz < 1) return 0;
    if ((size_t)B + 1 > d->ptr_cap) {
        int *p = realloc(d->csr_ptr, ((size_t)B + 1) * sizeof *p);
        if (!p) return 0;
        d->csr_ptr = p;
        d->ptr_cap = (size_t)B + 1;
    }
    const size_t room = (size_t)max_nnz + (size_t)n_in; /* vae_csr_build's */
    if (room > d->nz_cap) {
        int *c = realloc(d->csr_col, room * sizeof *c);
        if (c) d->csr_col = c;
        float *v = c ? realloc(d->csr_val, room * sizeof *v) : NULL;
        if (v) d->csr_val = v;
        if (!c || !v) return 0;
        d->nz_cap = room;
    }
    if (vae_csr_build(x, B, n_in, d->csr_ptr, d->csr_col, d->csr_val, max_nnz) < 0) return 0;
    d->csr = (vae_csr){ B, n_in, d->csr_ptr, d->csr_col, d->csr_val, NULL, NULL, NULL };
    d->csr_x = x;
    return 1;
}

/* the CSR's column form for the weight gradient; 0 when out of memory */
static int dense_to_csc(dense *d)
{
    const size_t nnz = (size_t)d->csr.ptr[d->csr.rows];
    if (!d->csc_ptr) d->csc_ptr = malloc(((size_t)d->base.n_in + 1) * sizeof *d->csc_ptr);
    if (nnz > d->cnz_cap) {
        free(d->csc_row);
        free(d->csc_val);
        d->csc_row = malloc(nnz * sizeof *d->csc_row);
        d->csc_val = malloc(nnz * sizeof *d->csc_val);
        d->cnz_cap = d->csc_row && d->csc_val ? nnz : 0;
    }
    if (!d->csc_ptr || (nnz && !d->cnz_cap)) return 0;
    vae_csr_transpose(&d->csr, d->csc_ptr, d->csc_row, d->csc_val);
    return 1;
}

static int dense_forward_ops(vae_layer *l, const float *x, float *y, int B, vae_error *err)
{
    dense *d = (dense *)l;
    if (dense_to_csr(d, x, B)) {
        int rc = l->backend->sparse_forward(&d->csr, vae_dense_weights(l), vae_dense_bias(l), y,
                                            l->n_out, d->act, err);
        if (rc != VAE_DECLINED) return rc;
        d->csr_x = NULL;
    }
    if (d->precision == VAE_PREC_BF16)
        return vae_dense_forward_bf16(l->backend, &d->backend_state, x, vae_dense_weights(l),
                                      vae_dense_bias(l), y, B, l->n_in, l->n_out, d->act, err);
    return vae_dense_forward(l->backend, &d->backend_state, x, vae_dense_weights(l),
                             vae_dense_bias(l), y, B, l->n_in, l->n_out, d->act, err);
}

static int dense_forward(vae_layer *l, const float *x, float *y, int B, int training,
                         vae_error *err)
{
    (void)training;
    vae_profile *p = vae_profile_active();
    if (!p) return dense_forward_ops(l, x, y, B, err);
    const double t0 = vae_now_seconds();
    int rc = dense_forward_ops(l, x, y, B, err);
    p->dense_forward += vae_now_seconds() - t0;
    p->dense_calls++;
    return rc;
}

static int dense_backward_ops(vae_layer *l, const float *x, const float *y, const float *dy,
                              float *dx, int B, vae_error *err)
{
    dense *d = (dense *)l;
    float *dpre = scratch_get(&d->dpre, (size_t)B * l->n_out, err, "dense");
    if (!dpre) return VAE_FAIL;
    float *dW = l->grads, *db = l->grads + (size_t)l->n_in * l->n_out;
    if (!dx && d->csr_x == x && d->csr.rows == B && dense_to_csc(d)) {
        int rc = l->backend->sparse_backward(&d->csr, y, dy, dpre, dW, db, l->n_out, d->act, err);
        if (rc != VAE_DECLINED) return rc;
    }
    if (d->precision == VAE_PREC_BF16)
        return vae_dense_backward_bf16(l->backend, &d->backend_state, x, vae_dense_weights(l), y,
                                       dy, dpre, dx, dW, db, B, l->n_in, l->n_out, d->act, err);
    return vae_dense_backward(l->backend, &d->backend_state, x, vae_dense_weights(l), y, dy,
                              dpre, dx, dW, db, B, l->n_in, l->n_out, d->act, err);
}

static int dense_backward(vae_layer *l, const float *x, const float *y, const float *dy,
                          float *dx, int B, vae_error *err)
{
    vae_profile *p = vae_profile_active();
    if (!p) return dense_backward_ops(l, x, y, dy, dx, B, err);
    const double t0 = vae_now_seconds();
    int rc = dense_backward_ops(l, x, y, dy, dx, B, err);
    p->dense_backward += vae_now_seconds() - t0;
    p->dense_calls++;
    return rc;
}

static void dense_destroy(vae_layer *l)
{
    dense *d = (dense *)l;
    if (d->backend_state && l->backend->state_free) l->backend->state_free(d->backend_state);
    vae_free(d->dpre.v);
    free(d->csr_ptr);
    free(d->csr_col);
    free(d->csr_val);
    free(d->csc_ptr);
    free(d->csc_row);
    free(d->csc_val);
}

void vae_dense_sparse_input(vae_layer *l)
{
    if (l->ops == &dense_ops) ((dense *)l)->sparse_input = 1;
}

void vae_dense_set_precision(vae_layer *l, vae_precision p)
{
    if (l->ops == &dense_ops) ((dense *)l)->precision = p;
}

static const vae_layer_ops dense_ops = { "dense", dense_forward, dense_backward, dense_destroy };

vae_layer *vae_dense_new(int n_in, int n_out, vae_act act, const vae_backend *be)
{
    dense *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->base = (vae_layer){ &dense_ops, n_in, n_out, (size_t)n_in * n_out + n_out,
                           NULL, NULL, be };
    d->act = act;
    return &d->base;
}

float *vae_dense_weights(vae_layer *l) { return l->params; }
float *vae_dense_bias(vae_layer *l) { return l->params + (size_t)l->n_in * l->n_out; }

void vae_dense_init(vae_layer *l, vae_init kind, float magnitude, vae_rng *rng)
{
    float *W = vae_dense_weights(l), *b = vae_dense_bias(l);
    size_t nw = (size_t)l->n_in * l->n_out;
    double a = kind == VAE_INIT_PYTORCH ? 1.0 / sqrt((double)l->n_in)
                                        : sqrt(2.0 * magnitude / (l->n_in + l->n_out));
    for (size_t i = 0; i < nw; i++) W[i] = (float)(a * (2.0 * vae_rng_uniform(rng) - 1.0));
    for (int o = 0; o < l->n_out; o++)
        b[o] = kind == VAE_INIT_PYTORCH ? (float)(a * (2.0 * vae_rng_uniform(rng) - 1.0)) : 0.0f;
}

/* ---------- activation: y = act(x), no parameters ---------- */

typedef struct activation {
    vae_layer base;
    vae_act act;
} activation;

static int activation_forward(vae_layer *l, const float *x, float *y, int B, int training,
                              vae_error *err)
{
    (void)training; (void)err;
    vae_act_forward(l->backend, ((activation *)l)->act, x, y, (size_t)B * l->n_out);
    return VAE_OK;
}

static int activation_backward(vae_layer *l, const float *x, const float *y, const float *dy,
                               float *dx, int B, vae_error *err)
{
    (void)x; (void)err;
    if (dx) vae_act_backward(l->backend, ((activation *)l)->act, y, dy, dx, (size_t)B * l->n_out);
    return VAE_OK;
}

static void no_destroy(vae_layer *l) { (void)l; }

static const vae_layer_ops activation_ops = { "activation", activation_forward,
                                              activation_backward, no_destroy };

vae_layer *vae_activation_new(int n, vae_act act, const vae_backend *be)
{
    activation *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->base = (vae_layer){ &activation_ops, n, n, 0, NULL, NULL, be };
    a->act = act;
    return &a->base;
}

/* ---------- dropout (inverted) ---------- */

typedef struct dropout {
    vae_layer base;
    float rate;
    vae_rng *rng;
    scratch mask;      /* (B x n): 0 or 1/(1-rate), from the last training forward */
    scratch draws;     /* 16-bit uniform draws, one per unit (n/2 floats of room) */
    int mask_active;   /* whether the last forward applied the mask */
} dropout;

static int dropout_forward(vae_layer *l, const float *x, float *y, int B, int training,
                           vae_error *err)
{
    dropout *d = (dropout *)l;
    size_t n = (size_t)B * l->n_out;
    d->mask_active = training && d->rate > 0.0f;
    if (!d->mask_active) {
        if (y != x) memcpy(y, x, n * sizeof *y);
        return VAE_OK;
    }
    float *mask = scratch_get(&d->mask, n, err, "dropout");
    if (!mask) return VAE_FAIL;
    const float keep_scale = 1.0f / (1.0f - d->rate);
    /* drop a unit when its 16-bit draw is below rate * 2^16: four units per 64-bit
     * draw (the rate is thereby rounded to a multiple of 1/65536) */
    const uint32_t threshold = (uint32_t)lround((double)d->rate * 65536.0);
    uint16_t *draws = (uint16_t *)scratch_get(&d->draws, n / 2 + 4, err, "dropout");
    if (!draws) return VAE_FAIL;
    for (size_t i = 0; i < n; i += 4) { /* the draws first: the loop below vectorises */
        uint64_t bits = vae_rng_u64(d->rng);
        memcpy(draws + i, &bits, sizeof bits);
    }
    for (size_t i = 0; i < n; i++) {
        mask[i] = draws[i] >= threshold ? keep_scale : 0.0f;
        y[i] = x[i] * mask[i];
    }
    return VAE_OK;
}

static int dropout_backward(vae_layer *l, const float *x, const float *y, const float *dy,
                            float *dx, int B, vae_error *err)
{
    (void)x; (void)y; (void)err;
    dropout *d = (dropout *)l;
    size_t n = (size_t)B * l->n_out;
    if (!dx) return VAE_OK;
    if (!d->mask_active) {
        if (dx != dy) memcpy(dx, dy, n * sizeof *dx);
        return VAE_OK;
    }
    for (size_t i = 0; i < n; i++) dx[i] = dy[i] * d->mask.v[i];
    return VAE_OK;
}

static void dropout_destroy(vae_layer *l)
{
    vae_free(((dropout *)l)->mask.v);
    vae_free(((dropout *)l)->draws.v);
}

static const vae_layer_ops dropout_ops = { "dropout", dropout_forward, dropout_backward,
                                           dropout_destroy };

vae_layer *vae_dropout_new(int n, float rate, vae_rng *rng)
{
    dropout *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->base = (vae_layer){ &dropout_ops, n, n, 0, NULL, NULL, &vae_backend_naive };
    d->rate = rate;
    d->rng = rng;
    return &d->base;
}

/* ---------- common ---------- */

void vae_layer_bind(vae_layer *l, float *params, float *grads)
{
    l->params = params;
    l->grads = grads;
}

void vae_layer_free(vae_layer *l)
{
    if (!l) return;
    l->ops->destroy(l);
    free(l);
}
