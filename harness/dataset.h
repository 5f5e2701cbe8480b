/* A data set as the model reads it: rows of `cols` values stored either as
 * floats or as bytes (images, read as byte / 255), turned into float rows one
 * batch at a time. Bytes keep MNIST's 60000 training images in 47 MB where
 * floats would take 188 MB. Binarisation happens as rows are read: static
 * (value > 1/2) or dynamic (a fresh Bernoulli(value) draw every time a row is
 * read: the standard for likelihoods on binarised MNIST). */
#ifndef VAE_DATASET_H
#define VAE_DATASET_H

#include <stdint.h>

#include "error.h"
#include "mat.h"
#include "rng.h"

typedef enum vae_binarize {
    VAE_BINARIZE_NONE = 0, VAE_BINARIZE_STATIC, VAE_BINARIZE_DYNAMIC, VAE_BINARIZE_COUNT
} vae_binarize;

extern const char *const vae_binarize_names[VAE_BINARIZE_COUNT];
int vae_binarize_parse(const char *name); /* -1 when unknown */

typedef struct vae_dataset {
    int rows, cols;
    const float *f;     /* float rows, or NULL */
    const uint8_t *u8;  /* byte rows, or NULL: exactly one of the two is set */
    vae_binarize binarize;
} vae_dataset;

/* Views (no copies): the set must outlive them. */
vae_dataset vae_dataset_floats(const vae_mat *m);
vae_dataset vae_dataset_bytes(const uint8_t *v, int rows, int cols);

/* Writes n rows to out (n x cols floats): rows idx[0..n) or, when idx is NULL,
 * rows first..first+n-1. Dynamic binarisation draws from rng. */
void vae_dataset_read(const vae_dataset *d, const int *idx, int first, int n, float *out,
                      vae_rng *rng);

/* Fails unless the set has rows, `cols` columns, finite float values and, when
 * binarised, float values in [0, 1]; the message starts with `what` and names
 * the row and column. Byte rows are always valid. */
int vae_dataset_check(const vae_dataset *d, int cols, const char *what, vae_error *err);

/* Images as bytes from an idx file (LeCun's MNIST format: a 4-byte magic of
 * 0, 0, type, dimension count, then big-endian 32-bit sizes, then the data). */
typedef struct vae_images {
    int n, height, width;
    uint8_t *px; /* n * height * width bytes, row-major, owned */
} vae_images;

/* Reads an idx3 unsigned-byte file. Fails with a message naming the file and
 * what is wrong: cannot open, not idx (or gzip-compressed), not unsigned
 * bytes, not 3 dimensions, zero images, truncated or oversized. */
vae_images *vae_idx_images(const char *path, vae_error *err);
void vae_images_free(vae_images *im);
/* Reads an idx1 unsigned-byte file (labels): *labels gets n bytes (owned by the
 * caller, free()). The same checks as for images. */
int vae_idx_labels(const char *path, uint8_t **labels, int *n, vae_error *err);

#endif
