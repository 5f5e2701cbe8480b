/* Out of memory, everywhere: the test binary is linked with --wrap for malloc,
 * calloc, realloc and aligned_alloc (Makefile), so the harness's allocations
 * come here, and fail_at = N fails the N-th one. Model construction, a
 * training epoch, evaluation, log p(x), save and load run with N = 1, 2, ...
 * until a pass gets through: every failure must return a clear message, leak
 * nothing (the ASan run checks) and leave the model usable or freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness/checkpoint.h"
#include "../harness/data.h"
#include "check.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t k);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);

static long fail_at;   /* 0: off; else the allocation number that fails */
static long alloc_count;

static int failing(void) { return fail_at > 0 && ++alloc_count == fail_at; }
void *__wrap_malloc(size_t n) { return failing() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t k) { return failing() ? NULL : __real_calloc(n, k); }
void *__wrap_realloc(void *p, size_t n) { return failing() ? NULL : __real_realloc(p, n); }
void *__wrap_aligned_alloc(size_t a, size_t n) { return failing() ? NULL : __real_aligned_alloc(a, n); }

#define AS_DATA(mat) ((vae_dataset[]){ vae_dataset_floats(mat) })

/* One pass; returns the step that failed (0: none) with its message in err. */
static int pass(const vae_mat *X, const char *path, vae_model **keep, vae_error *err)
{
    vae_config c;
    config_from(&c, "input=2 latent=1 hidden=4 dropout=0.1 samples=2 seed=5");
    vae_model *m = vae_model_new(&c, err);
    if (!m) return 1;
    *keep = m;
    vae_train_opts o;
    vae_train_opts_default(&o);
    o.epochs = 1;
    o.batch = 8;
    if (vae_fit(m, AS_DATA(X), AS_DATA(X), &o, NULL, err)) return 2;
    vae_losses l;
    if (vae_evaluate(m, AS_DATA(X), -1, &l, err)) return 3;
    double lp;
    if (vae_log_likelihood(m, AS_DATA(X), 4, &lp, NULL, NULL, err)) return 4;
    if (vae_model_save(m, path, 1, NULL, err)) return 5;
    vae_checkpoint_info info;
    vae_model *b = vae_model_load(path, &info, err);
    if (!b) return 6;
    vae_checkpoint_info_free(&info);
    vae_model_free(b);
    if (vae_model_load_into(m, path, NULL, err)) return 7;
    return 0;
}

static void test_every_allocation_fails(void)
{
    vae_mat *X, *T;
    vae_error err;
    CHECK(vae_scurve(40, 2, &X, &T, &err) == VAE_OK, "scurve");
    char path[64];
    snprintf(path, sizeof path, "/tmp/vae-alloc-%d.ckpt", (int)getpid());
    static const char *const steps[] = { "none", "construction", "fit", "evaluate",
                                         "log_likelihood", "save", "load", "load into" };
    int failures[8] = { 0 }, unclear = 0, unusable = 0;
    long n;
    for (n = 1; n < 100000; n++) {
        vae_model *m = NULL;
        alloc_count = 0;
        fail_at = n;
        err.msg[0] = 0;
        int step = pass(X, path, &m, &err);
        fail_at = 0;
        if (!step && alloc_count < n) { /* got through without reaching allocation n */
            vae_model_free(m);
            break;
        }
        failures[step]++;
        if (step && (!err.msg[0] || !strstr(err.msg, "memory"))) {
            if (unclear++ < 3) CHECK(0, "allocation %ld failing in %s: message '%s'", n, steps[step], err.msg);
        }
        if (m) { /* the model must still train and save */
            vae_train_opts o;
            vae_train_opts_default(&o);
            o.epochs = 1;
            vae_error e2;
            if (vae_fit(m, AS_DATA(X), NULL, &o, NULL, &e2) || vae_model_save(m, path, 1, NULL, &e2)) {
                if (unusable++ < 3) CHECK(0, "after allocation %ld failed in %s: %s", n, steps[step], e2.msg);
            }
            vae_model_free(m);
        }
    }
    unlink(path);
    printf("# %ld allocation points failed in turn:", n - 1);
    for (int s = 1; s < 8; s++) printf(" %s %d", steps[s], failures[s]);
    printf("\n");
    CHECK(n > 20 && n < 100000, "reached %ld allocations", n);
    CHECK(unclear == 0, "%d failures without an out-of-memory message", unclear);
    CHECK(unusable == 0, "%d failures left the model unusable", unusable);
    vae_mat_free(X);
    vae_mat_free(T);
}

const test_case alloc_tests[] = {
    { "out of memory at every allocation: clear errors, no leaks, models usable", test_every_allocation_fails },
    { NULL, NULL }
};
