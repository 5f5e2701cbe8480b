/* Checkpoints: a model (and optionally its whole training state) in one
 * versioned little-endian file, checksummed with CRC-32 (zlib), written
 * atomically. The format is docs/checkpoint.md. Every failure names the file
 * and the fault; a failed load changes nothing. */
#ifndef VAE_CHECKPOINT_H
#define VAE_CHECKPOINT_H

#include <stddef.h>

#include "model.h"

#define VAE_CHECKPOINT_VERSION 1

/* What a checkpoint carries besides the model: the training options' text it
 * was written under (NULL or "" when none) and an opaque user section (the Lua
 * binding keeps fit's history there). */
typedef struct vae_checkpoint_extra {
    const char *train_text;
    const char *user;
    size_t user_len;
} vae_checkpoint_extra;

/* Writes m to path: temporary in the same directory, fsync, rename, fsync of
 * the directory; the old file stays whole on any failure. with_state adds
 * Adam's moments and step, the epoch and step, the data order and every RNG
 * stream. extra may be NULL. */
int vae_model_save(vae_model *m, const char *path, int with_state,
                   const vae_checkpoint_extra *extra, vae_error *err);

/* What a load found besides the model (malloc'd strings; free with
 * vae_checkpoint_info_free). */
typedef struct vae_checkpoint_info {
    int has_state;
    char *train_text;
    char *user;
    size_t user_len;
} vae_checkpoint_info;
void vae_checkpoint_info_free(vae_checkpoint_info *info);

/* A new model built from the checkpoint's config, with its parameters and
 * (when saved) its training state. info may be NULL. */
vae_model *vae_model_load(const char *path, vae_checkpoint_info *info, vae_error *err);
/* Into an existing model: its config must equal the checkpoint's (the text
 * form compared key by key). On failure m is unchanged. */
int vae_model_load_into(vae_model *m, const char *path, vae_checkpoint_info *info,
                        vae_error *err);
/* The same from memory (name appears in messages): the fuzz target's entry. */
vae_model *vae_model_load_buffer(const unsigned char *buf, size_t n, const char *name,
                                 vae_checkpoint_info *info, vae_error *err);

/* The first differing "key=value" of two space-separated texts, as "'a' in the
 * file, 'b' in the model" (first/second name the sides), for mismatch messages. */
void vae_text_difference(const char *a, const char *b, const char *first, const char *second,
                         char *out, size_t len);

#endif
