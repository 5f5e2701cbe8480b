#include "backend.h"

#include <stdio.h>
#include <string.h>

/* The one table of backends. A backend is compiled in when the Makefile finds
 * its library (or the compiler supports its instructions) and defines HAVE_<NAME>. */
#ifdef HAVE_OPENBLAS
extern const vae_backend vae_backend_openblas;
#endif
#ifdef HAVE_ONEDNN
extern const vae_backend vae_backend_onednn;
#endif
#ifdef HAVE_AVX2
extern const vae_backend vae_backend_avx2;
#endif

/* In order of preference, fastest first and naive (always usable) last, so that
 * the first usable one is the fastest built. avx2 leads the README's MNIST epoch
 * timings (1.50 s); onednn before openblas is the agreed order, though the same
 * timings put openblas (1.67 s) ahead of onednn (1.89 s). */
static const vae_backend *const registry[] = {
#ifdef HAVE_AVX2
    &vae_backend_avx2,
#endif
#ifdef HAVE_ONEDNN
    &vae_backend_onednn,
#endif
#ifdef HAVE_OPENBLAS
    &vae_backend_openblas,
#endif
    &vae_backend_naive,
};

int vae_backend_count(void) { return (int)(sizeof registry / sizeof registry[0]); }

const vae_backend *vae_backend_at(int i)
{
    return i >= 0 && i < vae_backend_count() ? registry[i] : NULL;
}

int vae_backend_usable(const vae_backend *be, char *why, size_t len)
{
    if (!be->available) return 1;
    return be->available(why, len) == 0;
}

const vae_backend *vae_backend_named(const char *name)
{
    for (int i = 0; i < vae_backend_count(); i++)
        if (strcmp(registry[i]->name, name) == 0) return registry[i];
    return NULL;
}

/* Process-level: the backends keep one thread pool each, not one per model. */
static int thread_count;

void vae_set_threads(int n)
{
    thread_count = n < 0 ? 0 : n;
    for (int i = 0; i < vae_backend_count(); i++) {
        char why[128];
        /* an unusable backend is skipped: avx2's code may not even run on this CPU */
        if (registry[i]->set_threads && vae_backend_usable(registry[i], why, sizeof why))
            registry[i]->set_threads(thread_count);
    }
}

int vae_threads(void) { return thread_count; }

void vae_backend_list(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < vae_backend_count(); i++) {
        char why[128];
        if (!vae_backend_usable(registry[i], why, sizeof why)) continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", registry[i]->name);
        if (n < 0 || (size_t)n >= len - used) break;
        used += (size_t)n;
    }
}

const vae_backend *vae_backend_find(const char *name, vae_error *err)
{
    char list[256], why[128] = "";
    vae_backend_list(list, sizeof list);
    const vae_backend *be = vae_backend_named(name);
    if (!be) {
        vae_fail(err, "unknown backend '%s' (available: %s)", name, list);
        return NULL;
    }
    if (!vae_backend_usable(be, why, sizeof why)) {
        vae_fail(err, "backend '%s' is not usable here: %s (available: %s)", name, why, list);
        return NULL;
    }
    return be;
}

int vae_dense_forward(const vae_backend *be, void **state, const float *x, const float *W,
                      const float *b, float *y, int B, int n_in, int n_out, vae_act act,
                      vae_error *err)
{
    if (be->dense_forward) {
        int rc = be->dense_forward(state, x, W, b, y, B, n_in, n_out, act, err);
        if (rc != VAE_DECLINED) return rc;
    }
    return vae_backend_naive.dense_forward(NULL, x, W, b, y, B, n_in, n_out, act, err);
}

int vae_dense_backward(const vae_backend *be, void **state, const float *x, const float *W,
                       const float *y, const float *dy, float *dpre, float *dx, float *dW,
                       float *db, int B, int n_in, int n_out, vae_act act, vae_error *err)
{
    if (be->dense_backward) {
        int rc = be->dense_backward(state, x, W, y, dy, dpre, dx, dW, db, B, n_in, n_out,
                                    act, err);
        if (rc != VAE_DECLINED) return rc;
    }
    return vae_backend_naive.dense_backward(NULL, x, W, y, dy, dpre, dx, dW, db, B, n_in,
                                            n_out, act, err);
}

void vae_act_forward(const vae_backend *be, vae_act act, const float *x, float *y, size_t n)
{
    (be->act_forward ? be : &vae_backend_naive)->act_forward(act, x, y, n);
}

void vae_act_backward(const vae_backend *be, vae_act act, const float *y, const float *dy,
                      float *dx, size_t n)
{
    (be->act_backward ? be : &vae_backend_naive)->act_backward(act, y, dy, dx, n);
}

void vae_adam_update(const vae_backend *be, float *p, float *g, float *m, float *v, size_t n,
                     const vae_adam_step *s)
{
    (be->adam_update ? be : &vae_backend_naive)->adam_update(p, g, m, v, n, s);
}

long vae_csr_build(const float *x, int rows, int cols, int *ptr, int *col, float *val,
                   long max_nnz)
{
    /* branch-free: every value is written at the next free slot, which advances past
     * the nonzeros only (a branch per pixel mispredicts on ~20% density); hence the
     * cols slots of room past max_nnz */
    long nnz = 0;
    ptr[0] = 0;
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * cols;
        for (int j = 0; j < cols; j++) {
            col[nnz] = j;
            val[nnz] = xr[j];
            nnz += xr[j] != 0.0f || xr[j] != xr[j]; /* NaN is kept: it must reach the output */
        }
        if (nnz > max_nnz) return -1;
        ptr[r + 1] = (int)nnz;
    }
    return nnz;
}

void vae_csr_transpose(vae_csr *x, int *cptr, int *crow, float *cval)
{
    for (int j = 0; j <= x->cols; j++) cptr[j] = 0;
    const int nnz = x->ptr[x->rows];
    for (int k = 0; k < nnz; k++) cptr[x->col[k] + 1]++;
    for (int j = 0; j < x->cols; j++) cptr[j + 1] += cptr[j];
    /* rows in order, so each column's rows increase; cptr[j] walks to cptr[j + 1] */
    for (int r = 0; r < x->rows; r++)
        for (int k = x->ptr[r]; k < x->ptr[r + 1]; k++) {
            const int at = cptr[x->col[k]]++;
            crow[at] = r;
            cval[at] = x->val[k];
        }
    for (int j = x->cols; j > 0; j--) cptr[j] = cptr[j - 1];
    cptr[0] = 0;
    x->cptr = cptr;
    x->crow = crow;
    x->cval = cval;
}
