/* Backend tests: every op of every compiled-in backend against the naive
 * reference, over many shapes, with a normalised error bound; the vector math
 * against double-precision references; the registry. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/backend.h"
#include "../harness/likelihood.h"
#include "../harness/mat.h"
#include "../harness/oracle.h"
#include "check.h"

static const int widths[] = { 1, 2, 3, 7, 17, 31, 33, 127, 129, 784 };
static const int batches[] = { 1, 5, 32, 100, 128, 300 };
enum { N_WIDTHS = sizeof widths / sizeof widths[0], N_BATCHES = sizeof batches / sizeof batches[0] };

/* One shape through vae_dense_check (harness/oracle.c): every output within the bound. */
static void compare_dense(const vae_backend *be, void **state, int B, int n_in, int n_out,
                          vae_act act, unsigned seed)
{
    vae_error err;
    double e = 0;
    int rc = vae_dense_check(be, state, B, n_in, n_out, act, seed, &e, &err);
    CHECK(rc == VAE_OK, "%s B=%d %d->%d %s: %s", be->name, B, n_in, n_out, vae_act_names[act],
          err.msg);
    CHECK(e <= VAE_DENSE_TOL, "%s B=%d %d->%d %s: normalised error %.3g", be->name, B, n_in,
          n_out, vae_act_names[act], e);
}

static void free_state(const vae_backend *be, void **state)
{
    if (*state && be->state_free) be->state_free(*state);
    *state = NULL;
}

/* the backends other than naive that are usable here */
static int fast_backends(const vae_backend **out)
{
    int n = 0;
    for (int i = 0; i < vae_backend_count(); i++) {
        const vae_backend *be = vae_backend_at(i);
        char why[128];
        if (be == &vae_backend_naive || !vae_backend_usable(be, why, sizeof why)) continue;
        out[n++] = be;
    }
    return n;
}

/* Every pair of widths (as inputs and outputs), with the batch and the activation
 * rotating, so every width, batch and activation appears. */
static void test_dense_all_widths(void)
{
    const vae_backend *be[8];
    int nb = fast_backends(be);
    for (int k = 0; k < nb; k++) {
        be[k]->set_threads ? be[k]->set_threads(2) : (void)0;
        for (int i = 0; i < N_WIDTHS; i++)
            for (int j = 0; j < N_WIDTHS; j++) {
                void *state = NULL;
                const int B = batches[(i + j) % N_BATCHES];
                const vae_act act = (vae_act)((i + 2 * j) % VAE_ACT_COUNT);
                compare_dense(be[k], &state, B, widths[i], widths[j], act, 100u + 7u * i + j);
                free_state(be[k], &state);
            }
    }
}

/* Every batch size through one layer state, as training and evaluation use one
 * layer with a changing batch; the activation rotates with the batch. */
static void test_dense_all_batches(void)
{
    static const int shapes[][2] = { { 129, 33 }, { 20, 400 }, { 400, 40 } };
    const vae_backend *be[8];
    int nb = fast_backends(be);
    for (int k = 0; k < nb; k++)
        for (int s = 0; s < 3; s++) {
            void *state = NULL;
            for (int i = 0; i < N_BATCHES; i++)
                compare_dense(be[k], &state, batches[i], shapes[s][0], shapes[s][1],
                              (vae_act)((i + s) % VAE_ACT_COUNT), 300u + 11u * i + s);
            /* and back to a batch seen before */
            compare_dense(be[k], &state, batches[2], shapes[s][0], shapes[s][1], VAE_ACT_TANH,
                          400u + s);
            free_state(be[k], &state);
        }
}

/* One thread and two give results within the bound (and the threaded path runs). */
static void test_dense_thread_counts(void)
{
    const vae_backend *be[8];
    int nb = fast_backends(be);
    for (int k = 0; k < nb; k++) {
        if (!be[k]->set_threads) continue;
        for (int t = 1; t <= 3; t++) {
            be[k]->set_threads(t);
            void *state = NULL;
            compare_dense(be[k], &state, 128, 784, 100, VAE_ACT_RELU, 500u + t);
            compare_dense(be[k], &state, 64, 100, 784, VAE_ACT_SIGMOID, 600u + t);
            free_state(be[k], &state);
        }
        be[k]->set_threads(0);
    }
}

/* Activations: each backend's slots against naive on inputs from -30 to 30. */
static void test_activation_ops(void)
{
    const vae_backend *be[8];
    int nb = fast_backends(be);
    enum { N = 1003 }; /* not a multiple of 8: the tail path runs */
    float x[N], y_ref[N], y[N], dy[N], dx_ref[N], dx[N], scale[N];
    for (int i = 0; i < N; i++) x[i] = -30.0f + 60.0f * (float)i / (N - 1);
    x[N / 2] = 0.0f;
    fill_uniform(dy, N, -1, 1, 71);
    for (int k = 0; k < nb; k++)
        for (int a = 0; a < VAE_ACT_COUNT; a++) {
            if (!be[k]->act_forward && !be[k]->act_backward) continue;
            vae_backend_naive.act_forward((vae_act)a, x, y_ref, N);
            vae_act_forward(be[k], (vae_act)a, x, y, N);
            for (int i = 0; i < N; i++) scale[i] = 0;
            double e = vae_max_norm_error(y, y_ref, scale, N);
            CHECK(e <= 4e-6, "%s %s forward: relative error %.3g", be[k]->name,
                  vae_act_names[a], e);
            vae_backend_naive.act_backward((vae_act)a, y_ref, dy, dx_ref, N);
            vae_act_backward(be[k], (vae_act)a, y_ref, dy, dx, N);
            for (int i = 0; i < N; i++) scale[i] = fabsf(dy[i]); /* 1 - y^2 near |y| = 1 cancels */
            e = vae_max_norm_error(dx, dx_ref, scale, N);
            CHECK(e <= 4e-6, "%s %s backward: relative error %.3g", be[k]->name,
                  vae_act_names[a], e);
            /* in place, and NaN propagates through the forward pass */
            float v[9] = { -1, -0.5f, 0, 0.5f, 1, 2, 3, NAN, 4 };
            vae_act_forward(be[k], (vae_act)a, v, v, 9);
            CHECK(isnan(v[7]), "%s %s: NaN in, NaN out", be[k]->name, vae_act_names[a]);
            CHECK(!isnan(v[8]) && !isnan(v[0]), "%s %s: NaN leaks to its neighbours",
                  be[k]->name, vae_act_names[a]);
        }
}

/* Adam: the same update as naive, over lengths that hit every path, on 1 and 2
 * threads (the threaded split must not change a bit). */
static void test_adam_ops(void)
{
    const vae_backend *be[8];
    int nb = fast_backends(be);
    static const size_t lengths[] = { 1, 7, 8, 1001, 70001 };
    const vae_adam_step s = { 1e-3f, 0.9f, 0.999f, 1e-7f, 1 - 0.9f * 0.9f, 1 - 0.999f * 0.999f };
    for (int k = 0; k < nb * 2; k++) { /* each backend on 1 thread, then 2 */
        if (!be[k % nb]->adam_update) continue;
        if (be[k % nb]->set_threads) be[k % nb]->set_threads(1 + k / nb);
        for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
            const size_t n = lengths[l];
            float *buf = vae_alloc(8 * n), *p = buf, *g = buf + n, *m = buf + 2 * n, *v = buf + 3 * n;
            float *p2 = buf + 4 * n, *g2 = buf + 5 * n, *m2 = buf + 6 * n, *v2 = buf + 7 * n;
            fill_uniform(p, n, -1, 1, 81);
            fill_uniform(g, n, -1, 1, 82);
            fill_uniform(m, n, -0.1f, 0.1f, 83);
            fill_uniform(v, n, 0, 0.1f, 84);
            memcpy(p2, p, 4 * n * sizeof(float));
            vae_backend_naive.adam_update(p, g, m, v, n, &s);
            be[k % nb]->adam_update(p2, g2, m2, v2, n, &s);
            size_t diff = 0;
            for (size_t i = 0; i < n; i++)
                diff += p[i] != p2[i] || m[i] != m2[i] || v[i] != v2[i] || g2[i] != 0.0f;
            CHECK(diff == 0, "%s adam, n = %zu: %zu values differ from naive's", be[k % nb]->name, n,
                  diff);
            vae_free(buf);
        }
        if (be[k % nb]->set_threads) be[k % nb]->set_threads(0);
    }
}

/* The stated accuracy of the AVX2 vector math, against double precision:
 * relative error (to |f| + 1e-30) at most 3e-7 for tanh, sigmoid, elu and softplus
 * over [-40, 40] in steps of 1/4096 (README's avx2 section quotes these bounds). */
static void test_vector_math_accuracy(void)
{
    const vae_backend *be = vae_backend_named("avx2");
    char why[128];
    if (!be || !vae_backend_usable(be, why, sizeof why)) {
        printf("# skip: no usable avx2 backend here\n");
        return;
    }
    enum { N = 80 * 4096 + 1 };
    float *x = vae_alloc(N), *y = vae_alloc(N);
    for (int i = 0; i < N; i++) x[i] = -40.0f + (float)i / 4096.0f;
    static const vae_act acts[] = { VAE_ACT_TANH, VAE_ACT_SIGMOID, VAE_ACT_ELU, VAE_ACT_SOFTPLUS };
    for (int a = 0; a < 4; a++) {
        be->act_forward(acts[a], x, y, N);
        double worst = 0, at = 0;
        for (int i = 0; i < N; i++) {
            const double xi = x[i];
            double f;
            switch (acts[a]) {
            case VAE_ACT_TANH: f = tanh(xi); break;
            case VAE_ACT_SIGMOID: f = 1.0 / (1.0 + exp(-xi)); break;
            case VAE_ACT_ELU: f = xi > 0 ? xi : expm1(xi); break;
            default: f = xi > 0 ? xi + log1p(exp(-xi)) : log1p(exp(xi)); break;
            }
            if (f < 1.1754944e-38 && f > -1.1754944e-38) continue; /* flushed to zero by design */
            const double e = fabs(y[i] - f) / fabs(f);
            if (e > worst) { worst = e; at = xi; }
        }
        printf("# avx2 %s: max relative error %.3g at x = %.6g\n", vae_act_names[acts[a]], worst, at);
        CHECK(worst <= 3e-7, "avx2 %s: relative error %.3g at x = %g", vae_act_names[acts[a]], worst,
              at);
    }
    vae_free(x);
    vae_free(y);
}

static void test_registry(void)
{
    vae_error err;
    CHECK(vae_backend_find("naive", &err) == &vae_backend_naive, "naive is found");
    CHECK(vae_backend_find("cuda", &err) == NULL, "an unknown backend is refused");
    CHECK(strstr(err.msg, "unknown backend 'cuda'") && strstr(err.msg, "naive"),
          "the error names the backend and lists the usable ones: %s", err.msg);
    for (int i = 0; i < vae_backend_count(); i++) {
        const vae_backend *be = vae_backend_at(i);
        CHECK(be->name && be->description && strlen(be->description) > 10, "backend %d described", i);
        CHECK(be->dense_forward && be->dense_backward, "%s has its own dense ops", be->name);
        char why[128];
        if (!vae_backend_usable(be, why, sizeof why)) continue;
        CHECK(vae_backend_find(be->name, &err) == be, "%s is found by name", be->name);
    }
#ifdef HAVE_OPENBLAS
    CHECK(vae_backend_find("openblas", &err) != NULL, "openblas built and usable");
#endif
#ifdef HAVE_ONEDNN
    CHECK(vae_backend_find("onednn", &err) != NULL, "onednn built and usable: %s", err.msg);
#endif
}

/* The registry is in preference order: avx2, onednn, openblas (those built), naive last. */
static void test_preference_order(void)
{
    static const char *const order[] = { "avx2", "onednn", "openblas", "naive" };
    const int n = vae_backend_count();
    CHECK(vae_backend_at(n - 1) == &vae_backend_naive, "naive is last of %d", n);
    CHECK(vae_backend_at(n) == NULL && vae_backend_at(-1) == NULL, "out of range is NULL");
    int last = -1;
    for (int i = 0; i < n; i++) {
        const vae_backend *be = vae_backend_at(i);
        int rank = -1;
        for (int k = 0; k < 4; k++) if (strcmp(be->name, order[k]) == 0) rank = k;
        CHECK(rank > last, "%s (position %d) is in preference order", be->name, i);
        last = rank;
        CHECK(vae_backend_named(be->name) == be, "%s is named", be->name);
    }
    CHECK(vae_backend_named("cuda") == NULL, "no backend named cuda");
}

/* vae_set_threads reaches every backend and is remembered; 0 means all cores. */
static void test_process_threads(void)
{
    CHECK(vae_threads() == 0, "all cores until set (got %d)", vae_threads());
    vae_set_threads(2);
    CHECK(vae_threads() == 2, "2 threads remembered (got %d)", vae_threads());
    vae_set_threads(-3);
    CHECK(vae_threads() == 0, "a negative count means all cores (got %d)", vae_threads());
}

/* Each backend's Bernoulli likelihood against the reference loop (the naive
 * backend's): outputs across (0, 1), at and beyond both clamp bounds, 0, 1 and
 * NaN; grey and binary data; K = 2 samples (x_rows < rows); widths that leave a
 * partial vector; with and without the gradient. */
static void bernoulli_ops(float clamp_eps, int threads, int *tested)
{
    static const int Ds[] = { 1, 7, 8, 9, 784 };
    vae_lik_args ref = { VAE_LIK_BERNOULLI, NULL, clamp_eps, 1.0f, 0.0f, NULL };
    vae_bce_clamp c = vae_bce_clamp_for(ref.clamp_eps);
    const double lo = clamp_eps, hi = 1.0 - lo;
    CHECK(c.keep_lo >= lo && nextafterf(c.keep_lo, 0) < lo, "keep_lo %.9g", c.keep_lo);
    CHECK(c.keep_hi <= hi && nextafterf(c.keep_hi, 2) > hi, "keep_hi %.9g", c.keep_hi);
    const float special[] = { 0.0f, 1.0f, NAN, c.keep_lo, nextafterf(c.keep_lo, 0), c.keep_hi,
                              nextafterf(c.keep_hi, 2), 0.5f, -0.25f, 1.25f, 1e-30f };
    for (int b = 0; b < vae_backend_count(); b++) {
        const vae_backend *be = vae_backend_at(b);
        if (!be->bernoulli_nll) continue;
        char why[128];
        if (!vae_backend_usable(be, why, sizeof why)) continue;
        if (be->set_threads) be->set_threads(threads);
        (*tested)++;
        for (size_t di = 0; di < sizeof Ds / sizeof Ds[0]; di++) {
            const int D = Ds[di], XR = 5, ROWS = 10; /* two samples per data row */
            float *x = malloc(sizeof(float) * XR * D), *p = malloc(sizeof(float) * ROWS * D);
            float *g0 = malloc(sizeof(float) * ROWS * D), *g1 = malloc(sizeof(float) * ROWS * D);
            double nll0[10], nll1[10];
            fill_uniform(x, (size_t)XR * D, 0, 1, 40 + (unsigned)D);
            for (int j = 0; j < D; j++) x[j] = x[j] > 0.5f; /* one binary row */
            fill_uniform(p, (size_t)ROWS * D, 0, 1, 50 + (unsigned)D);
            for (int i = 0; i < ROWS * D; i += 3) p[i] = special[(i / 3) % (sizeof special / sizeof special[0])];
            vae_error err;
            for (int with_grad = 0; with_grad < 2; with_grad++) {
                for (int i = 0; i < ROWS * D; i++) g1[i] = NAN; /* must be overwritten */
                int rc0 = vae_likelihood_eval(&ref, x, XR, p, NULL, ROWS, D, nll0,
                                              with_grad ? g0 : NULL, NULL, 0.37f, NULL, &err);
                int rc1 = be->bernoulli_nll(x, XR, p, ROWS, D, &c, nll1, with_grad ? g1 : NULL, 0.37f);
                CHECK(rc0 == VAE_OK && rc1 == VAE_OK, "%s D=%d: %d %d", be->name, D, rc0, rc1);
                for (int r = 0; r < ROWS; r++) {
                    /* the terms are positive, each within about 2.5 float ulps of the
                     * reference's (v_log: 1.35 ulps, logf: 1 ulp) */
                    double tol = 2e-6 * fabs(nll0[r]) + 1e-12;
                    CHECK(fabs(nll0[r] - nll1[r]) <= tol, "%s D=%d row %d: nll %.9g vs %.9g",
                          be->name, D, r, nll1[r], nll0[r]);
                }
                if (!with_grad) continue;
                int bad = 0;
                for (int i = 0; i < ROWS * D; i++)
                    if (!(fabsf(g0[i] - g1[i]) <= 1e-5f * fabsf(g0[i]) + 1e-30f) && bad++ < 3)
                        CHECK(0, "%s D=%d [%d] p=%g: grad %.9g vs %.9g", be->name, D, i,
                              (double)p[i], (double)g1[i], (double)g0[i]);
            }
            free(x);
            free(p);
            free(g0);
            free(g1);
        }
        if (be->set_threads) be->set_threads(0);
    }
}

/* The default clamp, and a wide one (0.1) that makes every clamped or masked-off
 * lane count; one thread and two (the split across threads). */
static void test_bernoulli_ops(void)
{
    int tested = 0;
    for (int threads = 1; threads <= 2; threads++) {
        bernoulli_ops(1e-7f, threads, &tested);
        bernoulli_ops(0.1f, threads, &tested);
    }
    printf("# bernoulli likelihood checked on %d backend(s)\n", tested / 4);
}

/* The sparse first-layer slots against naive's dense ops: inputs about 80% zero
 * (as MNIST's are), widths that leave partial vectors and 32-wide blocks, every
 * activation in turn, gradients accumulating onto nonzero dW and db; results
 * within the dense ops' bound, and the same bits on 1 and 2 threads. */
static double sparse_case(const vae_backend *be, int B, int n_in, int n_out, vae_act act,
                          unsigned seed, int threads, float *keep_y, int compare_bits)
{
    const size_t nx = (size_t)B * n_in, ny = (size_t)B * n_out, nw = (size_t)n_in * n_out;
    float *x = vae_alloc(nx), *W = vae_alloc(nw), *b = vae_alloc(n_out), *dy = vae_alloc(ny);
    float *y0 = vae_alloc(ny), *y1 = vae_alloc(ny), *p0 = vae_alloc(ny), *p1 = vae_alloc(ny);
    float *dW0 = vae_alloc(nw), *dW1 = vae_alloc(nw), *db0 = vae_alloc(n_out), *db1 = vae_alloc(n_out);
    float *s = vae_alloc(nw > ny ? nw : ny), *val = vae_alloc(nx + n_in); /* vae_csr_build's room */
    int *ptr = malloc(((size_t)B + 1) * sizeof *ptr), *col = malloc((nx + n_in) * sizeof *col);
    fill_uniform(x, nx, -1, 1, seed);
    float *u = vae_alloc(nx);
    fill_uniform(u, nx, 0, 1, seed + 9);
    for (size_t i = 0; i < nx; i++) if (u[i] < 0.8f) x[i] = 0.0f;
    const float w = sqrtf(3.0f / (0.2f * (float)n_in));
    fill_uniform(W, nw, -w, w, seed + 1);
    fill_uniform(b, n_out, -0.5f, 0.5f, seed + 2);
    fill_uniform(dy, ny, -1, 1, seed + 3);
    fill_uniform(dW0, nw, -1, 1, seed + 4);
    fill_uniform(db0, n_out, -1, 1, seed + 5);
    memcpy(dW1, dW0, nw * sizeof *dW1);
    memcpy(db1, db0, n_out * sizeof *db1);
    for (size_t i = 0; i < ny; i++) y1[i] = p1[i] = NAN;
    vae_error err;
    const vae_backend *ref = &vae_backend_naive;
    ref->dense_forward(NULL, x, W, b, y0, B, n_in, n_out, act, &err);
    ref->dense_backward(NULL, x, W, y0, dy, p0, NULL, dW0, db0, B, n_in, n_out, act, &err);
    const long nnz = vae_csr_build(x, B, n_in, ptr, col, val, (long)nx);
    vae_csr c = { B, n_in, ptr, col, val, NULL, NULL, NULL };
    int *cptr = malloc(((size_t)n_in + 1) * sizeof *cptr), *crow = malloc(nx * sizeof *crow);
    float *cval = vae_alloc(nx);
    vae_csr_transpose(&c, cptr, crow, cval);
    be->set_threads(threads);
    int rc0 = be->sparse_forward(&c, W, b, y1, n_out, act, &err);
    int rc1 = be->sparse_backward(&c, y0, dy, p1, dW1, db1, n_out, act, &err);
    CHECK(nnz >= 0 && rc0 == VAE_OK && rc1 == VAE_OK, "%s sparse B=%d %d->%d: rc %d %d",
          be->name, B, n_in, n_out, rc0, rc1);
    for (int r = 0; r < B; r++)
        for (int o = 0; o < n_out; o++) {
            double a = fabs(b[o]);
            for (int i = 0; i < n_in; i++) a += fabs(x[(size_t)r * n_in + i] * W[(size_t)i * n_out + o]);
            s[(size_t)r * n_out + o] = (float)a;
        }
    double e = vae_max_norm_error(y1, y0, s, ny), worst = e;
    for (size_t i = 0; i < ny; i++) s[i] = fabsf(dy[i]);
    if ((e = vae_max_norm_error(p1, p0, s, ny)) > worst || isnan(e)) worst = e;
    for (int i = 0; i < n_in; i++)
        for (int o = 0; o < n_out; o++) {
            double a = 1.0;
            for (int r = 0; r < B; r++) a += fabs(x[(size_t)r * n_in + i] * p0[(size_t)r * n_out + o]);
            s[(size_t)i * n_out + o] = (float)a;
        }
    if ((e = vae_max_norm_error(dW1, dW0, s, nw)) > worst || isnan(e)) worst = e;
    for (int o = 0; o < n_out; o++) {
        double a = 1.0;
        for (int r = 0; r < B; r++) a += fabs(p0[(size_t)r * n_out + o]);
        s[o] = (float)a;
    }
    if ((e = vae_max_norm_error(db1, db0, s, n_out)) > worst || isnan(e)) worst = e;
    /* the same bits whatever the thread count: y and dW of the first run are kept */
    if (compare_bits) {
        size_t diff = 0;
        for (size_t i = 0; i < ny; i++) diff += y1[i] != keep_y[i];
        for (size_t i = 0; i < nw; i++) diff += dW1[i] != keep_y[ny + i];
        CHECK(diff == 0, "%s sparse B=%d %d->%d: %zu values differ between 1 and %d threads",
              be->name, B, n_in, n_out, diff, threads);
    } else {
        memcpy(keep_y, y1, ny * sizeof *y1);
        memcpy(keep_y + ny, dW1, nw * sizeof *dW1);
    }
    float *bufs[] = { x, W, b, dy, y0, y1, p0, p1, dW0, dW1, db0, db1, s, val, u };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) vae_free(bufs[i]);
    free(ptr);
    free(col);
    free(cptr);
    free(crow);
    vae_free(cval);
    return worst;
}

static void test_sparse_ops(void)
{
    static const int shapes[][3] = { { 128, 784, 400 }, { 5, 17, 33 }, { 32, 31, 7 },
                                     { 1, 3, 129 }, { 300, 100, 64 }, { 64, 784, 20 } };
    const vae_backend *be[8];
    int nb = fast_backends(be), tested = 0;
    for (int k = 0; k < nb; k++) {
        if (!be[k]->sparse_forward || !be[k]->set_threads) continue;
        CHECK(be[k]->sparse_backward && be[k]->sparse_density > 0 && be[k]->sparse_density <= 1,
              "%s: both sparse slots and a density in (0, 1]", be[k]->name);
        tested++;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int B = shapes[s][0], n_in = shapes[s][1], n_out = shapes[s][2];
            const vae_act act = (vae_act)(s % VAE_ACT_COUNT);
            float *keep = vae_alloc((size_t)B * n_out + (size_t)n_in * n_out);
            for (int t = 1; t <= 2; t++) {
                double e = sparse_case(be[k], B, n_in, n_out, act, 700u + (unsigned)s, t, keep, t > 1);
                CHECK(e <= VAE_DENSE_TOL, "%s sparse B=%d %d->%d %s, %d threads: error %.3g",
                      be[k]->name, B, n_in, n_out, vae_act_names[act], t, e);
            }
            vae_free(keep);
        }
        be[k]->set_threads(0);
    }
    printf("# sparse first layer checked on %d backend(s)\n", tested);
}

/* ---------- precision bf16 ----------
 * Every backend that runs bf16 here (vae_backend_precision_usable) against the
 * bf16 reference (harness/bf16.c), and the reference against naive's fp32 ops.
 *
 * The bounds, for an output made of the products p_t (t = 1..K) plus a term c
 * (the bias, or dW's and db's starting values), with S = |c| + sum_t |p_t| over
 * the unrounded operands and u = 2^-24 (fp32's unit roundoff):
 *  - backend against reference: both sum the same exact products (two bf16
 *    values multiply exactly in fp32) in different orders, and any order of K + 1
 *    terms is within K u of the exact sum's magnitudes: |d| <= 2 (K + 1) u S_r,
 *    where S_r, over the rounded operands, is at most (1 + 2^-8)^2 S. We allow
 *    4 (K + 1) u S_r (the hardware's two products per lane may round between);
 *  - reference against fp32: rounding to bf16 (8 significant bits, round to
 *    nearest) changes an operand by at most 2^-8 relative, so a product by at
 *    most 2^-7 + 2^-16 relative: |d| <= (2^-7 + 2^-16) S plus both fp32 sums'
 *    2 (K + 1) u S;
 *  - plus, where an activation follows, 1e-6 |y| for its own rounding (the
 *    vector math is within 3e-7; every activation's slope is at most 1, so the
 *    sums' differences do not grow through it), and 1e-30 for subnormal products,
 *    which the hardware flushes to zero.
 * dpre = dy act'(y) is fp32 everywhere: within 4e-6 |dy| (the activation ops'
 * bound). The backend's dW and dx are compared with the reference's products of
 * the backend's own dpre: a dpre one fp32 ulp away can round to another bf16
 * value, a difference of 2^-8 that is not the product's fault. */
#define BF16_U (1.0 / 16777216.0)
#define BF16_OPERANDS (1.0 / 128 + 1.0 / 65536)

/* out (m x n) = c + sum_t |A(i, t) B(t, j)|, element (i, t) of A at
 * A[i ars + t acs], of B at B[t brs + j bcs]; c = |c0[i n + j]| (or 0) */
static void abs_sum(const float *A, size_t ars, size_t acs, const float *B, size_t brs,
                    size_t bcs, int m, int n, int k, const float *c0, double *out)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = c0 ? fabs((double)c0[(size_t)i * n + j]) : 0.0;
            for (int t = 0; t < k; t++)
                s += fabs((double)A[i * ars + t * acs]) * fabs((double)B[t * brs + j * bcs]);
            out[(size_t)i * n + j] = s;
        }
}

enum { BX, BW, BB, BDY, BDW0, BDB0, BY_R, BP_R, BDX_R, BDW_R, BDB_R, BY_F, BP_F, BDX_F, BDW_F,
       BDB_F, BY, BP, BDX, BDW, BDB, BDX2, BDW2, BDB2, BP2, BSCR, BUFS };

typedef struct bf16_run {
    int ran, declined; /* shapes the backend's slots computed themselves / declined */
    double worst;      /* the largest error, as a fraction of its bound */
} bf16_run;

/* max over i of |got - ref| / (c S[i] + rel |ref| + 1e-30), at most 1 to pass
 * (infinite where only one is NaN), its index in *at; run keeps the worst */
static double bf16_excess(bf16_run *run, const float *got, const float *ref, const double *S,
                          double c, double rel, size_t n, size_t *at)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (isnan(got[i]) != isnan(ref[i])) d = INFINITY;
        const double e = d / (c * S[i] + rel * fabs((double)ref[i]) + 1e-30);
        if (!(e <= worst)) {
            worst = e;
            *at = i;
        }
    }
    if (!(worst <= run->worst)) run->worst = worst;
    return worst;
}

/* One shape: the reference against naive's fp32 ops, then (be not NULL) the
 * backend's bf16 slots against the reference. Inputs as harness/oracle.c makes
 * them: pre-activations of about unit size, dW and db starting nonzero. */
static void bf16_case(const vae_backend *be, void **state, int B, int n_in, int n_out,
                      vae_act act, unsigned seed, bf16_run *run)
{
    const size_t nx = (size_t)B * n_in, ny = (size_t)B * n_out, nw = (size_t)n_in * n_out;
    const size_t len[BUFS] = { nx, nw, n_out, ny, nw, n_out, ny, ny, nx, nw, n_out, ny, ny, nx,
                               nw, n_out, ny, ny, nx, nw, n_out, nx, nw, n_out, ny, ny };
    float *v[BUFS];
    for (int i = 0; i < BUFS; i++) v[i] = vae_alloc(len[i]);
    double *Sy = malloc(ny * sizeof *Sy), *Sdx = malloc(nx * sizeof *Sdx),
           *Sdw = malloc(nw * sizeof *Sdw), *Sdb = malloc(n_out * sizeof *Sdb);
    const float w = sqrtf(3.0f / (float)n_in);
    vae_fill_uniform(v[BX], nx, -1, 1, seed);
    vae_fill_uniform(v[BW], nw, -w, w, seed + 1);
    vae_fill_uniform(v[BB], n_out, -0.5f, 0.5f, seed + 2);
    vae_fill_uniform(v[BDY], ny, -1, 1, seed + 3);
    vae_fill_uniform(v[BDW0], nw, -1, 1, seed + 4);
    vae_fill_uniform(v[BDB0], n_out, -1, 1, seed + 5);
    static const int dws[] = { BDW_R, BDW_F, BDW, BDW2 }, dbs[] = { BDB_R, BDB_F, BDB, BDB2 };
    for (int k = 0; k < 4; k++) {
        memcpy(v[dws[k]], v[BDW0], nw * sizeof(float));
        memcpy(v[dbs[k]], v[BDB0], n_out * sizeof(float));
    }
    char what[160];
    snprintf(what, sizeof what, "%s bf16 B=%d %d->%d %s", be ? be->name : "reference", B, n_in,
             n_out, vae_act_names[act]);
    vae_error err;

    /* the reference and fp32, both backward passes from the reference's y */
    vae_bf16_dense_forward_ref(v[BX], v[BW], v[BB], v[BY_R], B, n_in, n_out, act);
    vae_bf16_dense_backward_ref(v[BX], v[BW], v[BY_R], v[BDY], v[BP_R], v[BDX_R], v[BDW_R],
                                v[BDB_R], B, n_in, n_out, act);
    vae_backend_naive.dense_forward(NULL, v[BX], v[BW], v[BB], v[BY_F], B, n_in, n_out, act, &err);
    vae_backend_naive.dense_backward(NULL, v[BX], v[BW], v[BY_R], v[BDY], v[BP_F], v[BDX_F],
                                     v[BDW_F], v[BDB_F], B, n_in, n_out, act, &err);
    for (size_t i = 0; i < ny; i++) v[BSCR][i] = fabsf(v[BDY][i]);
    abs_sum(v[BX], n_in, 1, v[BW], n_out, 1, B, n_out, n_in, NULL, Sy);
    for (int r = 0; r < B; r++)
        for (int o = 0; o < n_out; o++) Sy[(size_t)r * n_out + o] += fabs((double)v[BB][o]);
    abs_sum(v[BX], 1, n_in, v[BP_R], n_out, 1, n_in, n_out, B, v[BDW0], Sdw);
    abs_sum(v[BP_R], n_out, 1, v[BW], 1, n_out, B, n_in, n_out, NULL, Sdx);
    for (int o = 0; o < n_out; o++) {
        double s = fabs((double)v[BDB0][o]);
        for (int r = 0; r < B; r++) s += fabs((double)v[BDY][(size_t)r * n_out + o]);
        Sdb[o] = s; /* over |dy| >= |dpre|: it also bounds dpre's own differences */
    }
    size_t at = 0;
    double e;
    if (!be) {
        const double cy = BF16_OPERANDS + 2 * (n_in + 1) * BF16_U;
        const double cdw = BF16_OPERANDS + 2 * (B + 1) * BF16_U;
        const double cdx = BF16_OPERANDS + 2 * (n_out + 1) * BF16_U;
        const double cdb = 2 * (B + 1) * BF16_U + 4e-6;
        e = bf16_excess(run, v[BY_R], v[BY_F], Sy, cy, 1e-6, ny, &at);
        CHECK(e <= 1, "%s: y[%zu] %.9g against fp32 %.9g (%.3g of the bound)", what, at,
              (double)v[BY_R][at], (double)v[BY_F][at], e);
        e = vae_max_norm_error(v[BP_R], v[BP_F], v[BSCR], ny);
        CHECK(e <= 4e-6, "%s: dpre against fp32, error %.3g", what, e);
        e = bf16_excess(run, v[BDW_R], v[BDW_F], Sdw, cdw, 0, nw, &at);
        CHECK(e <= 1, "%s: dW[%zu] %.9g against fp32 %.9g (%.3g of the bound)", what, at,
              (double)v[BDW_R][at], (double)v[BDW_F][at], e);
        e = bf16_excess(run, v[BDX_R], v[BDX_F], Sdx, cdx, 0, nx, &at);
        CHECK(e <= 1, "%s: dx[%zu] %.9g against fp32 %.9g (%.3g of the bound)", what, at,
              (double)v[BDX_R][at], (double)v[BDX_F][at], e);
        e = bf16_excess(run, v[BDB_R], v[BDB_F], Sdb, cdb, 0, n_out, &at);
        CHECK(e <= 1, "%s: db[%zu] against fp32 (%.3g of the bound)", what, at, e);
        goto done;
    }

    /* the backend's slots; outputs start as NaN (they must be overwritten) */
    for (size_t i = 0; i < ny; i++) v[BY][i] = v[BP][i] = v[BP2][i] = NAN;
    for (size_t i = 0; i < nx; i++) v[BDX][i] = NAN;
    int rc = be->dense_forward_bf16(state, v[BX], v[BW], v[BB], v[BY], B, n_in, n_out, act, &err);
    int rc2 = be->dense_backward_bf16(state, v[BX], v[BW], v[BY_R], v[BDY], v[BP], v[BDX], v[BDW],
                                      v[BDB], B, n_in, n_out, act, &err);
    int rc3 = be->dense_backward_bf16(state, v[BX], v[BW], v[BY_R], v[BDY], v[BP2], NULL, v[BDW2],
                                      v[BDB2], B, n_in, n_out, act, &err);
    CHECK(rc != VAE_FAIL && rc2 != VAE_FAIL && rc3 != VAE_FAIL, "%s: %s", what, err.msg);
    if (rc == VAE_DECLINED || rc2 == VAE_DECLINED || rc3 == VAE_DECLINED) {
        CHECK(rc == rc2 && rc2 == rc3, "%s: forward %d, backward %d and %d (declined is %d)", what,
              rc, rc2, rc3, VAE_DECLINED);
        run->declined++;
        goto done;
    }
    run->ran++;
    const double order = 4 * (1 + BF16_OPERANDS) * BF16_U;
    const double cy = order * (n_in + 1), cdw = order * (B + 1), cdx = order * (n_out + 1);
    const double cdb = 4 * (B + 1) * BF16_U;
    e = bf16_excess(run, v[BY], v[BY_R], Sy, cy, 1e-6, ny, &at);
    CHECK(e <= 1, "%s: y[%zu] %.9g against the reference's %.9g (%.3g of the bound)", what, at,
          (double)v[BY][at], (double)v[BY_R][at], e);
    e = vae_max_norm_error(v[BP], v[BP_R], v[BSCR], ny);
    CHECK(e <= 4e-6, "%s: dpre against the reference, error %.3g", what, e);
    e = vae_max_norm_error(v[BP2], v[BP_R], v[BSCR], ny);
    CHECK(e <= 4e-6, "%s: dpre (dx skipped) against the reference, error %.3g", what, e);
    /* the reference's products of the backend's dpre: as the gradient dy of a
     * linear layer, whose dpre is dy itself */
    memcpy(v[BDW_R], v[BDW0], nw * sizeof(float));
    memcpy(v[BDB_R], v[BDB0], n_out * sizeof(float));
    vae_bf16_dense_backward_ref(v[BX], v[BW], v[BY_R], v[BP], v[BSCR], v[BDX_R], v[BDW_R],
                                v[BDB_R], B, n_in, n_out, VAE_ACT_LINEAR);
    e = bf16_excess(run, v[BDW], v[BDW_R], Sdw, cdw, 0, nw, &at);
    CHECK(e <= 1, "%s: dW[%zu] %.9g against the reference's %.9g (%.3g of the bound)", what, at,
          (double)v[BDW][at], (double)v[BDW_R][at], e);
    e = bf16_excess(run, v[BDW2], v[BDW_R], Sdw, cdw, 0, nw, &at);
    CHECK(e <= 1, "%s: dW (dx skipped) [%zu] against the reference (%.3g of the bound)", what, at,
          e);
    e = bf16_excess(run, v[BDX], v[BDX_R], Sdx, cdx, 0, nx, &at);
    CHECK(e <= 1, "%s: dx[%zu] %.9g against the reference's %.9g (%.3g of the bound)", what, at,
          (double)v[BDX][at], (double)v[BDX_R][at], e);
    e = bf16_excess(run, v[BDB], v[BDB_R], Sdb, cdb, 0, n_out, &at);
    CHECK(e <= 1, "%s: db[%zu] against the reference (%.3g of the bound)", what, at, e);
    e = bf16_excess(run, v[BDB2], v[BDB_R], Sdb, cdb, 0, n_out, &at);
    CHECK(e <= 1, "%s: db (dx skipped) [%zu] against the reference (%.3g of the bound)", what, at,
          e);
done:
    for (int i = 0; i < BUFS; i++) vae_free(v[i]);
    free(Sy);
    free(Sdx);
    free(Sdw);
    free(Sdb);
}

/* the backends that run precision bf16 here (naive has no bf16 slots) */
static int bf16_backends(const vae_backend **out)
{
    int n = 0;
    for (int i = 0; i < vae_backend_count(); i++) {
        const vae_backend *be = vae_backend_at(i);
        char why[128];
        if (vae_backend_precision_usable(be, VAE_PREC_BF16, why, sizeof why)) out[n++] = be;
        else printf("# bf16: %s skipped: %s\n", be->name, why);
    }
    return n;
}

/* Every pair of widths (K odd, K = 1, outputs that are not a multiple of any
 * tile), the batch (1 to 300) and the activation rotating as in the fp32 test;
 * then every batch through one layer state. The reference against fp32 first,
 * then each backend, on 2 threads. */
static void test_bf16_products(void)
{
    static const int shapes[][2] = { { 129, 33 }, { 20, 400 }, { 400, 40 } };
    bf16_run ref = { 0, 0, 0 };
    for (int i = 0; i < N_WIDTHS; i++)
        for (int j = 0; j < N_WIDTHS; j++)
            bf16_case(NULL, NULL, batches[(i + j) % N_BATCHES], widths[i], widths[j],
                      (vae_act)((i + 2 * j) % VAE_ACT_COUNT), 900u + 7u * i + j, &ref);
    printf("# bf16: the reference against fp32: worst error %.3g of the bound\n", ref.worst);
    const vae_backend *be[8];
    const int nb = bf16_backends(be);
    vae_set_threads(2);
    for (int k = 0; k < nb; k++) {
        bf16_run run = { 0, 0, 0 };
        for (int i = 0; i < N_WIDTHS; i++)
            for (int j = 0; j < N_WIDTHS; j++) {
                void *state = NULL;
                bf16_case(be[k], &state, batches[(i + j) % N_BATCHES], widths[i], widths[j],
                          (vae_act)((i + 2 * j) % VAE_ACT_COUNT), 900u + 7u * i + j, &run);
                free_state(be[k], &state);
            }
        for (int s = 0; s < 3; s++) {
            void *state = NULL;
            for (int i = 0; i < N_BATCHES; i++)
                bf16_case(be[k], &state, batches[i], shapes[s][0], shapes[s][1],
                          (vae_act)((i + s) % VAE_ACT_COUNT), 1100u + 11u * i + s, &run);
            free_state(be[k], &state);
        }
        printf("# bf16: %s computed %d shapes itself (worst error %.3g of the bound) and "
               "declined %d\n", be[k]->name, run.ran, run.worst, run.declined);
        /* the slots must do most shapes, or this test would test the reference */
        CHECK(run.ran >= 60, "%s: only %d shapes of %d not declined", be[k]->name, run.ran,
              run.ran + run.declined);
    }
    vae_set_threads(0);
}

/* The same bits on 1, 2 and 3 threads: threads split the output, never a sum. */
static void test_bf16_thread_counts(void)
{
    static const int shapes[][3] = { { 128, 784, 400 }, { 128, 400, 784 }, { 128, 400, 40 },
                                     { 300, 129, 33 }, { 100, 33, 129 }, { 5, 784, 127 } };
    const vae_backend *be[8];
    const int nb = bf16_backends(be);
    for (int k = 0; k < nb; k++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int B = shapes[s][0], n_in = shapes[s][1], n_out = shapes[s][2];
            const vae_act act = (vae_act)(s % VAE_ACT_COUNT);
            const size_t nx = (size_t)B * n_in, ny = (size_t)B * n_out, nw = (size_t)n_in * n_out;
            const size_t nout = ny + ny + nx + nw + n_out; /* y, dpre, dx, dW, db */
            float *x = vae_alloc(nx), *W = vae_alloc(nw), *b = vae_alloc(n_out);
            float *dy = vae_alloc(ny), *out[3];
            vae_fill_uniform(x, nx, -1, 1, 40 + s);
            vae_fill_uniform(W, nw, -0.1f, 0.1f, 41 + s);
            vae_fill_uniform(b, n_out, -0.5f, 0.5f, 42 + s);
            vae_fill_uniform(dy, ny, -1, 1, 43 + s);
            for (int t = 0; t < 3; t++) {
                float *o = out[t] = vae_alloc(nout);
                float *y = o, *dpre = y + ny, *dx = dpre + ny, *dW = dx + nx, *db = dW + nw;
                vae_fill_uniform(dW, nw, -1, 1, 44 + s);
                vae_fill_uniform(db, n_out, -1, 1, 45 + s);
                vae_set_threads(t + 1);
                void *state = NULL;
                vae_error err;
                int rc = vae_dense_forward_bf16(be[k], &state, x, W, b, y, B, n_in, n_out, act,
                                                &err);
                rc |= vae_dense_backward_bf16(be[k], &state, x, W, y, dy, dpre, dx, dW, db, B,
                                              n_in, n_out, act, &err);
                CHECK(rc == VAE_OK, "%s bf16 B=%d %d->%d: %s", be[k]->name, B, n_in, n_out,
                      err.msg);
                free_state(be[k], &state);
            }
            for (int t = 1; t < 3; t++) {
                size_t diff = 0;
                for (size_t i = 0; i < nout; i++)
                    diff += memcmp(&out[0][i], &out[t][i], sizeof(float)) != 0;
                CHECK(diff == 0, "%s bf16 B=%d %d->%d %s: %zu values differ between 1 and %d "
                      "threads", be[k]->name, B, n_in, n_out, vae_act_names[act], diff, t + 1);
            }
            for (int t = 0; t < 3; t++) vae_free(out[t]);
            vae_free(x);
            vae_free(W);
            vae_free(b);
            vae_free(dy);
        }
    vae_set_threads(0);
}

/* The avx2 backend offers bf16 exactly when the CPU has AVX512-BF16, and says why not. */
static void test_avx2_bf16_available(void)
{
    const vae_backend *be = vae_backend_named("avx2");
    char why[128] = "";
    if (!be || !vae_backend_usable(be, why, sizeof why)) {
        printf("# skip: no usable avx2 backend here\n");
        return;
    }
    const int usable = vae_backend_precision_usable(be, VAE_PREC_BF16, why, sizeof why);
#ifdef HAVE_AVX2_BF16
    CHECK(usable == vae_cpu_avx512_bf16(), "avx2 bf16 usable %d, CPU has AVX512-BF16 %d (%s)",
          usable, vae_cpu_avx512_bf16(), why);
    if (!usable) CHECK(strstr(why, "AVX512-BF16") != NULL, "the reason names it: %s", why);
    printf("# avx2 bf16: %s\n", usable ? "usable (AVX512-BF16)" : why);
#else
    CHECK(!usable, "avx2 built without its bf16 kernel offers no bf16");
    printf("# avx2 bf16: not built (the compiler lacks -mavx512bf16)\n");
#endif
}

#ifdef HAVE_ONEDNN
/* backends/onednn.c, for this test only */
const char *vae_onednn_bf16_impl(const void *state, int B, int product);
#endif

/* onednn's bf16 slots run a jit bf16 kernel (brg:...bf16, or gemm:jit, which bf16_available
 * allows only at oneDNN's avx512_core_bf16 ISA), never ref:any; without the instructions
 * the mode is refused with the reason, and nothing runs. */
static void test_onednn_bf16_impl(void)
{
#ifdef HAVE_ONEDNN
    const vae_backend *be = vae_backend_named("onednn");
    char why[160];
    if (!vae_backend_usable(be, why, sizeof why)) {
        printf("# skip: onednn unusable here: %s\n", why);
        return;
    }
    if (!vae_backend_precision_usable(be, VAE_PREC_BF16, why, sizeof why)) {
        CHECK(!vae_cpu_avx512_bf16() && !vae_cpu_amx_bf16() ? strstr(why, "lacks") != NULL
                                                            : strstr(why, "oneDNN") != NULL,
              "onednn refuses bf16 with a reason: %s", why);
        printf("# skip: onednn has no bf16 here: %s\n", why);
        return;
    }
    static const int shapes[][3] = { { 128, 784, 400 }, { 128, 20, 400 }, { 5, 17, 33 } };
    static const char *const products[] = { "forward", "dW", "dx" };
    for (int k = 0; k < 3; k++) {
        const int B = shapes[k][0], n_in = shapes[k][1], n_out = shapes[k][2];
        const size_t nx = (size_t)B * n_in, ny = (size_t)B * n_out, nw = (size_t)n_in * n_out;
        float *x = vae_alloc(nx), *W = vae_alloc(nw), *b = vae_alloc(n_out), *y = vae_alloc(ny);
        float *dy = vae_alloc(ny), *dpre = vae_alloc(ny), *dx = vae_alloc(nx), *dW = vae_alloc(nw);
        float *db = vae_alloc(n_out);
        for (size_t i = 0; i < nx; i++) x[i] = (float)((i * 37 % 101) / 50.0 - 1.0);
        for (size_t i = 0; i < nw; i++) W[i] = (float)((i * 53 % 89) / 44.0 - 1.0) * 0.1f;
        for (size_t i = 0; i < ny; i++) dy[i] = (float)((i * 29 % 67) / 33.0 - 1.0);
        void *state = NULL;
        vae_error err;
        CHECK(be->dense_forward_bf16(&state, x, W, b, y, B, n_in, n_out, VAE_ACT_RELU, &err) ==
                      VAE_OK &&
                  be->dense_backward_bf16(&state, x, W, y, dy, dpre, dx, dW, db, B, n_in, n_out,
                                          VAE_ACT_RELU, &err) == VAE_OK,
              "onednn bf16 B=%d %d->%d runs: %s", B, n_in, n_out, err.msg);
        for (int p = 0; p < 3; p++) {
            const char *impl = vae_onednn_bf16_impl(state, B, p);
            const int jit = impl && ((strncmp(impl, "brg:", 4) == 0 && strstr(impl, "bf16")) ||
                                     strcmp(impl, "gemm:jit") == 0);
            CHECK(jit, "onednn bf16 B=%d %d->%d %s: implementation '%s'", B, n_in, n_out,
                  products[p], impl ? impl : "(none)");
            if (k == 0) printf("# onednn bf16 %s: %s\n", products[p], impl ? impl : "(none)");
        }
        free_state(be, &state);
        float *bufs[] = { x, W, b, y, dy, dpre, dx, dW, db };
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) vae_free(bufs[i]);
    }
#else
    printf("# skip: onednn not built\n");
#endif
}

const test_case backend_tests[] = {
    { "backend registry", test_registry },
    { "backend preference order", test_preference_order },
    { "process-level thread count", test_process_threads },
    { "dense ops match naive, every width pair", test_dense_all_widths },
    { "dense ops match naive, every batch and activation", test_dense_all_batches },
    { "dense ops match naive, 1-3 threads", test_dense_thread_counts },
    { "activation ops match naive", test_activation_ops },
    { "adam matches naive bit for bit", test_adam_ops },
    { "bernoulli likelihood matches the reference", test_bernoulli_ops },
    { "sparse first layer matches naive's dense ops", test_sparse_ops },
    { "bf16 products against the reference", test_bf16_products },
    { "bf16 products do not depend on the thread count", test_bf16_thread_counts },
    { "avx2 bf16 follows the CPU", test_avx2_bf16_available },
    { "avx2 vector math accuracy", test_vector_math_accuracy },
    { "onednn bf16: jit kernel, not a reference implementation", test_onednn_bf16_impl },
    { NULL, NULL },
};
