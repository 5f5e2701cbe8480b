#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/rng.h"
#include "check.h"

int check_failures;

void check_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    if (check_failures < 8) { /* the first few are enough to diagnose */
        printf("#   %s:%d: ", file, line);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
    }
    check_failures++;
}

int gradcheck(const char *what, float *p, const float *g, size_t n, double (*f)(void *),
              void *ctx, double h, double rtol, double atol)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float saved = p[i];
        p[i] = saved + (float)h;
        double hp = (double)p[i] - saved; /* the step actually taken in float */
        double fp = f(ctx);
        p[i] = saved - (float)h;
        double hm = saved - (double)p[i];
        double fm = f(ctx);
        p[i] = saved;
        double num = (fp - fm) / (hp + hm);
        if (fabs(num - g[i]) > rtol * (fabs(num) + fabs(g[i])) + atol) {
            if (bad < 3)
                check_fail(__FILE__, __LINE__, "%s[%zu]: analytic %.6g, numeric %.6g", what, i,
                           (double)g[i], num);
            bad++;
        }
    }
    return bad;
}

typedef struct epoch_log {
    vae_losses *log, *last;
} epoch_log;

static int keep_epoch(void *ctx, const vae_epoch_record *r)
{
    epoch_log *l = ctx;
    if (l->log) l->log[r->epoch - 1] = r->train;
    if (l->last) *l->last = r->train;
    return 0;
}

int fit_log(vae_model *m, const vae_dataset *data, const vae_train_opts *o, vae_losses *log,
            vae_losses *last, vae_error *err)
{
    epoch_log l = { log, last };
    vae_train_hooks h = { NULL, keep_epoch, NULL, &l };
    return vae_fit(m, data, NULL, o, &h, err);
}

void config_from(vae_config *c, const char *text)
{
    vae_error err;
    vae_config_default(c);
    CHECK(vae_config_assign_all(c, NULL, text, &err) == VAE_OK, "config '%s': %s", text, err.msg);
}

void fill_uniform(float *v, size_t n, float lo, float hi, unsigned seed)
{
    vae_rng r;
    vae_rng_seed(&r, seed, 99);
    for (size_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * (float)vae_rng_uniform(&r);
}

static int run(const test_case *tests, const char *only, int *passed, int *failed)
{
    for (const test_case *t = tests; t->name; t++) {
        if (only && !strstr(t->name, only)) continue;
        check_failures = 0;
        t->fn();
        if (check_failures) {
            printf("not ok - %s (%d failed checks)\n", t->name, check_failures);
            (*failed)++;
        } else {
            printf("ok - %s\n", t->name);
            (*passed)++;
        }
        fflush(stdout);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL; /* a substring of test names */
    int passed = 0, failed = 0;
    run(layer_tests, only, &passed, &failed);
    run(config_tests, only, &passed, &failed);
    run(model_tests, only, &passed, &failed);
    run(backend_tests, only, &passed, &failed);
    run(data_tests, only, &passed, &failed);
    run(table_tests, only, &passed, &failed);
    run(checkpoint_tests, only, &passed, &failed);
    run(alloc_tests, only, &passed, &failed);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
