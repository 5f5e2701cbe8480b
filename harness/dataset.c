#include "dataset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

const char *const vae_binarize_names[VAE_BINARIZE_COUNT] = { "none", "static", "dynamic" };

int vae_binarize_parse(const char *name)
{
    for (int i = 0; i < VAE_BINARIZE_COUNT; i++)
        if (strcmp(name, vae_binarize_names[i]) == 0) return i;
    return -1;
}

vae_dataset vae_dataset_floats(const vae_mat *m)
{
    vae_dataset d = { m ? m->rows : 0, m ? m->cols : 0, m ? m->v : NULL, NULL, VAE_BINARIZE_NONE };
    return d;
}

vae_dataset vae_dataset_bytes(const uint8_t *v, int rows, int cols)
{
    vae_dataset d = { rows, cols, NULL, v, VAE_BINARIZE_NONE };
    return d;
}

/* One row of bytes. Dynamic: 1 with probability b / 255 (to within 2^-32), as
 * u * 255 < b * 2^32 for a uniform 32-bit u. */
static void read_bytes(const uint8_t *src, int D, vae_binarize bin, float *out, vae_rng *rng)
{
    switch (bin) {
    case VAE_BINARIZE_NONE:
        for (int j = 0; j < D; j++) out[j] = (float)src[j] / 255.0f;
        break;
    case VAE_BINARIZE_STATIC:
        for (int j = 0; j < D; j++) out[j] = src[j] >= 128 ? 1.0f : 0.0f;
        break;
    default:
        for (int j = 0; j < D; j++)
            out[j] = (uint64_t)vae_rng_u32(rng) * 255u < ((uint64_t)src[j] << 32) ? 1.0f : 0.0f;
        break;
    }
}

static void read_floats(const float *src, int D, vae_binarize bin, float *out, vae_rng *rng)
{
    switch (bin) {
    case VAE_BINARIZE_NONE:
        memcpy(out, src, (size_t)D * sizeof *out);
        break;
    case VAE_BINARIZE_STATIC:
        for (int j = 0; j < D; j++) out[j] = src[j] > 0.5f ? 1.0f : 0.0f;
        break;
    default:
        for (int j = 0; j < D; j++) out[j] = vae_rng_uniform(rng) < src[j] ? 1.0f : 0.0f;
        break;
    }
}

void vae_dataset_read(const vae_dataset *d, const int *idx, int first, int n, float *out,
                      vae_rng *rng)
{
    const int D = d->cols;
    for (int r = 0; r < n; r++) {
        size_t row = (size_t)(idx ? idx[r] : first + r);
        if (d->u8) read_bytes(d->u8 + row * D, D, d->binarize, out + (size_t)r * D, rng);
        else read_floats(d->f + row * D, D, d->binarize, out + (size_t)r * D, rng);
    }
}

int vae_dataset_check(const vae_dataset *d, int cols, const char *what, vae_error *err)
{
    if (!d || d->rows < 1) return vae_fail(err, "%s: no rows", what);
    if (!d->f == !d->u8) return vae_fail(err, "%s: needs exactly one of float and byte values", what);
    if ((unsigned)d->binarize >= VAE_BINARIZE_COUNT)
        return vae_fail(err, "%s: unknown binarisation %d", what, (int)d->binarize);
    if (d->cols != cols)
        return vae_fail(err, "%s: has %d columns but the model's input is %d", what, d->cols, cols);
    if (d->u8) return VAE_OK;
    size_t n = (size_t)d->rows * d->cols;
    for (size_t i = 0; i < n; i++) {
        float v = d->f[i];
        if (!isfinite(v))
            return vae_fail(err, "%s: value at row %zu, column %zu is not finite", what,
                            i / d->cols + 1, i % d->cols + 1);
        if (d->binarize != VAE_BINARIZE_NONE && !(v >= 0.0f && v <= 1.0f))
            return vae_fail(err, "%s: value %g at row %zu, column %zu is outside [0, 1], "
                            "so it cannot be binarised", what, v, i / d->cols + 1, i % d->cols + 1);
    }
    return VAE_OK;
}

/* ---------- idx files ---------- */

static uint32_t big_endian(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static const char *idx_type_name(int t)
{
    switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "16-bit integer";
    case 0x0C: return "32-bit integer";
    case 0x0D: return "32-bit float";
    case 0x0E: return "64-bit float";
    default: return "unknown type";
    }
}

/* Reads an idx file of unsigned bytes with `ndims` dimensions: dims[] gets the
 * sizes, *data the bytes (malloc'd). `kind` names the content in messages. */
static int read_idx(const char *path, int ndims, const char *kind, uint32_t *dims,
                    uint8_t **data, vae_error *err)
{
    *data = NULL;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (fstat below refuses it) */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return vae_fail(err, "%s: cannot open: %s", path, strerror(errno));
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return vae_fail(err, "%s: cannot open: %s", path, strerror(errno));
    }
    int rc = VAE_FAIL;
    struct stat st;
    unsigned char head[4 + 4 * 3];
    size_t header = 4 + 4 * (size_t)ndims;
    if (fstat(fileno(f), &st) != 0) {
        vae_fail(err, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        vae_fail(err, "%s: not a regular file", path);
        goto out;
    }
    size_t got = fread(head, 1, 4, f);
    if (got >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
        vae_fail(err, "%s: gzip-compressed; unpack it first (gunzip)", path);
        goto out;
    }
    if (got < 4) {
        vae_fail(err, "%s: truncated: %zu bytes, shorter than an idx header", path, got);
        goto out;
    }
    if (head[0] != 0 || head[1] != 0) {
        vae_fail(err, "%s: not an idx file (magic starts 0x%02x 0x%02x, expected 0x00 0x00)",
                 path, head[0], head[1]);
        goto out;
    }
    if (head[2] != 0x08) {
        vae_fail(err, "%s: holds %s values (type 0x%02x); %s must be unsigned bytes (0x08)",
                 path, idx_type_name(head[2]), head[2], kind);
        goto out;
    }
    if (head[3] != ndims) {
        vae_fail(err, "%s: has %d dimension%s; %s need %d", path, head[3],
                 head[3] == 1 ? "" : "s", kind, ndims);
        goto out;
    }
    if (fread(head + 4, 1, header - 4, f) != header - 4) {
        vae_fail(err, "%s: truncated inside the %zu-byte header", path, header);
        goto out;
    }
    for (int i = 0; i < ndims; i++) dims[i] = big_endian(head + 4 + 4 * i);
    if (dims[0] == 0) {
        vae_fail(err, "%s: holds zero %s", path, kind);
        goto out;
    }
    /* the data must fit an int-indexed buffer: at most INT32_MAX bytes */
    size_t count = 1;
    for (int i = 0; i < ndims; i++) {
        if (dims[i] == 0) {
            vae_fail(err, "%s: dimension %d is zero", path, i + 1);
            goto out;
        }
        if (dims[i] > INT32_MAX / count) {
            vae_fail(err, "%s: implausible size %u in dimension %d (more than 2^31 bytes)",
                     path, dims[i], i + 1);
            goto out;
        }
        count *= dims[i];
    }
    size_t expect = header + count;
    if ((size_t)st.st_size < expect) {
        vae_fail(err, "%s: truncated: the header describes %u %s (%zu bytes of data) but the "
                 "file has %lld bytes, not %zu", path, dims[0], kind, count,
                 (long long)st.st_size, expect);
        goto out;
    }
    if ((size_t)st.st_size > expect) {
        vae_fail(err, "%s: oversized: %lld bytes after the %u %s the header describes "
                 "(wrong count in the header?)", path, (long long)st.st_size - (long long)expect,
                 dims[0], kind);
        goto out;
    }
    if (!(*data = malloc(count))) {
        vae_fail(err, "%s: out of memory for %zu bytes", path, count);
        goto out;
    }
    if (fread(*data, 1, count, f) != count) {
        vae_fail(err, "%s: read error after the header", path);
        free(*data);
        *data = NULL;
        goto out;
    }
    rc = VAE_OK;
out:
    fclose(f);
    return rc;
}

vae_images *vae_idx_images(const char *path, vae_error *err)
{
    uint32_t dims[3];
    uint8_t *px;
    if (read_idx(path, 3, "images", dims, &px, err)) return NULL;
    vae_images *im = malloc(sizeof *im);
    if (!im) {
        free(px);
        vae_fail(err, "%s: out of memory", path);
        return NULL;
    }
    im->n = (int)dims[0];
    im->height = (int)dims[1];
    im->width = (int)dims[2];
    im->px = px;
    return im;
}

void vae_images_free(vae_images *im)
{
    if (!im) return;
    free(im->px);
    free(im);
}

int vae_idx_labels(const char *path, uint8_t **labels, int *n, vae_error *err)
{
    uint32_t dims[1];
    if (read_idx(path, 1, "labels", dims, labels, err)) return VAE_FAIL;
    *n = (int)dims[0];
    return VAE_OK;
}
