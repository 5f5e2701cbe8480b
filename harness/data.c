#include "data.h"

#include <math.h>
#include <stdlib.h>

#include "rng.h"

int vae_scurve(int n, uint64_t seed, vae_mat **X, vae_mat **truth, vae_error *err)
{
    if (n < 1) return vae_fail(err, "scurve: n must be >= 1 (got %d)", n);
    vae_mat *x = vae_mat_new(n, 2), *t = vae_mat_new(n, 1);
    if (!x || !t) {
        vae_mat_free(x);
        vae_mat_free(t);
        return vae_fail(err, "scurve: out of memory for %d points", n);
    }
    vae_rng rng;
    vae_rng_seed(&rng, seed, VAE_STREAM_DATA);
    for (int i = 0; i < n; i++) {
        double u = vae_rng_uniform(&rng), a = 3.0 * M_PI * (u - 0.5);
        double sign = a > 0 ? 1.0 : a < 0 ? -1.0 : 0.0;
        x->v[2 * i] = (float)((1.0 + sin(a)) / 2.0);
        x->v[2 * i + 1] = (float)((sign * (cos(a) - 1.0) + 2.0) / 4.0);
        t->v[i] = (float)u;
    }
    *X = x;
    *truth = t;
    return VAE_OK;
}

int vae_uniform(int rows, int cols, uint64_t seed, vae_mat **X, vae_error *err)
{
    if (rows < 1 || cols < 1)
        return vae_fail(err, "uniform: rows and cols must be >= 1 (got %d x %d)", rows, cols);
    vae_mat *x = vae_mat_new(rows, cols);
    if (!x) return vae_fail(err, "uniform: out of memory for %d x %d", rows, cols);
    vae_rng rng;
    vae_rng_seed(&rng, seed, VAE_STREAM_DATA);
    for (size_t i = 0; i < (size_t)rows * cols; i++) x->v[i] = (float)vae_rng_uniform(&rng);
    *X = x;
    return VAE_OK;
}

/* ---------- the nonlinear one-factor model (data.h has the family) ---------- */

void vae_factor_truth_free(vae_factor_truth *t)
{
    if (!t) return;
    free(t->family);
    free(t->a);
    free(t->b);
    free(t->c);
    free(t->d);
    free(t->sigma);
    free(t);
}

double vae_factor_g(const vae_factor_truth *t, int j, double z)
{
    const double a = t->a[j], b = t->b[j], c = t->c[j], d = t->d[j];
    switch (t->family[j]) {
    case 0: return a * tanh(b * z + c) + d * z;
    case 1: return a * z * z / 2.0 + b * z + c;
    case 2: return a * sin(b * z + c) + d * z;
    default: {
        double u = z + c;
        return a * u / sqrt(1.0 + b * u * u) + d;
    }
    }
}

static double uniform_in(vae_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * vae_rng_uniform(r);
}

int vae_factor(int n, int p, uint64_t seed, vae_mat **X, vae_mat **Z, vae_factor_truth **truth,
               vae_error *err)
{
    if (n < 1 || p < 1)
        return vae_fail(err, "factor: n and p must be >= 1 (got n = %d, p = %d)", n, p);
    vae_factor_truth *t = calloc(1, sizeof *t);
    vae_mat *x = vae_mat_new(n, p), *z = vae_mat_new(n, 1);
    if (t) {
        t->p = p;
        t->family = malloc((size_t)p * sizeof *t->family);
        t->a = malloc((size_t)p * sizeof *t->a);
        t->b = malloc((size_t)p * sizeof *t->b);
        t->c = malloc((size_t)p * sizeof *t->c);
        t->d = malloc((size_t)p * sizeof *t->d);
        t->sigma = malloc((size_t)p * sizeof *t->sigma);
    }
    if (!t || !x || !z || !t->family || !t->a || !t->b || !t->c || !t->d || !t->sigma) {
        vae_factor_truth_free(t);
        vae_mat_free(x);
        vae_mat_free(z);
        return vae_fail(err, "factor: out of memory for %d x %d", n, p);
    }
    vae_rng rng;
    vae_rng_seed(&rng, seed, VAE_STREAM_DATA);
    for (int j = 0; j < p; j++) {
        double a = 0, b = 0, c = 0, d = 0;
        int f = j % 4;
        switch (f) {
        case 0:
            a = uniform_in(&rng, 1, 2), b = uniform_in(&rng, 1, 3);
            c = uniform_in(&rng, -1, 1), d = uniform_in(&rng, -0.3, 0.3);
            break;
        case 1:
            a = uniform_in(&rng, -1, 1), b = uniform_in(&rng, 0.5, 1.5);
            if (vae_rng_uniform(&rng) < 0.5) b = -b;
            c = uniform_in(&rng, -1, 1);
            break;
        case 2:
            a = uniform_in(&rng, 1, 2), b = uniform_in(&rng, 0.5, 1.5);
            c = uniform_in(&rng, -M_PI, M_PI), d = uniform_in(&rng, -0.5, 0.5);
            break;
        default:
            a = uniform_in(&rng, 1, 2), b = uniform_in(&rng, 0.5, 2);
            c = uniform_in(&rng, -1, 1), d = uniform_in(&rng, -0.5, 0.5);
            break;
        }
        t->family[j] = f;
        t->a[j] = a, t->b[j] = b, t->c[j] = c, t->d[j] = d;
        t->sigma[j] = (float)uniform_in(&rng, 0.1, 0.5);
    }
    for (int i = 0; i < n; i++) z->v[i] = (float)vae_rng_normal(&rng);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < p; j++)
            x->v[(size_t)i * p + j] =
                (float)(vae_factor_g(t, j, z->v[i]) + t->sigma[j] * vae_rng_normal(&rng));
    *X = x;
    *Z = z;
    *truth = t;
    return VAE_OK;
}
