/* Layer-level tests: finite-difference gradient checks of every layer kind,
 * every likelihood and every posterior head with the KL term; reference values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../backends/pool.h"
#include "../harness/layer.h"
#include "../harness/likelihood.h"
#include "../harness/mat.h"
#include "../harness/posterior.h"
#include "check.h"

/* ---------- a layer under test: loss = sum(y * R) for a fixed random R ---------- */

typedef struct layer_ctx {
    vae_layer *l;
    float *x, *y, *R;
    int B, training;
    vae_rng *rng, saved; /* dropout: replay the same mask */
} layer_ctx;

static double layer_loss(void *p)
{
    layer_ctx *c = p;
    if (c->rng) *c->rng = c->saved;
    vae_error err;
    if (vae_layer_forward(c->l, c->x, c->y, c->B, c->training, &err)) return NAN;
    double s = 0;
    for (size_t i = 0; i < (size_t)c->B * c->l->n_out; i++) s += (double)c->y[i] * c->R[i];
    return s;
}

/* Checks d loss / d x and, when the layer has parameters, d loss / d params. */
static void check_layer(const char *name, vae_layer *l, int B, float xlo, float xhi,
                        vae_rng *rng)
{
    float *params = vae_alloc(l->n_params + 1), *grads = vae_alloc(l->n_params + 1);
    float *x = vae_alloc((size_t)B * l->n_in), *y = vae_alloc((size_t)B * l->n_out);
    float *R = vae_alloc((size_t)B * l->n_out), *dx = vae_alloc((size_t)B * l->n_in);
    vae_layer_bind(l, params, grads);
    vae_rng init;
    vae_rng_seed(&init, 7, 1);
    if (l->n_params) vae_dense_init(l, VAE_INIT_PYTORCH, 3, &init);
    fill_uniform(x, (size_t)B * l->n_in, xlo, xhi, 11);
    fill_uniform(R, (size_t)B * l->n_out, -1, 1, 12);
    layer_ctx c = { l, x, y, R, B, 1, rng, { { 0 }, 0, 0 } };
    if (rng) c.saved = *rng;
    layer_loss(&c);
    vae_error err;
    CHECK(vae_layer_backward(l, x, y, R, dx, B, &err) == VAE_OK, "%s backward failed", name);
    char what[96];
    snprintf(what, sizeof what, "%s dx", name);
    gradcheck(what, x, dx, (size_t)B * l->n_in, layer_loss, &c, 1e-2, 1e-2, 2e-3);
    if (l->n_params) {
        snprintf(what, sizeof what, "%s dparams", name);
        gradcheck(what, params, grads, l->n_params, layer_loss, &c, 1e-2, 1e-2, 2e-3);
    }
    vae_free(params); vae_free(grads); vae_free(x); vae_free(y); vae_free(R); vae_free(dx);
}

/* Every backend's dense layers and activations, gradient-checked. */
static void test_dense_gradients(void)
{
    for (int k = 0; k < vae_backend_count(); k++) {
        const vae_backend *be = vae_backend_at(k);
        char why[128];
        if (!vae_backend_usable(be, why, sizeof why)) continue;
        for (int a = 0; a < VAE_ACT_COUNT; a++) {
            /* narrow, wide (naive's other path), and wider than one 16-column panel;
             * with these fixed inputs no relu pre-activation lies within h of its kink */
            static const int shapes[][2] = { { 5, 4 }, { 9, 12 }, { 5, 18 } };
            for (int s = 0; s < 3; s++) {
                vae_layer *l = vae_dense_new(shapes[s][0], shapes[s][1], (vae_act)a, be);
                char name[64];
                snprintf(name, sizeof name, "%s dense %dx%d+%s", be->name, shapes[s][0],
                         shapes[s][1], vae_act_names[a]);
                /* relu: inputs in [0.3, 1) keep most pre-activations away from the kink;
                 * the finite difference straddles a kink only when |pre| < h */
                check_layer(name, l, 3, a == VAE_ACT_RELU ? 0.3f : -1.0f, 1.0f, NULL);
                vae_layer_free(l);
            }
        }
    }
}

static void test_activation_gradients(void)
{
    for (int k = 0; k < vae_backend_count(); k++) {
        const vae_backend *be = vae_backend_at(k);
        char why[128];
        if (!vae_backend_usable(be, why, sizeof why)) continue;
        for (int a = 0; a < VAE_ACT_COUNT; a++) {
            vae_layer *l = vae_activation_new(6, (vae_act)a, be);
            char name[64];
            snprintf(name, sizeof name, "%s activation %s", be->name, vae_act_names[a]);
            check_layer(name, l, 4, a == VAE_ACT_RELU ? 0.05f : -2.0f, 2.0f, NULL);
            vae_layer_free(l);
        }
    }
}

static void test_dropout_gradients(void)
{
    vae_rng rng;
    vae_rng_seed(&rng, 3, VAE_STREAM_DROPOUT);
    vae_layer *l = vae_dropout_new(8, 0.3f, &rng);
    check_layer("dropout", l, 5, -1, 1, &rng);
    vae_layer_free(l);
}

static void test_dropout_behaviour(void)
{
    vae_rng rng;
    vae_rng_seed(&rng, 5, VAE_STREAM_DROPOUT);
    const int n = 20000;
    vae_layer *l = vae_dropout_new(n, 0.25f, &rng);
    float *x = vae_alloc(n), *y = vae_alloc(n);
    for (int i = 0; i < n; i++) x[i] = 1.0f;
    vae_error err;
    vae_layer_forward(l, x, y, 1, 1, &err);
    int zeros = 0;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        zeros += y[i] == 0.0f;
        sum += y[i];
        CHECK(y[i] == 0.0f || fabsf(y[i] - 1.0f / 0.75f) < 1e-6f, "kept unit not rescaled: %g", y[i]);
    }
    CHECK(fabs(zeros / (double)n - 0.25) < 0.02, "dropped fraction %g, want 0.25", zeros / (double)n);
    CHECK(fabs(sum / n - 1.0) < 0.03, "inverted dropout should keep the mean (got %g)", sum / n);
    vae_layer_forward(l, x, y, 1, 0, &err);
    for (int i = 0; i < n; i++) CHECK(y[i] == 1.0f, "evaluation mode must be the identity");
    vae_free(x); vae_free(y);
    vae_layer_free(l);
}

static void test_activation_values(void)
{
    CHECK(fabsf(vae_act_apply(VAE_ACT_SOFTPLUS, 100.0f) - 100.0f) < 1e-4f, "softplus(100)");
    CHECK(vae_act_apply(VAE_ACT_SOFTPLUS, -100.0f) >= 0.0f, "softplus(-100) >= 0");
    CHECK(fabsf(vae_act_apply(VAE_ACT_SOFTPLUS, 0.0f) - logf(2.0f)) < 1e-6f, "softplus(0)");
    CHECK(vae_act_apply(VAE_ACT_SIGMOID, -100.0f) >= 0.0f, "sigmoid(-100)");
    CHECK(fabsf(vae_act_apply(VAE_ACT_SIGMOID, 0.0f) - 0.5f) < 1e-7f, "sigmoid(0)");
    CHECK(fabsf(vae_act_apply(VAE_ACT_ELU, -1.0f) - (expf(-1.0f) - 1.0f)) < 1e-6f, "elu(-1)");
    CHECK(vae_act_apply(VAE_ACT_RELU, -3.0f) == 0.0f, "relu(-3)");
    CHECK(vae_act_parse("none") == VAE_ACT_LINEAR, "'none' means linear");
    CHECK(vae_act_parse("swish") == -1, "unknown names are rejected");
}

/* ---------- likelihoods ---------- */

typedef struct lik_ctx {
    vae_lik_args a;
    float *x, *out, *lv;
    int xr, rows, D;
    double *nll;
} lik_ctx;

static double lik_loss(void *p)
{
    lik_ctx *c = p;
    vae_error err;
    if (vae_likelihood_eval(&c->a, c->x, c->xr, c->out, c->lv, c->rows, c->D, c->nll, NULL,
                            NULL, 0, NULL, &err))
        return NAN;
    double s = 0;
    for (int r = 0; r < c->rows; r++) s += c->nll[r];
    return s;
}

static void test_likelihood_gradients(void)
{
    enum { XR = 3, ROWS = 6, D = 5 }; /* two samples per data row */
    for (int k = 0; k < VAE_LIK_COUNT; k++) {
        float x[XR * D], out[ROWS * D], lv[ROWS * D], dout[ROWS * D], dlv[ROWS * D];
        double nll[ROWS], dnoise = 0;
        fill_uniform(x, XR * D, 0.02f, 0.98f, 21);
        fill_uniform(out, ROWS * D, 0.05f, 0.95f, 22);
        fill_uniform(lv, ROWS * D, -1.0f, 1.0f, 23);
        lik_ctx c = { { (vae_likelihood)k, NULL, 1e-7f, 0.3f, -0.7f, NULL }, x, out, lv, XR, ROWS, D, nll };
        vae_error err;
        int rc = vae_likelihood_eval(&c.a, x, XR, out, lv, ROWS, D, nll, dout, dlv, 1.0f, &dnoise, &err);
        CHECK(rc == VAE_OK, "%s: %s", vae_likelihood_names[k], err.msg);
        char what[64];
        snprintf(what, sizeof what, "%s d/dout", vae_likelihood_names[k]);
        gradcheck(what, out, dout, ROWS * D, lik_loss, &c, 1e-3, 1e-2, 1e-3);
        if (vae_likelihood_has_logvar((vae_likelihood)k)) {
            snprintf(what, sizeof what, "%s d/dlogvar", vae_likelihood_names[k]);
            gradcheck(what, lv, dlv, ROWS * D, lik_loss, &c, 1e-3, 1e-2, 1e-3);
        }
        if (k == VAE_LIK_GAUSSIAN_LEARNED) {
            float g = (float)dnoise;
            gradcheck("gaussian_learned d/drho", &c.a.noise_raw, &g, 1, lik_loss, &c, 1e-3, 1e-2, 1e-3);
            /* one variance per feature: D rhos */
            float rhos[D], grho[D];
            double drho[D] = { 0 };
            fill_uniform(rhos, D, -1.5f, 1.0f, 24);
            c.a.noise_raws = rhos;
            rc = vae_likelihood_eval(&c.a, x, XR, out, lv, ROWS, D, nll, dout, dlv, 1.0f, drho, &err);
            CHECK(rc == VAE_OK, "gaussian_learned per feature: %s", err.msg);
            for (int j = 0; j < D; j++) grho[j] = (float)drho[j];
            gradcheck("gaussian_learned per feature d/dout", out, dout, ROWS * D, lik_loss, &c, 1e-3, 1e-2, 1e-3);
            gradcheck("gaussian_learned per feature d/drho_j", rhos, grho, D, lik_loss, &c, 1e-3, 1e-2, 1e-3);
        }
    }
}

static void test_likelihood_values(void)
{
    /* Bernoulli at p = 0.5 costs log 2 per feature, whatever x */
    float x[2] = { 0.0f, 1.0f }, out[2] = { 0.5f, 0.5f }, d[2];
    double nll;
    vae_error err;
    vae_lik_args a = { VAE_LIK_BERNOULLI, NULL, 1e-7f, 1.0f, 0.0f, NULL };
    vae_likelihood_eval(&a, x, 1, out, NULL, 1, 2, &nll, d, NULL, 1, NULL, &err);
    CHECK(fabs(nll - 2 * log(2.0)) < 1e-6, "bce(0.5) = %g", nll);
    /* the clamp keeps p = 0 finite, with a zero gradient there (as a clip does) */
    float zero[2] = { 0.0f, 0.0f };
    CHECK(vae_likelihood_eval(&a, x, 1, zero, NULL, 1, 2, &nll, d, NULL, 1, NULL, &err) == VAE_OK,
          "clamped output is finite");
    CHECK(fabs(nll + log(1e-7)) < 1e-3, "bce of 1 at p=0 is -log(eps): %g", nll);
    CHECK(d[0] == 0.0f && d[1] == 0.0f, "gradient is zero where clamped");
    /* continuous Bernoulli: normaliser C(1/2) = 2, smooth across 1/2 */
    double dl;
    CHECK(fabs(vae_cb_log_norm(0.5, &dl) - log(2.0)) < 1e-12 && fabs(dl) < 1e-12, "log C(1/2) = log 2");
    for (double lam = 0.4995; lam < 0.5006; lam += 0.0001) {
        double u = 1 - 2 * lam, direct = fabs(u) > 1e-12 ? log(2 * atanh(u) / u) : log(2.0);
        CHECK(fabs(vae_cb_log_norm(lam, NULL) - direct) < 1e-9, "log C(%g) series vs direct", lam);
    }
    double lo = vae_cb_log_norm(0.3, &dl), h = 1e-6;
    double num = (vae_cb_log_norm(0.3 + h, NULL) - vae_cb_log_norm(0.3 - h, NULL)) / (2 * h);
    CHECK(fabs(dl - num) < 1e-6 && lo > log(2.0), "d log C / d lambda at 0.3");
    /* the continuous Bernoulli density integrates to 1 over [0, 1] */
    vae_lik_args cb = { VAE_LIK_CBERNOULLI, NULL, 1e-7f, 1.0f, 0.0f, NULL };
    for (float p = 0.1f; p < 1.0f; p += 0.2f) {
        double integral = 0;
        const int steps = 2000;
        for (int i = 0; i < steps; i++) {
            float xv = (i + 0.5f) / steps, pv = p;
            vae_likelihood_eval(&cb, &xv, 1, &pv, NULL, 1, 1, &nll, NULL, NULL, 0, NULL, &err);
            integral += exp(-nll) / steps;
        }
        CHECK(fabs(integral - 1.0) < 1e-3, "continuous Bernoulli(%g) integrates to %g", p, integral);
    }
    /* mse is the plain sum of squares; gaussian adds its normaliser */
    float xm[2] = { 1.0f, 2.0f }, om[2] = { 0.0f, 0.0f };
    vae_lik_args mse = { VAE_LIK_MSE, NULL, 1e-7f, 1.0f, 0.0f, NULL };
    vae_likelihood_eval(&mse, xm, 1, om, NULL, 1, 2, &nll, NULL, NULL, 0, NULL, &err);
    CHECK(fabs(nll - 5.0) < 1e-9, "mse = %g, want 5", nll);
    CHECK(!vae_likelihood_normalised(VAE_LIK_MSE) && vae_likelihood_normalised(VAE_LIK_GAUSSIAN), "mse is not normalised");
    vae_lik_args g = { VAE_LIK_GAUSSIAN, NULL, 1e-7f, 0.5f, 0.0f, NULL };
    vae_likelihood_eval(&g, xm, 1, om, NULL, 1, 2, &nll, NULL, NULL, 0, NULL, &err);
    CHECK(fabs(nll - (5.0 + log(M_PI))) < 1e-6, "gaussian(var 1/2) = mse + log pi: %g", nll);
    /* non-finite outputs are an error naming the row */
    float bad[2] = { 0.0f, NAN };
    CHECK(vae_likelihood_eval(&mse, xm, 1, bad, NULL, 1, 2, &nll, NULL, NULL, 0, NULL, &err) == VAE_FAIL &&
          strstr(err.msg, "row 1"), "NaN output is reported with its row");
}

/* The Bernoulli likelihood as one product per row (pool.h, for log p(x)) against
 * the reference loop: rows of zeros, ones and grey values, widths around the
 * vector width, outputs at and past the clamps (0, 1, NaN), three clamps. */
static void test_bernoulli_product(void)
{
    const vae_bce_clamp probe = vae_bce_clamp_for(1e-7f);
    if (!vae_bce_product_usable(&probe)) {
        printf("# no AVX2 here: the product is not used\n");
        return;
    }
    static const int widths[] = { 1, 7, 8, 9, 15, 16, 17, 33, 100, 784 };
    static const float clamps[] = { 1e-7f, 1e-3f, 0.2f };
    double worst = 0;
    vae_rng g;
    vae_rng_seed(&g, 8, 2);
    for (size_t ci = 0; ci < sizeof clamps / sizeof clamps[0]; ci++) {
        const vae_bce_clamp c = vae_bce_clamp_for(clamps[ci]);
        const int renorm = vae_bce_renorm_blocks(&c);
        CHECK(vae_bce_product_usable(&c) && renorm >= 1, "clamp %g: usable, renorm %d", clamps[ci], renorm);
        const vae_lik_args a = { VAE_LIK_BERNOULLI, NULL, clamps[ci], 1.0f, 0.0f, NULL };
        for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++)
            for (int kind = 0; kind < 4; kind++) { /* mixed, all binary, all grey, all one */
                const int D = widths[wi];
                float *x = malloc((size_t)D * sizeof *x), *p = malloc((size_t)D * sizeof *p),
                      *t = malloc((size_t)(D + 7) * sizeof *t);
                int *col = malloc((size_t)(D + 7) * sizeof *col);
                uint8_t *ones = malloc((size_t)vae_bce_ones_bytes(D));
                for (int j = 0; j < D; j++) {
                    const double u = vae_rng_uniform(&g), v = vae_rng_uniform(&g);
                    x[j] = kind == 3 ? 1.0f
                         : kind == 2 || (kind == 0 && u > 0.7) ? (float)vae_rng_uniform(&g)
                         : u < 0.5 ? 0.0f : 1.0f;
                    p[j] = v < 0.05 ? 0.0f : v < 0.1 ? 1.0f : v < 0.12 ? NAN : v < 0.15 ? 1e-9f
                         : v < 0.17 ? c.keep_lo : v < 0.19 ? c.keep_hi : (float)vae_rng_uniform(&g);
                }
                double want, got;
                vae_error err;
                CHECK(vae_likelihood_eval(&a, x, 1, p, NULL, 1, D, &want, NULL, NULL, 0, NULL, &err) ==
                      VAE_OK, "reference: %s", err.msg);
                const int n = vae_bce_prepare(x, D, ones, col, t);
                /* the reference's float logs: relative 1e-7 (every term has one sign);
                 * the product's float lanes: about 6e-8 nats a factor */
                const double tol = 1e-7 * fabs(want) + 1e-7 * sqrt((double)D);
                for (int lanes = 8; lanes <= 16; lanes += 8) {
                    got = lanes == 8 ? vae_bce_product_nll8(ones, p, D, &c, renorm, col, t, n)
                                     : vae_bce_product_nll(ones, p, D, &c, renorm, col, t, n);
                    if (fabs(got - want) / tol > worst) worst = fabs(got - want) / tol;
                    CHECK(fabs(got - want) <= tol,
                          "clamp %g, D %d, kind %d, %s: product %.12g vs loop %.12g", clamps[ci], D,
                          kind, lanes == 8 ? "8 lanes" : "widest", got, want);
                }
                free(x); free(p); free(t); free(col); free(ones);
            }
    }
    printf("# the product's largest difference from the loop: %.2f of the tolerance\n", worst);
}

/* ---------- posterior heads and KL ---------- */

typedef struct kl_ctx {
    vae_head h;
    float *mu, *raw, shared;
    int B, L;
    float *eps, *R; /* also test the reparameterised sample: loss += sum(z * R) */
} kl_ctx;

static double kl_loss(void *p)
{
    kl_ctx *c = p;
    int n = c->B * c->L;
    float sig[16], ls[16], ds[16];
    double kl[8], s = 0;
    vae_head_sigma(c->h, c->raw, c->shared, n, sig, ls, ds);
    vae_kl_normal(c->mu, sig, ls, c->B, c->L, kl, NULL, NULL, 0);
    for (int r = 0; r < c->B; r++) s += kl[r];
    for (int i = 0; i < n; i++) s += (double)(c->mu[i] + sig[i] * c->eps[i]) * c->R[i];
    return s;
}

static void test_posterior_gradients(void)
{
    enum { B = 3, L = 4, N = B * L };
    for (int h = 0; h < VAE_HEAD_COUNT; h++) {
        float mu[N], raw[N], eps[N], R[N], sig[N], ls[N], ds[N], dmu[N] = { 0 }, dsig[N] = { 0 };
        double kl[B];
        fill_uniform(mu, N, -1, 1, 31);
        fill_uniform(raw, N, -1.5f, 1.0f, 32);
        fill_uniform(eps, N, -2, 2, 33);
        fill_uniform(R, N, -1, 1, 34);
        kl_ctx c = { (vae_head)h, mu, raw, -0.4f, B, L, eps, R };
        vae_head_sigma(c.h, raw, c.shared, N, sig, ls, ds);
        for (int i = 0; i < N; i++) CHECK(sig[i] > 0 && fabsf(logf(sig[i]) - ls[i]) < 1e-5f, "%s: sigma > 0, log consistent", vae_head_names[h]);
        vae_kl_normal(mu, sig, ls, B, L, kl, dmu, dsig, 1.0f);
        for (int i = 0; i < N; i++) { dmu[i] += R[i]; dsig[i] += R[i] * eps[i]; }
        char what[64];
        snprintf(what, sizeof what, "%s d/dmu", vae_head_names[h]);
        gradcheck(what, mu, dmu, N, kl_loss, &c, 1e-3, 1e-2, 1e-3);
        if (h == VAE_HEAD_SHARED) {
            double g = 0;
            for (int i = 0; i < N; i++) g += (double)dsig[i] * ds[i];
            float gf = (float)g;
            gradcheck("shared d/drho", &c.shared, &gf, 1, kl_loss, &c, 1e-3, 1e-2, 1e-3);
        } else {
            float draw[N];
            for (int i = 0; i < N; i++) draw[i] = dsig[i] * ds[i];
            snprintf(what, sizeof what, "%s d/draw", vae_head_names[h]);
            gradcheck(what, raw, draw, N, kl_loss, &c, 1e-3, 1e-2, 1e-3);
        }
    }
    /* KL is zero exactly at the prior */
    float m0[2] = { 0, 0 }, s1[2] = { 1, 1 }, l0[2] = { 0, 0 };
    double kl;
    vae_kl_normal(m0, s1, l0, 1, 2, &kl, NULL, NULL, 0);
    CHECK(fabs(kl) < 1e-12, "KL(prior || prior) = %g", kl);
    CHECK(fabsf(log1pf(expf(vae_softplus_inverse(1e-6f))) - 1e-6f) < 1e-10f, "softplus inverse at 1e-6");
}

/* Normals in bulk (vae_rng_normals, and so vae_reparam_forward): bit for bit the
 * values of one vae_rng_normal call each, in pieces of every parity (a spare in
 * hand before and after), the stream left as the calls leave it; and the vector
 * transform against the scalar one at the edges of its ranges (u1 = 1 and 2^-53,
 * angles at and next to multiples of pi/2). */
static void test_normals_in_bulk(void)
{
    enum { N = 1 << 20 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    vae_rng a, b;
    vae_rng_seed(&a, 12, 4);
    b = a;
    for (int i = 0; i < N; i++) x[i] = vae_rng_normal(&a);
    for (int i = 0, step = 1; i < N; i += step, step = step * 7 % 1009 + 1)
        vae_rng_normals(&b, y + i, (size_t)(step < N - i ? step : N - i));
    const float na = vae_rng_normal(&a), nb = vae_rng_normal(&b);
    CHECK(memcmp(x, y, N * sizeof *x) == 0 && memcmp(&na, &nb, sizeof na) == 0,
          "vae_rng_normals differs from vae_rng_normal calls");
    /* vae_reparam_forward: z from the same normals */
    enum { B = 7, L = 3, K = 5 };
    float mu[B * L], sg[B * L], eps[K * B * L], z[K * B * L];
    fill_uniform(mu, B * L, -1, 1, 61);
    fill_uniform(sg, B * L, 0.1f, 2, 62);
    vae_rng_seed(&a, 9, 3);
    vae_rng_normal(&a); /* a spare in hand */
    b = a;
    vae_reparam_forward(mu, sg, B, L, K, &a, eps, z);
    int same = 1;
    for (int k = 0; k < K; k++)
        for (int i = 0; i < B * L; i++) {
            const float e = vae_rng_normal(&b), zz = mu[i] + sg[i] * e;
            same = same && !memcmp(&e, &eps[k * B * L + i], sizeof e) &&
                   !memcmp(&zz, &z[k * B * L + i], sizeof zz);
        }
    CHECK(same, "vae_reparam_forward: not one vae_rng_normal per value");
    /* the edges, 4 lanes at a time plus a scalar tail */
    enum { P = 4 * 5 * 9 + 3 };
    uint64_t ua[P], ub[P];
    float v[2 * P];
    const uint64_t ks[] = { 0, 1, 2, (1ULL << 53) - 1 };
    for (int i = 0; i < P; i++) {
        ua[i] = ks[i % 4] << 11 | (uint64_t)(i * 97 % 2048); /* the low 11 bits are dropped */
        const uint64_t quarter = (uint64_t)(i / 4 % 5) << 51; /* 2 pi u2 = q pi / 2 */
        ub[i] = (quarter + (uint64_t)(i / 20) - 4) << 11;
        if (i / 4 % 5 == 0 && i / 20 < 4) ub[i] = (uint64_t)(i / 20) << 11; /* no wrap below 0 */
    }
    vae_rng_box_muller_many(ua, ub, P, v);
    int edges = 1;
    for (int i = 0; i < P; i++) {
        float f, s;
        vae_rng_box_muller(ua[i], ub[i], &f, &s);
        edges = edges && !memcmp(&f, &v[2 * i], sizeof f) && !memcmp(&s, &v[2 * i + 1], sizeof s);
    }
    CHECK(edges, "the vector Box-Muller differs at the edges of its ranges");
    free(x);
    free(y);
}

/* ---------- Adam and the RNG ---------- */

static void test_adam_reference(void)
{
    float p[3] = { 1, -2, 3 }, g[3] = { 0.5f, -1, 0 }, m[3] = { 0 }, v[3] = { 0 };
    vae_adam_step s = { 0.1f, 0.9f, 0.999f, 1e-8f, 1 - 0.9f, 1 - 0.999f };
    vae_adam_update(&vae_backend_naive, p, g, m, v, 3, &s);
    /* the first Adam step moves each parameter by lr * sign(g) */
    CHECK(fabsf(p[0] - 0.9f) < 1e-5f && fabsf(p[1] + 1.9f) < 1e-5f && p[2] == 3.0f,
          "first step: %g %g %g", p[0], p[1], p[2]);
    CHECK(g[0] == 0 && g[1] == 0, "the step zeroes the gradients");
}

static void test_rng(void)
{
    vae_rng a, b, c;
    vae_rng_seed(&a, 42, 1);
    vae_rng_seed(&b, 42, 1);
    vae_rng_seed(&c, 42, 2);
    int same = 1, diff = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t x = vae_rng_u32(&a), y = vae_rng_u32(&b), z = vae_rng_u32(&c);
        same &= x == y;
        diff += x != z;
    }
    CHECK(same, "same seed and stream give the same sequence");
    CHECK(diff > 90, "another stream gives another sequence");
    double s = 0, s2 = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double z = vae_rng_normal(&a);
        s += z;
        s2 += z * z;
    }
    CHECK(fabs(s / n) < 0.01 && fabs(s2 / n - 1) < 0.02, "normal mean %g var %g", s / n, s2 / n);
    int perm[10];
    for (int i = 0; i < 10; i++) perm[i] = i;
    vae_rng_shuffle(&a, perm, 10);
    int seen = 0;
    for (int i = 0; i < 10; i++) seen |= 1 << perm[i];
    CHECK(seen == 1023, "shuffle is a permutation");
}

const test_case layer_tests[] = {
    { "dense gradients, every backend and activation", test_dense_gradients },
    { "activation layer gradients, every backend", test_activation_gradients },
    { "dropout gradients", test_dropout_gradients },
    { "dropout rate, scaling and eval mode", test_dropout_behaviour },
    { "activation reference values", test_activation_values },
    { "likelihood gradients, every likelihood", test_likelihood_gradients },
    { "likelihood values and normalisers", test_likelihood_values },
    { "Bernoulli likelihood as a product (log p(x)) against the loop", test_bernoulli_product },
    { "posterior heads and KL gradients", test_posterior_gradients },
    { "normals in bulk and the reparameterised sample: vae_rng_normal's, bit for bit",
      test_normals_in_bulk },
    { "adam reference step", test_adam_reference },
    { "rng streams", test_rng },
    { NULL, NULL }
};
