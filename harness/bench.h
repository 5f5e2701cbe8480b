/* Benchmarks of the backends: dense ops checked against naive and then timed,
 * and the machine's single-precision peak. Used by `make bench`
 * (experiments/bench.lua); not part of training. */
#ifndef VAE_BENCH_H
#define VAE_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

typedef struct vae_timing {
    double median, min, max; /* seconds per call */
} vae_timing;

typedef struct vae_dense_bench {
    double max_error;   /* normalised error against naive (see tests/test_backends.c) */
    int ok;             /* max_error within the tests' bound (or unchecked): only then timed */
    vae_timing forward; /* y = act(x W + b) */
    vae_timing weights; /* dpre = dy act'(y); dW += x^T dpre; db += colsum(dpre) */
    vae_timing data;    /* dx = dpre W^T: a full backward minus a weights-only one */
} vae_dense_bench;

/* Checks one backend's dense layer (B x n_in -> n_out, act) against naive (unless
 * check is 0: for shapes too large for the reference, checked on a smaller one),
 * then times each op: `warmup` untimed calls, then `repeats` timed ones, each of
 * which loops until at least `min_seconds` have passed (tiny layers take
 * microseconds). */
int vae_bench_dense(const vae_backend *be, int B, int n_in, int n_out, vae_act act, int check,
                    int warmup, int repeats, double min_seconds, vae_dense_bench *out,
                    vae_error *err);

/* The dense products of one training step of a VAE with layers
 * in[i] -> out[i] (activation act[i]) at batch B: forward, then backward in reverse,
 * without the first layer's input gradient. *layers is the median seconds through
 * the backend's dense ops; *raw the median through its raw_sgemm for the same
 * products (VAE_DECLINED when the backend has none). flops gets the step's count. */
int vae_bench_step(const vae_backend *be, int n_layers, const int *in, const int *out,
                   const vae_act *act, int B, int repeats, double *layers, double *raw,
                   double *flops, vae_error *err);

/* The peak of a register-only FMA loop on `threads` threads, in GFLOP/s, for
 * vector width 256 (AVX2+FMA) or 512 (AVX-512F). VAE_DECLINED when the CPU or
 * the compiler lacks the instructions. */
int vae_bench_fma_peak(int bits, int threads, double seconds, double *gflops, vae_error *err);

#endif
