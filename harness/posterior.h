/* The encoder's posterior q(z|x) = N(mu, diag sigma^2): how sigma comes from the
 * variance head, the reparameterised sample, and the closed-form KL to N(0, I). */
#ifndef VAE_POSTERIOR_H
#define VAE_POSTERIOR_H

#include "rng.h"

typedef enum vae_head {
    VAE_HEAD_LOGVAR = 0, /* r = log sigma^2                    (Keras notebook)  */
    VAE_HEAD_SOFTPLUS,   /* sigma = 1e-6 + softplus(r)         (ADCME tutorial)  */
    VAE_HEAD_EXP,        /* sigma = exp(r)                     (Pyro tutorial)   */
    VAE_HEAD_SHARED,     /* sigma^2 = softplus(rho), ONE rho for all points and dims
                            (MXFusion tutorial); no variance head layer */
    VAE_HEAD_COUNT
} vae_head;

extern const char *const vae_head_names[VAE_HEAD_COUNT];
int vae_head_parse(const char *name);

/* For n elements: sigma, log sigma and d sigma / d raw, where raw is the head's
 * output (or, for the shared head, the scalar shared_raw, and raw may be NULL). */
void vae_head_sigma(vae_head h, const float *raw, float shared_raw, int n, float *sigma,
                    float *log_sigma, float *dsigma);

/* The reparameterised sample of K draws per row, mu and sigma (B x L):
 * z[k B L + i] = mu[i] + sigma[i] * eps[k B L + i], eps ~ N(0, I) drawn from rng
 * in that order (eps and z are (K B x L)), by vae_rng_normals. */
void vae_reparam_forward(const float *mu, const float *sigma, int B, int L, int K, vae_rng *rng,
                         float *eps, float *z);
/* Its backward: dz/dmu = 1 and dz/dsigma = eps, summed over the K draws and
 * ADDED to dmu and dsig (B x L). */
void vae_reparam_backward(const float *dz, const float *eps, int B, int L, int K, float *dmu,
                          float *dsig);

/* KL(N(mu, sigma^2) || N(0,1)) summed over L dims, per row of B:
 * kl[r] = 1/2 sum(mu^2 + sigma^2 - 1 - 2 log sigma).
 * If dmu/dsig are not NULL, they get scale * dKL/dmu and scale * dKL/dsigma ADDED. */
void vae_kl_normal(const float *mu, const float *sigma, const float *log_sigma, int B, int L,
                   double *kl, float *dmu, float *dsig, float scale);

/* Free bits (Kingma et al. 2016): the KL term as sum_j max(lambda, KL_j), where
 * KL_j is dim j's KL averaged over the B rows. Returns it; kl_dim (L, nullable)
 * gets every KL_j. A dim below lambda is constant in the objective, so only
 * dims above it get scale * B * dKL_j/dmu and /dsigma ADDED to dmu and dsig
 * (pass scale = w / B, as for vae_kl_normal). */
double vae_kl_free_bits(const float *mu, const float *sigma, const float *log_sigma, int B, int L,
                        float lambda, double *kl_dim, float *dmu, float *dsig, float scale);

/* softplus(r) = log(1 + e^r), computed without overflow; its derivative is the
 * sigmoid; the inverse gives initial values of softplus-positive parameters. */
double vae_softplus(double r);
double vae_sigmoid(double r);
float vae_softplus_inverse(float y);

#endif
