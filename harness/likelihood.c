#include "likelihood.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "posterior.h"

const char *const vae_likelihood_names[VAE_LIK_COUNT] = {
    "bernoulli", "cbernoulli", "gaussian", "mse", "gaussian_learned", "gaussian_logvar",
    "gaussian_logvar_mean"
};

int vae_likelihood_parse(const char *name)
{
    for (int i = 0; name && i < VAE_LIK_COUNT; i++)
        if (strcmp(name, vae_likelihood_names[i]) == 0) return i;
    return -1;
}

int vae_likelihood_normalised(vae_likelihood kind) { return kind != VAE_LIK_MSE; }

int vae_likelihood_has_logvar(vae_likelihood kind)
{
    return kind == VAE_LIK_GAUSSIAN_LOGVAR || kind == VAE_LIK_GAUSSIAN_LOGVAR_MEAN;
}

static const double LOG_2PI = 1.8378770664093453;

double vae_cb_log_norm(double lambda, double *dlog_norm)
{
    /* C(l) = 2 atanh(1 - 2l) / (1 - 2l), and C(1/2) = 2. With u = 1 - 2l,
     * log C = log 2 + log(atanh(u)/u) = log 2 + u^2/3 + 13 u^4/90 + O(u^6). */
    double u = 1.0 - 2.0 * lambda, dlog_du;
    double log_c;
    if (fabs(u) < 1e-3) {
        log_c = 0.6931471805599453 + u * u / 3.0 + 13.0 * u * u * u * u / 90.0;
        dlog_du = 2.0 * u / 3.0 + 52.0 * u * u * u / 90.0;
    } else {
        double at = atanh(u);
        log_c = log(2.0 * at / u);
        dlog_du = 1.0 / ((1.0 - u * u) * at) - 1.0 / u;
    }
    if (dlog_norm) *dlog_norm = -2.0 * dlog_du;
    return log_c;
}

vae_bce_clamp vae_bce_clamp_for(float eps)
{
    const double lo = eps, hi = 1.0 - (double)eps;
    vae_bce_clamp c;
    /* float p satisfies lo <= p <= hi exactly when keep_lo <= p <= keep_hi */
    c.keep_lo = (float)lo;
    if ((double)c.keep_lo < lo) c.keep_lo = nextafterf(c.keep_lo, INFINITY);
    c.keep_hi = (float)hi;
    if ((double)c.keep_hi > hi) c.keep_hi = nextafterf(c.keep_hi, 0.0f);
    /* the loop below takes logf((float)p) and logf((float)(1 - p)) of p = lo or hi */
    c.low_p = (float)lo;
    c.low_q = (float)(1.0 - lo);
    c.high_p = (float)hi;
    c.high_q = (float)(1.0 - hi);
    return c;
}

/* A backend's Bernoulli likelihood, when it has one: VAE_DECLINED otherwise. */
static int backend_bernoulli(const vae_lik_args *a, const float *x, int x_rows,
                             const float *out, int rows, int D, double *nll, float *dout,
                             float scale, vae_error *err)
{
    if (a->kind != VAE_LIK_BERNOULLI || !a->backend || !a->backend->bernoulli_nll)
        return VAE_DECLINED;
    vae_bce_clamp c = vae_bce_clamp_for(a->clamp_eps);
    /* vector logs take normal floats: a clamp below about 1e-16 (1 - eps rounds to 1
     * in float) or 1e-38 is the loop's */
    if (c.low_p < FLT_MIN || c.high_q < FLT_MIN || c.keep_hi >= 1.0f) return VAE_DECLINED;
    int rc = a->backend->bernoulli_nll(x, x_rows, out, rows, D, &c, nll, dout, scale);
    if (rc != VAE_OK) return rc;
    for (int r = 0; r < rows; r++)
        if (!isfinite(nll[r]))
            return vae_fail(err, "likelihood 'bernoulli' is not finite at row %d (NaN or "
                            "infinite data or output)", r + 1);
    return VAE_OK;
}

int vae_likelihood_eval(const vae_lik_args *a, const float *x, int x_rows, const float *out,
                        const float *logvar, int rows, int D, double *nll, float *dout,
                        float *dlogvar, float scale, double *dnoise_raw, vae_error *err)
{
    int brc = backend_bernoulli(a, x, x_rows, out, rows, D, nll, dout, scale, err);
    if (brc != VAE_DECLINED) return brc;
    double var = a->noise_var, dvar_sum = 0.0;
    if (a->kind == VAE_LIK_GAUSSIAN_LEARNED) {
        var = vae_softplus(a->noise_raw);
    }
    const double lo = a->clamp_eps, hi = 1.0 - a->clamp_eps;
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)(r % x_rows) * D, *o = out + (size_t)r * D;
        float *g = dout ? dout + (size_t)r * D : NULL;
        double s = 0.0;
        switch (a->kind) {
        case VAE_LIK_BERNOULLI:
        case VAE_LIK_CBERNOULLI:
            for (int j = 0; j < D; j++) {
                double p = o[j], t = xr[j], dp = 0.0;
                int clamped = !(p >= lo && p <= hi); /* also catches NaN */
                if (clamped) p = p < lo ? lo : hi;
                /* float logf (log1pf is several times slower): 1 - p is exact in
                 * double and rounds to float with relative error < 6e-8, so each
                 * term is within about 1e-7 absolute; the sum is in double. This
                 * is the costliest loop outside the GEMMs. */
                s -= t * (double)logf((float)p) + (1.0 - t) * (double)logf((float)(1.0 - p));
                if (!clamped) dp = (p - t) / (p * (1.0 - p));
                if (a->kind == VAE_LIK_CBERNOULLI) {
                    double dlogc;
                    s -= vae_cb_log_norm(p, &dlogc);
                    if (!clamped) dp -= dlogc;
                }
                if (g) g[j] = (float)(scale * dp); /* zero where clamped, as a clip is */
            }
            break;
        case VAE_LIK_MSE:
            for (int j = 0; j < D; j++) {
                double e = (double)o[j] - xr[j];
                s += e * e;
                if (g) g[j] = (float)(scale * 2.0 * e);
            }
            break;
        case VAE_LIK_GAUSSIAN_LEARNED:
            if (a->noise_raws) { /* sigma_j^2 = softplus(rho_j), one per feature */
                for (int j = 0; j < D; j++) {
                    double vj = vae_softplus(a->noise_raws[j]), e = (double)o[j] - xr[j];
                    s += e * e / (2.0 * vj) + 0.5 * (LOG_2PI + log(vj));
                    if (g) g[j] = (float)(scale * e / vj);
                    if (dnoise_raw)
                        dnoise_raw[j] += scale * (-e * e / (2.0 * vj * vj) + 0.5 / vj) *
                                         vae_sigmoid(a->noise_raws[j]);
                }
                break;
            }
            /* fall through */
        case VAE_LIK_GAUSSIAN: {
            double sq = 0.0;
            for (int j = 0; j < D; j++) {
                double e = (double)o[j] - xr[j];
                sq += e * e;
                if (g) g[j] = (float)(scale * e / var);
            }
            s = sq / (2.0 * var) + 0.5 * D * (LOG_2PI + log(var));
            dvar_sum += -sq / (2.0 * var * var) + 0.5 * D / var;
            break;
        }
        case VAE_LIK_GAUSSIAN_LOGVAR: {
            const float *lv = logvar + (size_t)r * D;
            float *glv = dlogvar ? dlogvar + (size_t)r * D : NULL;
            for (int j = 0; j < D; j++) {
                double e = (double)o[j] - xr[j], prec = exp(-(double)lv[j]);
                s += 0.5 * (e * e * prec + lv[j] + LOG_2PI);
                if (g) g[j] = (float)(scale * e * prec);
                if (glv) glv[j] = (float)(scale * 0.5 * (1.0 - e * e * prec));
            }
            break;
        }
        case VAE_LIK_GAUSSIAN_LOGVAR_MEAN: {
            /* v = exp(mean_j lv_j) for every feature of the row; d nll / d lv_j =
             * (1/D) sum_k 0.5 (1 - e_k^2 / v) */
            const float *lv = logvar + (size_t)r * D;
            double lbar = 0.0, sq = 0.0;
            for (int j = 0; j < D; j++) lbar += lv[j];
            lbar /= D;
            double prec = exp(-lbar);
            for (int j = 0; j < D; j++) {
                double e = (double)o[j] - xr[j];
                sq += e * e;
                if (g) g[j] = (float)(scale * e * prec);
            }
            s = 0.5 * (sq * prec + D * (lbar + LOG_2PI));
            if (dlogvar) {
                float gl = (float)(scale * 0.5 * (D - sq * prec) / D);
                for (int j = 0; j < D; j++) dlogvar[(size_t)r * D + j] = gl;
            }
            break;
        }
        default:
            return vae_fail(err, "unknown likelihood %d", (int)a->kind);
        }
        if (!isfinite(s))
            return vae_fail(err, "likelihood '%s' is not finite at row %d (NaN or infinite "
                            "data or output)", vae_likelihood_names[a->kind], r + 1);
        nll[r] = s;
    }
    if (dnoise_raw && a->kind == VAE_LIK_GAUSSIAN_LEARNED && !a->noise_raws) {
        *dnoise_raw += scale * dvar_sum * vae_sigmoid(a->noise_raw); /* d softplus / d rho */
    }
    return VAE_OK;
}
