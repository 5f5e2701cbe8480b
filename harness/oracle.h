/* The correctness oracle: one backend's dense ops against the naive reference,
 * output by output, with a normalised error bound. Shared by the tests
 * (tests/test_backends.c) and the bench (harness/bench.c checks before it times). */
#ifndef VAE_ORACLE_H
#define VAE_ORACLE_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

/* Backends agree with naive when every output is within VAE_DENSE_TOL of naive's,
 * relative to the sum of the magnitudes of the terms that made it plus its own
 * magnitude (float sums in any order stay well inside that). */
#define VAE_DENSE_TOL 1e-5

/* max over i of |got - ref| / (scale + |ref|) (infinite where only one is NaN) */
double vae_max_norm_error(const float *got, const float *ref, const float *scale, size_t n);

/* Runs one backend's dense forward and backward (with and without dx) on random
 * inputs and compares y, dpre, dW, db and dx with naive's; dW and db start nonzero,
 * so accumulation is checked. *max_error is the worst normalised error. state is
 * the backend's per-layer state, kept across calls as a layer keeps it. */
int vae_dense_check(const vae_backend *be, void **state, int B, int n_in, int n_out, vae_act act,
                    uint64_t seed, double *max_error, vae_error *err);

/* v[0..n) uniform in [lo, hi) from seed (the data stream): the oracle's and the
 * bench's inputs. */
void vae_fill_uniform(float *v, size_t n, float lo, float hi, uint64_t seed);

#endif
