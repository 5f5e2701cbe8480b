/* The fuzz build is the harness with the naive backend only: backends/pool.c
 * (AVX2 and AVX-512 kernels under GCC's target pragma, which clang ignores) is
 * not in it. What the harness calls of it (the log p(x) estimate, harness/model.c)
 * is here in its plainest form, so the targets link: one thread, and no Bernoulli
 * product, so the estimate would take the likelihood's reference loop. No fuzz
 * target estimates log p(x). */
#include <math.h>

#include "../../backends/pool.h"

void vae_pool_run(int parts, vae_pool_job fn, void *arg)
{
    for (int part = 0; part < parts; part++) fn(arg, part);
}

int vae_pool_all_cores(void) { return 1; }

int vae_pool_bernoulli(const float *x, int x_rows, const float *p, int rows, int D,
                       const vae_bce_clamp *c, double *nll, float *dout, float scale)
{
    (void)x, (void)x_rows, (void)p, (void)rows, (void)D, (void)c, (void)nll, (void)dout, (void)scale;
    return VAE_DECLINED;
}

int vae_bce_product_usable(const vae_bce_clamp *c)
{
    (void)c;
    return 0;
}

int vae_bce_renorm_blocks(const vae_bce_clamp *c)
{
    (void)c;
    return 1;
}

int vae_bce_prepare(const float *x, int D, uint8_t *ones, int *col, float *t)
{
    (void)x, (void)D, (void)ones, (void)col, (void)t;
    return 0;
}

double vae_bce_product_nll(const uint8_t *ones, const float *p, int D, const vae_bce_clamp *c,
                           int renorm, const int *grey_col, const float *grey_t, int n_grey)
{
    (void)ones, (void)p, (void)D, (void)c, (void)renorm, (void)grey_col, (void)grey_t, (void)n_grey;
    return NAN;
}
