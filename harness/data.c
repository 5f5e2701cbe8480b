#include "data.h"

#include <math.h>

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
