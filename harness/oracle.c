#include "oracle.h"

#include <math.h>
#include <string.h>

#include "mat.h"
#include "rng.h"

void vae_fill_uniform(float *v, size_t n, float lo, float hi, uint64_t seed)
{
    vae_rng r;
    vae_rng_seed(&r, seed, VAE_STREAM_DATA);
    for (size_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * (float)vae_rng_uniform(&r);
}

double vae_max_norm_error(const float *got, const float *ref, const float *scale, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (isnan(got[i]) != isnan(ref[i])) d = INFINITY;
        double e = d / ((double)scale[i] + fabs((double)ref[i]) + 1e-30);
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

/* out (m x n) = |A| |B|, element (i, t) of A at A[i ars + t acs], of B at B[t brs + j bcs] */
static void abs_product(const float *A, size_t ars, size_t acs, const float *B, size_t brs,
                        size_t bcs, int m, int n, int k, float *out)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int t = 0; t < k; t++)
                s += fabs((double)A[i * ars + t * acs]) * fabs((double)B[t * brs + j * bcs]);
            out[(size_t)i * n + j] = (float)s;
        }
}

enum { X, W, BIAS, DY, DW0, DB0, Y_REF, DPRE_REF, DX_REF, DW_REF, DB_REF, Y, DPRE, DX, DWT, DBT,
       SCALE, N_BUFS };

int vae_dense_check(const vae_backend *be, void **state, int B, int n_in, int n_out, vae_act act,
                    uint64_t seed, double *max_error, vae_error *err)
{
    const size_t nx = (size_t)B * n_in, ny = (size_t)B * n_out, nw = (size_t)n_in * n_out;
    size_t big = nx > ny ? nx : ny;
    if (nw > big) big = nw;
    const size_t len[N_BUFS] = { nx, nw, (size_t)n_out, ny, nw, (size_t)n_out, ny, ny, nx, nw,
                                 (size_t)n_out, ny, ny, nx, nw, (size_t)n_out, big };
    float *v[N_BUFS] = { 0 };
    int rc = VAE_OK;
    for (int i = 0; i < N_BUFS; i++)
        if (!(v[i] = vae_alloc(len[i]))) {
            rc = vae_fail(err, "out of memory checking a %dx%d layer", n_in, n_out);
            goto done;
        }
    /* pre-activations of about unit size, so every activation is exercised */
    const float w = sqrtf(3.0f / (float)n_in);
    vae_fill_uniform(v[X], nx, -1, 1, seed);
    vae_fill_uniform(v[W], nw, -w, w, seed + 1);
    vae_fill_uniform(v[BIAS], n_out, -0.5f, 0.5f, seed + 2);
    vae_fill_uniform(v[DY], ny, -1, 1, seed + 3);
    vae_fill_uniform(v[DW0], nw, -1, 1, seed + 4); /* gradients accumulate onto these */
    vae_fill_uniform(v[DB0], n_out, -1, 1, seed + 5);
    memcpy(v[DW_REF], v[DW0], nw * sizeof(float));
    memcpy(v[DB_REF], v[DB0], n_out * sizeof(float));
    memcpy(v[DWT], v[DW0], nw * sizeof(float));
    memcpy(v[DBT], v[DB0], n_out * sizeof(float));

    /* outputs start as NaN: a backend that adds into y, dpre or dx instead of
     * overwriting them fails the comparison */
    for (size_t i = 0; i < ny; i++) v[Y][i] = v[DPRE][i] = NAN;
    for (size_t i = 0; i < nx; i++) v[DX][i] = NAN;
    const vae_backend *ref = &vae_backend_naive;
    ref->dense_forward(NULL, v[X], v[W], v[BIAS], v[Y_REF], B, n_in, n_out, act, err);
    ref->dense_backward(NULL, v[X], v[W], v[Y_REF], v[DY], v[DPRE_REF], v[DX_REF], v[DW_REF],
                        v[DB_REF], B, n_in, n_out, act, err);
    if ((rc = vae_dense_forward(be, state, v[X], v[W], v[BIAS], v[Y], B, n_in, n_out, act, err)))
        goto done;
    /* the backward pass gets the reference y, so each op is compared on its own */
    if ((rc = vae_dense_backward(be, state, v[X], v[W], v[Y_REF], v[DY], v[DPRE], v[DX], v[DWT],
                                 v[DBT], B, n_in, n_out, act, err)))
        goto done;

    float *s = v[SCALE];
    abs_product(v[X], n_in, 1, v[W], n_out, 1, B, n_out, n_in, s);
    for (int r = 0; r < B; r++)
        for (int o = 0; o < n_out; o++) s[(size_t)r * n_out + o] += fabsf(v[BIAS][o]);
    double worst = vae_max_norm_error(v[Y], v[Y_REF], s, ny), e;

    for (size_t i = 0; i < ny; i++) s[i] = fabsf(v[DY][i]);
    if ((e = vae_max_norm_error(v[DPRE], v[DPRE_REF], s, ny)) > worst || isnan(e)) worst = e;

    for (int o = 0; o < n_out; o++) {
        double sum = fabs(v[DB0][o]);
        for (int r = 0; r < B; r++) sum += fabs(v[DPRE_REF][(size_t)r * n_out + o]);
        s[o] = (float)sum;
    }
    if ((e = vae_max_norm_error(v[DBT], v[DB_REF], s, n_out)) > worst || isnan(e)) worst = e;

    abs_product(v[DPRE_REF], n_out, 1, v[W], 1, n_out, B, n_in, n_out, s);
    if ((e = vae_max_norm_error(v[DX], v[DX_REF], s, nx)) > worst || isnan(e)) worst = e;

    abs_product(v[X], 1, n_in, v[DPRE_REF], n_out, 1, n_in, n_out, B, s);
    for (size_t i = 0; i < nw; i++) s[i] += fabsf(v[DW0][i]);
    if ((e = vae_max_norm_error(v[DWT], v[DW_REF], s, nw)) > worst || isnan(e)) worst = e;

    /* dx == NULL skips the input gradient and gives the same dW, db and dpre */
    memcpy(v[DWT], v[DW0], nw * sizeof(float));
    memcpy(v[DBT], v[DB0], n_out * sizeof(float));
    for (size_t i = 0; i < ny; i++) v[DPRE][i] = NAN;
    if ((rc = vae_dense_backward(be, state, v[X], v[W], v[Y_REF], v[DY], v[DPRE], NULL, v[DWT],
                                 v[DBT], B, n_in, n_out, act, err)))
        goto done;
    if ((e = vae_max_norm_error(v[DWT], v[DW_REF], s, nw)) > worst || isnan(e)) worst = e;
    for (int o = 0; o < n_out; o++) {
        double sum = fabs(v[DB0][o]);
        for (int r = 0; r < B; r++) sum += fabs(v[DPRE_REF][(size_t)r * n_out + o]);
        s[o] = (float)sum;
    }
    if ((e = vae_max_norm_error(v[DBT], v[DB_REF], s, n_out)) > worst || isnan(e)) worst = e;
    for (size_t i = 0; i < ny; i++) s[i] = fabsf(v[DY][i]);
    if ((e = vae_max_norm_error(v[DPRE], v[DPRE_REF], s, ny)) > worst || isnan(e)) worst = e;
    *max_error = worst;
done:
    for (int i = 0; i < N_BUFS; i++) vae_free(v[i]);
    return rc;
}
