/* Between the avx2 backend (avx2.c, compiled for AVX2 + FMA) and its bf16
 * products (avx2_bf16.c, compiled for AVX-512 BF16). avx2.c owns the slots, the
 * CPU check and the layer state; avx2_bf16.c has only the GEMMs, which may run
 * only once vae_cpu_avx512_bf16() has said the CPU (and the OS) has them. */
#ifndef VAE_AVX2_BF16_H
#define VAE_AVX2_BF16_H

#include "../harness/backend.h"

/* In avx2.c: the layer's packing buffer (*state), at least `floats` floats,
 * 64-byte aligned, grown on demand and kept between calls; NULL with err filled
 * when out of memory. The fp32 and bf16 GEMMs share it: a layer uses one
 * precision, so one buffer serves whichever the model calls. */
float *vae_avx2_scratch(void **state, size_t floats, vae_error *err);

/* In avx2_bf16.c, for the bf16 slots (harness/backend.h): the products with
 * operands rounded to bf16 and fp32 sums.
 * y (B x n_out) = act(x W + b), the bias and activation in fp32 on the tile. */
int vae_avx2_bf16_forward(void **state, const float *x, const float *W, const float *b, float *y,
                          int B, int n_in, int n_out, vae_act act, vae_error *err);
/* dW += x^T dpre; dx = dpre W^T unless dx is NULL (dpre computed by the caller) */
int vae_avx2_bf16_backward(void **state, const float *x, const float *W, const float *dpre,
                           float *dx, float *dW, int B, int n_in, int n_out, vae_error *err);

#endif
