/* Likelihoods p(x | decoder output), each as a per-example negative log-likelihood
 * in nats summed over the features. Decoder row r pairs with data row r % x_rows,
 * so the K Monte-Carlo samples of one example (rows r, r+B, ...) share its x. */
#ifndef VAE_LIKELIHOOD_H
#define VAE_LIKELIHOOD_H

#include "backend.h"
#include "error.h"

typedef enum vae_likelihood {
    VAE_LIK_BERNOULLI = 0, /* binary cross-entropy; outputs clamped to [eps, 1-eps] */
    VAE_LIK_CBERNOULLI,    /* continuous Bernoulli: BCE minus its log normaliser */
    VAE_LIK_GAUSSIAN,      /* Gaussian, fixed variance noise_var */
    VAE_LIK_MSE,           /* sum of squared errors: NOT a normalised likelihood */
    VAE_LIK_GAUSSIAN_LEARNED, /* Gaussian, one learned variance softplus(rho) */
    VAE_LIK_GAUSSIAN_LOGVAR,  /* Gaussian, the decoder predicts a log-variance per feature */
    VAE_LIK_GAUSSIAN_LOGVAR_MEAN, /* the same head, its log-variance averaged over the features:
                                     one variance per example (the TensorFlow
                                     blog post on a nonlinear factor model) */
    VAE_LIK_COUNT
} vae_likelihood;

extern const char *const vae_likelihood_names[VAE_LIK_COUNT];
int vae_likelihood_parse(const char *name); /* -1 when unknown */
/* Whether exp(-nll) is a normalised density/mass (needed for log p(x) estimates). */
int vae_likelihood_normalised(vae_likelihood kind);
/* Whether the decoder has a log-variance head for this likelihood. */
int vae_likelihood_has_logvar(vae_likelihood kind);

typedef struct vae_lik_args {
    vae_likelihood kind;
    const vae_backend *backend; /* its bernoulli_nll, when it has one; NULL: the loop here */
    float clamp_eps;  /* (c)Bernoulli: outputs are clamped to [eps, 1 - eps] */
    float noise_var;  /* gaussian: the fixed variance */
    float noise_raw;  /* gaussian_learned: rho, with variance softplus(rho) */
    const float *noise_raws; /* gaussian_learned per feature: D rhos (NULL: noise_raw for all) */
} vae_lik_args;

/* nll[r] = -log p(x_{r % x_rows} | out_r) for r < rows.
 * If dout is not NULL it is overwritten with scale * d nll[r] / d out (and dlogvar
 * likewise, for gaussian_logvar(_mean)); *dnoise_raw gets scale * sum d nll / d rho
 * added (gaussian_learned; with noise_raws, dnoise_raw holds D sums, one per rho_j). Fails, naming the row, on a non-finite value. */
int vae_likelihood_eval(const vae_lik_args *a, const float *x, int x_rows, const float *out,
                        const float *logvar, int rows, int D, double *nll, float *dout,
                        float *dlogvar, float scale, double *dnoise_raw, vae_error *err);

/* The clamp of the Bernoulli likelihood for outputs clamped to [eps, 1 - eps] (in
 * double, as the reference loop compares), in the form backends take. */
vae_bce_clamp vae_bce_clamp_for(float eps);

/* log C(lambda) of the continuous Bernoulli and its derivative in lambda;
 * stable at and near lambda = 1/2. */
double vae_cb_log_norm(double lambda, double *dlog_norm);

#endif
