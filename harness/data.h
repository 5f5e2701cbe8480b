/* Synthetic data sets. */
#ifndef VAE_DATA_H
#define VAE_DATA_H

#include <stdint.h>

#include "error.h"
#include "mat.h"

/* The s-curve of the Keras s-curve ablation notebook (docs/experiments.md):
 * x ~ U(0,1); t = 3 pi (x - 1/2); X0 = (1 + sin t)/2, X1 = (sign(t)(cos t - 1) + 2)/4.
 * X is (n x 2), truth (n x 1) holds x. */
int vae_scurve(int n, uint64_t seed, vae_mat **X, vae_mat **truth, vae_error *err);

/* X (rows x cols) uniform on [0, 1) from the data stream: MNIST-sized stand-in
 * data for benchmarks (the timing of a dense VAE does not depend on the values). */
int vae_uniform(int rows, int cols, uint64_t seed, vae_mat **X, vae_error *err);

/* The nonlinear one-factor model of the TensorFlow blog post on a nonlinear factor
 * model, with a known truth: Z ~ N(0, 1), X_ij = g_j(Z_i) + sigma_j eps_ij, eps ~ N(0, 1).
 * Feature j takes family j % 4, with parameters a, b, c, d drawn per feature:
 *   0  a tanh(b z + c) + d z        a ~ U(1, 2), b ~ U(1, 3), c ~ U(-1, 1), d ~ U(-0.3, 0.3)
 *   1  a z^2 / 2 + b z + c          a ~ U(-1, 1), b ~ U(0.5, 1.5) (a random sign), c ~ U(-1, 1)
 *   2  a sin(b z + c) + d z         a ~ U(1, 2), b ~ U(0.5, 1.5), c ~ U(-pi, pi), d ~ U(-0.5, 0.5)
 *   3  a (z + c) / sqrt(1 + b (z + c)^2) + d   a ~ U(1, 2), b ~ U(0.5, 2), c ~ U(-1, 1),
 *                                               d ~ U(-0.5, 0.5)  (a soft saturation)
 * sigma_j ~ U(0.1, 0.5). Parameters, then Z, then the noise come from the data
 * stream, so the truth depends only on (p, seed) and Z on (n, p, seed). */
typedef struct vae_factor_truth {
    int p;
    int *family;              /* (p) */
    double *a, *b, *c, *d;    /* (p) each */
    float *sigma;             /* (p) the noise sd */
} vae_factor_truth;

/* X (n x p), Z (n x 1) and the truth (free it with vae_factor_truth_free). */
int vae_factor(int n, int p, uint64_t seed, vae_mat **X, vae_mat **Z, vae_factor_truth **truth,
               vae_error *err);
/* The noise-free g_j(z), j in [0, p). */
double vae_factor_g(const vae_factor_truth *t, int j, double z);
void vae_factor_truth_free(vae_factor_truth *t);

#endif
