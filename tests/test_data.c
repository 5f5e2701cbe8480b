/* Data tests: the idx loader against crafted good and bad files, reading byte
 * and float data sets (scaling, static and dynamic binarisation), and training
 * on bytes matching training on the same values as floats. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness/dataset.h"
#include "../harness/model.h"
#include "check.h"

/* Writes an idx file: the 4-byte magic (0, 0, type, ndims), the big-endian
 * sizes, then `extra` bytes of data (i % 251) beyond `data` bytes (negative
 * extra: that many missing). Returns the path (static buffer per slot). */
static const char *write_idx(int slot, int type, int ndims, const unsigned *dims, long data,
                             long extra)
{
    static char paths[8][64];
    char *path = paths[slot];
    snprintf(path, sizeof paths[slot], "/tmp/vae_test_idx_%d_%d.idx", (int)getpid(), slot);
    FILE *f = fopen(path, "wb");
    if (!f) return path;
    unsigned char head[4] = { 0, 0, (unsigned char)type, (unsigned char)ndims };
    fwrite(head, 1, 4, f);
    for (int i = 0; i < ndims; i++) {
        unsigned char b[4] = { (unsigned char)(dims[i] >> 24), (unsigned char)(dims[i] >> 16),
                               (unsigned char)(dims[i] >> 8), (unsigned char)dims[i] };
        fwrite(b, 1, 4, f);
    }
    for (long i = 0; i < data + extra; i++) fputc((int)(i % 251), f);
    fclose(f);
    return path;
}

static void expect_fail(const char *path, const char *want, int labels)
{
    vae_error err;
    err.msg[0] = 0;
    if (labels) {
        uint8_t *lab = NULL;
        int n = 0;
        CHECK(vae_idx_labels(path, &lab, &n, &err) == VAE_FAIL, "%s: labels loaded", want);
        free(lab);
    } else {
        vae_images *im = vae_idx_images(path, &err);
        CHECK(im == NULL, "%s: images loaded", want);
        vae_images_free(im);
    }
    CHECK(strstr(err.msg, want) != NULL, "error \"%s\" does not mention \"%s\"", err.msg, want);
    CHECK(strstr(err.msg, path) != NULL, "error \"%s\" does not name the file", err.msg);
}

static void test_idx_loader(void)
{
    unsigned im3[3] = { 5, 4, 3 }, lab1[1] = { 5 };
    vae_error err;
    const char *good = write_idx(0, 0x08, 3, im3, 60, 0);
    vae_images *im = vae_idx_images(good, &err);
    CHECK(im != NULL, "good images: %s", err.msg);
    if (im) {
        CHECK(im->n == 5 && im->height == 4 && im->width == 3, "shape %d %d %d", im->n,
              im->height, im->width);
        CHECK(im->px[0] == 0 && im->px[59] == 59, "pixels %d %d", im->px[0], im->px[59]);
    }
    vae_images_free(im);
    uint8_t *lab = NULL;
    int n = 0;
    CHECK(vae_idx_labels(write_idx(1, 0x08, 1, lab1, 5, 0), &lab, &n, &err) == VAE_OK,
          "good labels: %s", err.msg);
    CHECK(n == 5 && lab && lab[4] == 4, "labels %d", n);
    free(lab);

    expect_fail(write_idx(2, 0x08, 3, im3, 60, -1), "truncated", 0);
    expect_fail(write_idx(2, 0x08, 3, im3, 60, 7), "oversized", 0);
    unsigned wrong_count[3] = { 6, 4, 3 }; /* the header claims one image more */
    expect_fail(write_idx(2, 0x08, 3, wrong_count, 60, 0), "truncated", 0);
    unsigned zero[3] = { 0, 4, 3 };
    expect_fail(write_idx(2, 0x08, 3, zero, 0, 0), "zero images", 0);
    expect_fail(write_idx(2, 0x0D, 3, im3, 240, 0), "32-bit float", 0);
    expect_fail(write_idx(2, 0x08, 1, lab1, 5, 0), "1 dimension", 0);    /* labels as images */
    expect_fail(write_idx(2, 0x08, 3, im3, 60, 0), "3 dimensions", 1);   /* images as labels */
    unsigned zero1[1] = { 0 };
    expect_fail(write_idx(2, 0x08, 1, zero1, 0, 0), "zero labels", 1);
    unsigned huge[3] = { 0x7fffffff, 0x7fffffff, 3 };
    expect_fail(write_idx(2, 0x08, 3, huge, 10, 0), "implausible", 0);
    unsigned product[3] = { 60000, 60000, 784 }; /* each size fine, the product not */
    expect_fail(write_idx(2, 0x08, 3, product, 10, 0), "implausible", 0);
    unsigned zero_width[3] = { 5, 4, 0 };
    expect_fail(write_idx(2, 0x08, 3, zero_width, 0, 0), "dimension 3 is zero", 0);
    expect_fail("/tmp", "not a regular file", 0);

    /* wrong magic, gzip, a header cut short, an empty file, a missing file */
    const char *p = write_idx(3, 0x08, 3, im3, 60, 0);
    FILE *f = fopen(p, "r+b");
    if (f) {
        fputc(0x12, f);
        fclose(f);
    }
    expect_fail(p, "not an idx file", 0);
    f = fopen(p, "wb");
    if (f) {
        fputs("\x1f\x8b\x08\x00junk", f);
        fclose(f);
    }
    expect_fail(p, "gzip", 0);
    f = fopen(p, "wb");
    if (f) {
        fwrite("\0\0\x08\x03\0\0", 1, 6, f);
        fclose(f);
    }
    expect_fail(p, "header", 0);
    f = fopen(p, "wb");
    if (f) fclose(f);
    expect_fail(p, "truncated", 0);
    expect_fail("/nonexistent/dir/train-images-idx3-ubyte", "cannot open", 0);
    for (int s = 0; s < 4; s++) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/vae_test_idx_%d_%d.idx", (int)getpid(), s);
        remove(path);
    }
}

static void test_dataset_read(void)
{
    uint8_t px[2 * 4] = { 0, 127, 128, 255, 51, 204, 1, 254 };
    vae_dataset d = vae_dataset_bytes(px, 2, 4);
    float out[8];
    int idx[2] = { 1, 0 };
    vae_dataset_read(&d, idx, 0, 2, out, NULL);
    CHECK(out[0] == 51.0f / 255.0f && out[4] == 0.0f && out[7] == 1.0f, "scaled %g %g %g",
          out[0], out[4], out[7]);
    d.binarize = VAE_BINARIZE_STATIC;
    vae_dataset_read(&d, NULL, 0, 2, out, NULL);
    const float want[8] = { 0, 0, 1, 1, 0, 1, 0, 1 };
    CHECK(memcmp(out, want, sizeof want) == 0, "static binarisation at 128");

    /* dynamic: 0 and 255 are certain; 51/255 = 0.2 comes up about 20% of the time */
    d.binarize = VAE_BINARIZE_DYNAMIC;
    vae_rng rng;
    vae_rng_seed(&rng, 7, VAE_STREAM_BINARIZE);
    int ones = 0, draws = 20000, certain_ok = 1;
    for (int t = 0; t < draws; t++) {
        vae_dataset_read(&d, NULL, 0, 2, out, &rng);
        ones += out[4] == 1.0f;
        certain_ok = certain_ok && out[0] == 0.0f && out[3] == 1.0f;
    }
    CHECK(certain_ok, "bytes 0 and 255 must binarise to 0 and 1 always");
    CHECK(fabs(ones / (double)draws - 0.2) < 0.015, "P(1 | 51) = %g, expected 0.2",
          ones / (double)draws);

    /* floats: binarised floats must lie in [0, 1]; NaN is reported */
    vae_mat *m = vae_mat_new(2, 2);
    m->v[0] = 0.25f; m->v[1] = 1.5f; m->v[2] = 0.75f; m->v[3] = 0.0f;
    vae_dataset f = vae_dataset_floats(m);
    vae_error err;
    CHECK(vae_dataset_check(&f, 2, "x", &err) == VAE_OK, "unbinarised floats: %s", err.msg);
    f.binarize = VAE_BINARIZE_STATIC;
    CHECK(vae_dataset_check(&f, 2, "x", &err) == VAE_FAIL && strstr(err.msg, "row 1, column 2") &&
              strstr(err.msg, "[0, 1]"),
          "out-of-range float: %s", err.msg);
    m->v[1] = NAN;
    f.binarize = VAE_BINARIZE_NONE;
    CHECK(vae_dataset_check(&f, 2, "x", &err) == VAE_FAIL && strstr(err.msg, "not finite"),
          "NaN: %s", err.msg);
    CHECK(vae_dataset_check(&f, 3, "x", &err) == VAE_FAIL && strstr(err.msg, "3"), "width: %s",
          err.msg);
    vae_mat_free(m);
}

/* Training on bytes equals training on the floats byte / 255, step for step. */
static void test_bytes_train_like_floats(void)
{
    enum { N = 300, D = 16 };
    uint8_t *px = malloc(N * D);
    vae_mat *x = vae_mat_new(N, D);
    vae_rng r;
    vae_rng_seed(&r, 5, 99);
    for (int i = 0; i < N * D; i++) {
        px[i] = (uint8_t)vae_rng_below(&r, 256);
        x->v[i] = (float)px[i] / 255.0f;
    }
    vae_config c;
    vae_config_default(&c);
    c.input = D;
    c.latent = 2;
    c.enc.width[0] = 8;
    c.seed = 11;
    vae_error err;
    vae_model *a = vae_model_new(&c, &err), *b = vae_model_new(&c, &err);
    vae_train_opts o;
    vae_train_opts_default(&o);
    vae_dataset bytes = vae_dataset_bytes(px, N, D), floats = vae_dataset_floats(x);
    vae_losses la[3], lb[3], ea, eb;
    o.epochs = 3;
    CHECK(fit_log(a, &bytes, &o, la, NULL, &err) == VAE_OK, "bytes: %s", err.msg);
    CHECK(fit_log(b, &floats, &o, lb, NULL, &err) == VAE_OK, "floats: %s", err.msg);
    for (int e = 0; e < 3; e++)
        CHECK(la[e].loss == lb[e].loss, "epoch %d: %.9g vs %.9g", e + 1, la[e].loss, lb[e].loss);
    vae_evaluate(a, &bytes, -1, &ea, &err);
    vae_evaluate(b, &floats, -1, &eb, &err);
    CHECK(ea.loss == eb.loss, "evaluation %.9g vs %.9g", ea.loss, eb.loss);

    /* dynamic binarisation: a fresh draw per epoch (so the epochs' data differ),
     * the same draws for the same seed, and evaluation reproducible call to call */
    bytes.binarize = VAE_BINARIZE_DYNAMIC;
    vae_model *d1 = vae_model_new(&c, &err), *d2 = vae_model_new(&c, &err);
    vae_losses l1, l2, log1[2], log2[2];
    o.epochs = 2;
    fit_log(d1, &bytes, &o, log1, NULL, &err);
    fit_log(d2, &bytes, &o, log2, NULL, &err);
    for (int e = 0; e < 2; e++)
        CHECK(log1[e].loss == log2[e].loss && isfinite(log1[e].loss),
              "dynamic, same seed: %g vs %g", log1[e].loss, log2[e].loss);
    vae_evaluate(d1, &bytes, -1, &l1, &err);
    vae_evaluate(d1, &bytes, -1, &l2, &err);
    CHECK(l1.loss == l2.loss, "dynamic evaluation twice: %g vs %g", l1.loss, l2.loss);
    /* ... and the draws do something: binary data scores differently from grey */
    bytes.binarize = VAE_BINARIZE_NONE;
    vae_evaluate(d1, &bytes, -1, &l2, &err);
    CHECK(l1.loss != l2.loss, "dynamic and grey evaluations agree (%g): no draws?", l1.loss);
    /* two epochs read different draws: the same model state, one epoch on each of
     * two binarisation streams, gives different losses */
    bytes.binarize = VAE_BINARIZE_DYNAMIC;
    vae_model *d3 = vae_model_new(&c, &err), *d4 = vae_model_new(&c, &err);
    vae_train_epoch(d3, &bytes, &o, NULL, &l1, &err);
    vae_rng_seed(&vae_model_state(d4)->rng[VAE_STREAM_BINARIZE], 999, VAE_STREAM_BINARIZE);
    vae_train_epoch(d4, &bytes, &o, NULL, &l2, &err);
    CHECK(l1.loss != l2.loss, "other binarisation draws, same loss %g", l1.loss);
    vae_model_free(d3);
    vae_model_free(d4);
    vae_model_free(d1);
    vae_model_free(d2);
    vae_model_free(a);
    vae_model_free(b);
    vae_mat_free(x);
    free(px);
}

/* The on_step hook sees every step with running averages, and can stop. */
static int count_steps(void *ctx, int epoch, int step, int steps, int rows,
                       const vae_losses *run)
{
    int *seen = ctx;
    if (step != seen[0] + 1 || steps != 4 || !isfinite(run->loss) || epoch != seen[4]) seen[1] = 1;
    seen[0] = step;
    seen[2] = rows;
    return step == seen[3];
}

static void test_on_step_hook(void)
{
    enum { N = 100, D = 4 };
    vae_mat *x = vae_mat_new(N, D);
    fill_uniform(x->v, N * D, 0, 1, 3);
    vae_config c;
    vae_config_default(&c);
    c.input = D;
    c.latent = 1;
    c.enc.width[0] = 4;
    vae_error err;
    vae_model *m = vae_model_new(&c, &err);
    vae_train_opts o;
    vae_train_opts_default(&o);
    int seen[5] = { 0, 0, 0, 0, 1 };
    o.batch = 32;
    vae_train_hooks h = { count_steps, NULL, NULL, seen };
    vae_dataset d = vae_dataset_floats(x);
    vae_losses l;
    CHECK(vae_train_epoch(m, &d, &o, &h, &l, &err) == VAE_OK, "epoch: %s", err.msg);
    CHECK(seen[0] == 4 && seen[1] == 0 && seen[2] == N, "steps %d, bad %d, rows %d", seen[0],
          seen[1], seen[2]);
    seen[0] = 0;
    seen[3] = 2; /* stop after step 2 */
    seen[4] = 2;
    CHECK(vae_fit(m, &d, NULL, &o, &h, &err) == VAE_FAIL &&
              strstr(err.msg, "stopped at epoch 2, step 2"),
          "stop: %s", err.msg);
    vae_model_free(m);
    vae_mat_free(x);
}

const test_case data_tests[] = {
    { "idx loader: good files and every kind of bad one", test_idx_loader },
    { "data sets: byte scaling, static and dynamic binarisation, checks", test_dataset_read },
    { "bytes train exactly like the same values as floats", test_bytes_train_like_floats },
    { "on_step hook: every step, and it can stop training", test_on_step_hook },
    { NULL, NULL }
};
