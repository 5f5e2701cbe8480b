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

#endif
