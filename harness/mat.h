/* Row-major float32 matrices: rows are examples (the batch), columns features. */
#ifndef VAE_MAT_H
#define VAE_MAT_H

#include <stddef.h>

#define VAE_ALIGN 64 /* one cache line; enough for AVX-512 loads */

typedef struct vae_mat {
    int rows, cols;
    float *v; /* rows*cols floats, VAE_ALIGN-aligned, owned */
} vae_mat;

/* Aligned, zeroed allocation of n floats; NULL on failure. Free with vae_free. */
float *vae_alloc(size_t n);
void vae_free(float *p);

/* Returns NULL when out of memory or when rows/cols are negative. */
vae_mat *vae_mat_new(int rows, int cols);
void vae_mat_free(vae_mat *m);

#endif
