/* A tiny test framework: each test is a function; CHECK records a failure with
 * its location and message; the runner prints "ok"/"not ok" per test (TAP style)
 * and the summary. */
#ifndef VAE_CHECK_H
#define VAE_CHECK_H

#include <stddef.h>

#include "../harness/train.h"

extern int check_failures; /* failures within the running test */

void check_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) check_fail(__FILE__, __LINE__, __VA_ARGS__);         \
    } while (0)

typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case;

extern const test_case layer_tests[], config_tests[], model_tests[], backend_tests[],
    data_tests[], table_tests[], checkpoint_tests[], alloc_tests[];

/* Finite-difference gradient check of n values p against analytic g, with the
 * scalar function f (evaluated in double from float state). Central differences
 * with step h; an element fails when |num - g| > rtol (|num| + |g|) + atol.
 * Returns the number of failing elements (and reports the first few). */
int gradcheck(const char *what, float *p, const float *g, size_t n, double (*f)(void *),
              void *ctx, double h, double rtol, double atol);

/* Fits m with vae_fit for o->epochs epochs (no validation), keeping every epoch's
 * training losses in log[0 .. epochs - 1] (nullable) and the last in *last
 * (nullable). Returns vae_fit's status. */
int fit_log(vae_model *m, const vae_dataset *data, const vae_train_opts *o, vae_losses *log,
            vae_losses *last, vae_error *err);

/* c = the defaults plus "key=value ..." text (model keys); a bad text fails the test. */
void config_from(vae_config *c, const char *text);

/* Deterministic test data in [lo, hi). */
void fill_uniform(float *v, size_t n, float lo, float hi, unsigned seed);

#endif
