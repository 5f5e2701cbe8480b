/* The naive backend: plain C loops, the reference every other backend is tested
 * against. Loops are ordered so the innermost one runs over contiguous memory
 * (the compiler can vectorise them), but nothing else is clever. */
#include <math.h>
#include <string.h>

#include "../harness/backend.h"

static void act_forward(vae_act act, const float *x, float *y, size_t n)
{
    switch (act) {
    case VAE_ACT_LINEAR:
        if (y != x) memmove(y, x, n * sizeof *y);
        break;
    case VAE_ACT_RELU:
        for (size_t i = 0; i < n; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i]; /* NaN propagates */
        break;
    default:
        for (size_t i = 0; i < n; i++) y[i] = vae_act_apply(act, x[i]);
    }
}

static void act_backward(vae_act act, const float *restrict y, const float *restrict dy,
                         float *restrict dx, size_t n)
{
    switch (act) {
    case VAE_ACT_LINEAR:
        memcpy(dx, dy, n * sizeof *dx);
        break;
    case VAE_ACT_RELU: /* branch-free, so it vectorises */
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (float)(y[i] > 0.0f);
        break;
    case VAE_ACT_TANH:
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        break;
    case VAE_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
        break;
    default:
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * vae_act_grad_from_output(act, y[i]);
    }
}

/* sum a[i] b[i] with eight partial sums: the compiler can vectorise it without
 * reassociating on its own, and the result is the same on every build */
static float dot(const float *a, const float *b, int n)
{
    float acc[8] = { 0 };
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Layers with fewer outputs than this take the column-at-a-time paths: a loop of
 * length n_out innermost would not vectorise. COL_MAX bounds the stack buffers. */
enum { NARROW = 8, COL_MAX = 4096 };

/* col (n_in) = column o of W (n_in x n_out) */
static void gather_column(const float *W, int n_in, int n_out, int o, float *col)
{
    for (int i = 0; i < n_in; i++) col[i] = W[(size_t)i * n_out + o];
}

static int dense_forward(void **state, const float *x, const float *W, const float *b,
                         float *y, int B, int n_in, int n_out, vae_act act, vae_error *err)
{
    (void)state; (void)err;
    if (n_out < NARROW && n_in <= COL_MAX) { /* heads, 2-D outputs: dot products */
        float col[COL_MAX];
        for (int o = 0; o < n_out; o++) {
            gather_column(W, n_in, n_out, o, col);
            for (int r = 0; r < B; r++)
                y[(size_t)r * n_out + o] = b[o] + dot(x + (size_t)r * n_in, col, n_in);
        }
        act_forward(act, y, y, (size_t)B * n_out);
        return VAE_OK;
    }
    for (int r = 0; r < B; r++) {
        float *yr = y + (size_t)r * n_out;        /* yr is (n_out) */
        const float *xr = x + (size_t)r * n_in;   /* xr is (n_in)  */
        for (int o = 0; o < n_out; o++) yr[o] = b[o];
        for (int i = 0; i < n_in; i++) {
            const float xi = xr[i];
            const float *Wi = W + (size_t)i * n_out; /* row i of W is (n_out) */
            for (int o = 0; o < n_out; o++) yr[o] += xi * Wi[o];
        }
    }
    act_forward(act, y, y, (size_t)B * n_out);
    return VAE_OK;
}

static int dense_backward(void **state, const float *x, const float *W, const float *y,
                          const float *dy, float *dpre, float *dx, float *dW, float *db,
                          int B, int n_in, int n_out, vae_act act, vae_error *err)
{
    (void)state; (void)err;
    act_backward(act, y, dy, dpre, (size_t)B * n_out); /* dpre is (B x n_out) */
    if (n_out < NARROW && n_in <= COL_MAX) { /* narrow: one output column at a time */
        float col[COL_MAX], acc[COL_MAX];
        if (dx) memset(dx, 0, (size_t)B * n_in * sizeof *dx);
        for (int o = 0; o < n_out; o++) {
            gather_column(W, n_in, n_out, o, col);
            memset(acc, 0, (size_t)n_in * sizeof *acc);
            for (int r = 0; r < B; r++) {
                const float g = dpre[(size_t)r * n_out + o], *xr = x + (size_t)r * n_in;
                db[o] += g;
                for (int i = 0; i < n_in; i++) acc[i] += g * xr[i];  /* column o of x^T dpre */
                if (dx) {
                    float *dxr = dx + (size_t)r * n_in;
                    for (int i = 0; i < n_in; i++) dxr[i] += g * col[i];
                }
            }
            for (int i = 0; i < n_in; i++) dW[(size_t)i * n_out + o] += acc[i];
        }
        return VAE_OK;
    }
    for (int r = 0; r < B; r++) {
        const float *gr = dpre + (size_t)r * n_out;
        const float *xr = x + (size_t)r * n_in;
        for (int o = 0; o < n_out; o++) db[o] += gr[o];
        for (int i = 0; i < n_in; i++) {        /* dW (n_in x n_out) += x^T dpre */
            const float xi = xr[i];
            float *dWi = dW + (size_t)i * n_out;
            for (int o = 0; o < n_out; o++) dWi[o] += xi * gr[o];
        }
        if (dx) {                                /* dx (B x n_in) = dpre W^T */
            float *dxr = dx + (size_t)r * n_in;
            for (int i = 0; i < n_in; i++) dxr[i] = dot(gr, W + (size_t)i * n_out, n_out);
        }
    }
    return VAE_OK;
}

static void adam_update(float *p, float *g, float *m, float *v, size_t n,
                        const vae_adam_step *s)
{
    /* m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr mhat / (sqrt(vhat) + eps) */
    const float step = s->lr / s->bias1;
    const float inv_sqrt_b2 = 1.0f / sqrtf(s->bias2);
    for (size_t i = 0; i < n; i++) {
        m[i] = s->beta1 * m[i] + (1.0f - s->beta1) * g[i];
        v[i] = s->beta2 * v[i] + (1.0f - s->beta2) * g[i] * g[i];
        p[i] -= step * m[i] / (sqrtf(v[i]) * inv_sqrt_b2 + s->eps);
        g[i] = 0.0f;
    }
}

const vae_backend vae_backend_naive = {
    .name = "naive",
    .description = "plain C loops, single thread; the reference for every other backend",
    .dense_forward = dense_forward,
    .dense_backward = dense_backward,
    .act_forward = act_forward,
    .act_backward = act_backward,
    .adam_update = adam_update,
};
