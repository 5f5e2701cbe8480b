#include "mat.h"

#include <stdlib.h>
#include <string.h>

float *vae_alloc(size_t n)
{
    size_t bytes = (n * sizeof(float) + VAE_ALIGN - 1) / VAE_ALIGN * VAE_ALIGN;
    if (bytes == 0) bytes = VAE_ALIGN;
    float *p = aligned_alloc(VAE_ALIGN, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void vae_free(float *p) { free(p); }

vae_mat *vae_mat_new(int rows, int cols)
{
    if (rows < 0 || cols < 0) return NULL;
    vae_mat *m = malloc(sizeof *m);
    if (!m) return NULL;
    m->rows = rows;
    m->cols = cols;
    m->v = vae_alloc((size_t)rows * (size_t)cols);
    if (!m->v) {
        free(m);
        return NULL;
    }
    return m;
}

void vae_mat_free(vae_mat *m)
{
    if (!m) return;
    vae_free(m->v);
    free(m);
}
