/* Checkpoints: a round trip, an exact resume (bit-identical to an uninterrupted
 * run), and every refusal: truncation at every byte offset, every flipped bit,
 * wrong magic, a newer version, a config or parameter count that does not
 * match; a failed load changes nothing in the model it was loaded into. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../harness/checkpoint.h"
#include "../harness/data.h"
#include "../harness/table.h"
#include "check.h"

#define AS_DATA(mat) ((vae_dataset[]){ vae_dataset_floats(mat) })

/* A small model with every stream in use: dropout, shuffling, several samples. */
static vae_model *small_model(const char *extra)
{
    vae_config c;
    char text[256];
    snprintf(text, sizeof text, "input=2 latent=1 hidden=4 dropout=0.2 samples=2 seed=11 %s",
             extra ? extra : "");
    config_from(&c, text);
    vae_error err;
    vae_model *m = vae_model_new(&c, &err);
    CHECK(m != NULL, "model: %s", err.msg);
    return m;
}

static void train(vae_model *m, const vae_mat *X, int epochs)
{
    vae_train_opts o;
    vae_train_opts_default(&o);
    o.epochs = epochs;
    o.batch = 16;
    vae_error err;
    CHECK(vae_fit(m, AS_DATA(X), NULL, &o, NULL, &err) == VAE_OK, "fit: %s", err.msg);
}

static int same_params(vae_model *a, vae_model *b)
{
    size_t na, nb;
    float *pa = vae_model_params(a, &na), *pb = vae_model_params(b, &nb), *a1, *a2, *b1, *b2;
    vae_model_adam(a, &a1, &a2);
    vae_model_adam(b, &b1, &b2);
    return na == nb && !memcmp(pa, pb, na * 4) && !memcmp(a1, b1, na * 4) && !memcmp(a2, b2, na * 4);
}

static int same_state(vae_model *a, vae_model *b)
{
    vae_train_state *x = vae_model_state(a), *y = vae_model_state(b);
    if (x->epoch != y->epoch || x->step != y->step || x->adam_t != y->adam_t ||
        x->order_n != y->order_n || memcmp(x->rng, y->rng, sizeof x->rng))
        return 0;
    return x->order_n == 0 || !memcmp(x->order, y->order, (size_t)x->order_n * sizeof *x->order);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    if (fread(b, 1, *n, f) != *n) *n = 0;
    fclose(f);
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

static void fix_crc(unsigned char *b, size_t n)
{
    uLong c = crc32(crc32(0L, Z_NULL, 0), b, (uInt)(n - 4));
    for (int i = 0; i < 4; i++) b[n - 4 + i] = (unsigned char)(c >> (8 * i));
}

static char tmpdir[64];
static const char *tmp_path(const char *name)
{
    static char p[128];
    if (!tmpdir[0]) {
        strcpy(tmpdir, "/tmp/vae-ckpt-XXXXXX");
        if (!mkdtemp(tmpdir)) return NULL;
    }
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

static void clean_tmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (tmpdir[0] && system(cmd)) return;
    tmpdir[0] = 0;
}

/* Trained 3 epochs, saved, loaded (new model and into one), 3 more epochs:
 * bit-identical to 6 epochs without a break. */
static void test_checkpoint_resume_exact(void)
{
    vae_mat *X, *T;
    vae_error err;
    vae_scurve(100, 4, &X, &T, &err);
    vae_model *full = small_model(NULL), *a = small_model(NULL), *into = small_model(NULL);
    train(full, X, 6);
    train(a, X, 3);
    char path[128];
    snprintf(path, sizeof path, "%s", tmp_path("a.ckpt"));
    vae_checkpoint_extra ex = { "epochs=6", "history", 7 };
    CHECK(vae_model_save(a, path, 1, &ex, &err) == VAE_OK, "save: %s", err.msg);
    vae_checkpoint_info info;
    vae_model *b = vae_model_load(path, &info, &err);
    CHECK(b != NULL, "load: %s", err.msg);
    if (b) {
        CHECK(info.has_state && !strcmp(info.train_text, "epochs=6") &&
                  info.user_len == 7 && !strcmp(info.user, "history"),
              "the extra sections come back");
        vae_checkpoint_info_free(&info);
        CHECK(same_params(a, b) && same_state(a, b), "the loaded model is the saved one");
        train(b, X, 3);
        CHECK(same_params(full, b) && same_state(full, b),
              "3 + 3 epochs through a checkpoint = 6 epochs, bit for bit");
        vae_model_free(b);
    }
    CHECK(vae_model_load_into(into, path, NULL, &err) == VAE_OK, "load into: %s", err.msg);
    train(into, X, 3);
    CHECK(same_params(full, into) && same_state(full, into), "load into, then 3 epochs: the same");
    /* without the state: parameters only */
    CHECK(vae_model_save(a, path, 0, NULL, &err) == VAE_OK, "save: %s", err.msg);
    b = vae_model_load(path, &info, &err);
    CHECK(b && !info.has_state, "a parameters-only checkpoint loads");
    if (b) {
        size_t n;
        const float *pa = vae_model_params(a, &n);
        CHECK(!memcmp(pa, vae_model_params(b, NULL), n * 4), "its parameters");
        vae_checkpoint_info_free(&info);
        vae_model_free(b);
    }
    vae_model_free(full);
    vae_model_free(a);
    vae_model_free(into);
    vae_mat_free(X);
    vae_mat_free(T);
    clean_tmp();
}

/* The refusals, each naming the file and the fault; the model loaded into is
 * unchanged after every one. */
static void test_checkpoint_refusals(void)
{
    vae_mat *X, *T;
    vae_error err;
    vae_scurve(50, 5, &X, &T, &err);
    vae_model *a = small_model(NULL), *target = small_model(NULL), *ref = small_model(NULL);
    train(a, X, 2);
    char path[128], bad[128];
    snprintf(path, sizeof path, "%s", tmp_path("a.ckpt"));
    snprintf(bad, sizeof bad, "%s", tmp_path("bad.ckpt"));
    CHECK(vae_model_save(a, path, 1, NULL, &err) == VAE_OK, "save: %s", err.msg);
    size_t n = 0;
    unsigned char *good = slurp(path, &n), *b = malloc(n);
    CHECK(good && n > 200, "checkpoint of %zu bytes", n);
    if (!good) return;
    /* truncation at every byte offset, through a file and into a model */
    int bad_trunc = 0, changed = 0;
    for (size_t len = 0; len < n; len++) {
        spit(bad, good, len);
        int rc = vae_model_load_into(target, bad, NULL, &err);
        if (rc == VAE_OK || !strstr(err.msg, bad) ||
            !(strstr(err.msg, "truncated") || strstr(err.msg, "wrong magic"))) {
            if (bad_trunc++ < 3) CHECK(0, "truncated to %zu bytes: %s", len, rc ? err.msg : "loaded");
        }
        if (!same_params(target, ref) || !same_state(target, ref)) changed++;
    }
    CHECK(bad_trunc == 0, "%d of %zu truncations not refused as such", bad_trunc, n);
    CHECK(changed == 0, "%d failed loads changed the model", changed);
    /* every single flipped bit */
    int loaded = 0;
    for (size_t i = 0; i < n * 8; i++) {
        memcpy(b, good, n);
        b[i / 8] ^= (unsigned char)(1u << (i % 8));
        vae_model *m = vae_model_load_buffer(b, n, "flipped", NULL, &err);
        if (m) {
            loaded++;
            vae_model_free(m);
        } else if (i / 8 >= 64 && i / 8 < n - 4 && !strstr(err.msg, "checksum")) {
            CHECK(0, "bit %zu: %s", i, err.msg);
        }
    }
    CHECK(loaded == 0, "%d of %zu flipped bits loaded", loaded, n * 8);
    printf("# a checkpoint of %zu bytes: %zu truncations and %zu flipped bits refused\n", n, n, n * 8);
    /* the same flips into a model, through files, for the first bit of every byte */
    changed = 0;
    for (size_t i = 0; i < n; i += 7) {
        memcpy(b, good, n);
        b[i] ^= 0x10;
        spit(bad, b, n);
        CHECK(vae_model_load_into(target, bad, NULL, &err) != VAE_OK, "byte %zu flipped loads", i);
        if (!same_params(target, ref) || !same_state(target, ref)) changed++;
    }
    CHECK(changed == 0, "%d failed loads changed the model", changed);
    /* wrong magic; newer version (with a valid checksum) */
    memcpy(b, good, n);
    b[0] = 'X';
    vae_model *m = vae_model_load_buffer(b, n, "x.ckpt", NULL, &err);
    CHECK(!m && strstr(err.msg, "'x.ckpt': not a checkpoint (wrong magic)"), "magic: %s", err.msg);
    memcpy(b, good, n);
    b[8] = 2;
    fix_crc(b, n);
    m = vae_model_load_buffer(b, n, "v.ckpt", NULL, &err);
    CHECK(!m && strstr(err.msg, "'v.ckpt': format version 2 is newer than this build reads (1)"),
          "version: %s", err.msg);
    /* a config that does not match the model loaded into */
    vae_model *other = small_model("latent=2"), *other_ref = small_model("latent=2");
    CHECK(vae_model_load_into(other, path, NULL, &err) != VAE_OK &&
              strstr(err.msg, "config mismatch: 'latent=1' in the file, 'latent=2' in the model") &&
              strstr(err.msg, path),
          "config mismatch: %s", err.msg);
    CHECK(same_params(other, other_ref), "unchanged after a config mismatch");
    vae_model_free(other);
    vae_model_free(other_ref);
    /* a parameter count the config does not make: hidden=4's text over hidden=5's parameters */
    vae_model *wide = small_model("hidden=5");
    CHECK(vae_model_save(wide, bad, 0, NULL, &err) == VAE_OK, "save: %s", err.msg);
    size_t wn = 0;
    unsigned char *w = slurp(bad, &wn);
    uint32_t wclen = w[36] | w[37] << 8, aclen = good[36] | good[37] << 8;
    size_t sn = wn - wclen + aclen;
    unsigned char *s = malloc(sn);
    memcpy(s, w, 64);
    memcpy(s + 64, good + 64, aclen);
    memcpy(s + 64 + aclen, w + 64 + wclen, wn - 64 - wclen);
    s[36] = (unsigned char)aclen;
    s[37] = (unsigned char)(aclen >> 8);
    for (int i = 0; i < 8; i++) s[16 + i] = (unsigned char)((uint64_t)sn >> (8 * i));
    fix_crc(s, sn);
    m = vae_model_load_buffer(s, sn, "p.ckpt", NULL, &err);
    CHECK(!m && strstr(err.msg, "'p.ckpt': parameter count mismatch"), "count: %s", err.msg);
    spit(bad, s, sn);
    CHECK(vae_model_load_into(target, bad, NULL, &err) != VAE_OK &&
              strstr(err.msg, "parameter count mismatch"), "count into: %s", err.msg);
    CHECK(same_params(target, ref), "unchanged");
    free(s);
    free(w);
    vae_model_free(wide);
    /* not a regular file; a missing directory for the save; the old file stays */
    CHECK(vae_model_load("/dev/null", NULL, &err) == NULL && strstr(err.msg, "not a regular file"),
          "/dev/null: %s", err.msg);
    snprintf(bad, sizeof bad, "%s", tmp_path("fifo"));
    CHECK(mkfifo(bad, 0600) == 0, "mkfifo");
    CHECK(vae_model_load(bad, NULL, &err) == NULL && strstr(err.msg, "not a regular file"),
          "a FIFO is refused at once: %s", err.msg);
    CHECK(vae_model_save(a, "/nonexistent-dir/x.ckpt", 1, NULL, &err) != VAE_OK &&
              strstr(err.msg, "'/nonexistent-dir/x.ckpt': cannot create a temporary"),
          "save into a missing folder: %s", err.msg);
    CHECK(vae_model_save(a, "/dev/full/x", 1, NULL, &err) != VAE_OK, "save under /dev/full");
    size_t n2 = 0;
    unsigned char *again = slurp(path, &n2);
    CHECK(again && n2 == n && !memcmp(again, good, n), "the good checkpoint is intact");
    free(again);
    /* mid-epoch state is refused (a resume restarts at an epoch boundary) */
    vae_model_state(a)->step = 3;
    CHECK(vae_model_save(a, path, 1, NULL, &err) != VAE_OK && strstr(err.msg, "between epochs"),
          "mid-epoch: %s", err.msg);
    vae_model_state(a)->step = 0;
    free(good);
    free(b);
    vae_model_free(a);
    vae_model_free(target);
    vae_model_free(ref);
    vae_mat_free(X);
    vae_mat_free(T);
    clean_tmp();
}

/* The fuzz corpora (tests/fuzz/<target>/seed and regress: what the fuzzer
 * found is kept there) replayed through the parsers: each input loads or fails
 * cleanly (the sanitizer run catches the rest). */
static int replay(const char *target, void (*one)(const char *path, const unsigned char *b, size_t n))
{
    char cmd[160], line[512];
    snprintf(cmd, sizeof cmd, "ls tests/fuzz/%s/seed/* tests/fuzz/%s/regress/* 2>/dev/null", target, target);
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    int count = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        size_t n = 0;
        unsigned char *b = slurp(line, &n);
        if (!b) continue;
        one(line, b, n);
        free(b);
        count++;
    }
    pclose(p);
    return count;
}

static void one_checkpoint(const char *path, const unsigned char *b, size_t n)
{
    vae_error err;
    vae_model_free(vae_model_load(path, NULL, &err));
    vae_model_free(vae_model_load_buffer(b, n, path, NULL, &err));
}

static void one_idx(const char *path, const unsigned char *b, size_t n)
{
    (void)b;
    (void)n;
    vae_error err;
    vae_images_free(vae_idx_images(path, &err));
    uint8_t *labels = NULL;
    int rows;
    if (vae_idx_labels(path, &labels, &rows, &err) == VAE_OK) free(labels);
}

static void one_config(const char *path, const unsigned char *b, size_t n)
{
    (void)path;
    char *text = malloc(n + 1);
    memcpy(text, b, n);
    text[n] = 0;
    vae_config c;
    vae_train_opts o;
    vae_config_default(&c);
    vae_train_opts_default(&o);
    vae_error err;
    if (vae_config_assign_all(&c, &o, text, &err) == VAE_OK) vae_config_finish(&c, &err);
    free(text);
}

static void one_table(const char *path, const unsigned char *b, size_t n)
{
    (void)b;
    (void)n;
    vae_error err;
    vae_mat_free(vae_table_read(path, &err));
}

static void test_fuzz_regressions(void)
{
    int n = replay("checkpoint", one_checkpoint) + replay("idx", one_idx) +
            replay("config", one_config) + replay("table", one_table);
    CHECK(n >= 18, "replayed %d corpus files (the seeds alone are 18)", n);
}

/* log p(x) with a large k: progress calls come per chunk of samples (not only
 * per chunk of rows), with rows done growing, and a nonzero return stops. */
typedef struct progress { int calls, last, stop_at; } progress;
static int on_progress(void *ctx, int done, int rows)
{
    progress *p = ctx;
    (void)rows;
    CHECK(done >= p->last, "rows done %d after %d", done, p->last);
    p->last = done;
    return ++p->calls == p->stop_at;
}

static void test_log_likelihood_progress(void)
{
    vae_mat *X, *T;
    vae_error err;
    vae_scurve(10, 6, &X, &T, &err);
    vae_model *m = small_model("samples=1");
    double v;
    progress p = { 0, 0, 0 };
    CHECK(vae_log_likelihood(m, AS_DATA(X), 2000, &v, on_progress, &p, &err) == VAE_OK, "%s", err.msg);
    CHECK(p.calls >= 7, "%d progress calls for 10 rows and k = 2000 (one chunk of rows)", p.calls);
    progress s = { 0, 0, 2 };
    CHECK(vae_log_likelihood(m, AS_DATA(X), 2000, &v, on_progress, &s, &err) != VAE_OK &&
              strstr(err.msg, "stopped after 0 rows and 512 of 2000 samples"),
          "stopped in the samples: %s", err.msg);
    vae_model_free(m);
    vae_mat_free(X);
    vae_mat_free(T);
}

const test_case checkpoint_tests[] = {
    { "log p(x) with a large k: progress per chunk of samples, and it stops", test_log_likelihood_progress },
    { "checkpoint: save, load, resume bit-identical", test_checkpoint_resume_exact },
    { "checkpoint: every truncation, every bit flip, magic, version, config, count refused",
      test_checkpoint_refusals },
    { "fuzz corpora (seeds and found crashes) replay through the parsers", test_fuzz_regressions },
    { NULL, NULL }
};
