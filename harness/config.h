/* The model and training configs as data: ONE table of keys (name, type, field,
 * default, range or allowed names, one line of help) drives the defaults, the
 * checks, the setter from text (`key=value`, for --set and checkpoint headers),
 * the canonical one-line text form and, through the binding, vae.model{...}.
 * Messages name the key: "key 'latent': must be an integer in [1, 100000] (got 0)". */
#ifndef VAE_CONFIG_H
#define VAE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "activation.h"
#include "backend.h"
#include "error.h"
#include "layer.h"
#include "likelihood.h"
#include "posterior.h"

#define VAE_MAX_HIDDEN 16

/* A stack of hidden layers: widths and their activations. Before finishing, n = -1
 * means "not given" (a rule fills it: the decoder mirrors the encoder) and n_act
 * counts the activations given (-1 none, 1 for every layer, else one per layer). */
typedef struct vae_stack {
    int n, width[VAE_MAX_HIDDEN];
    int n_act;
    vae_act act[VAE_MAX_HIDDEN];
} vae_stack;

typedef struct vae_config {
    int input, latent;
    vae_stack enc, dec;          /* the trunks: hidden layers shared by a side's heads */
    vae_stack enc_mean, enc_var; /* encoder heads' own hidden layers (empty by default) */
    vae_stack dec_mean, dec_var; /* decoder heads' (dec_var: gaussian_logvar(_mean) only) */
    vae_act output_act;          /* on the decoder's mean output */
    vae_head head;
    vae_likelihood likelihood;
    float noise_var;     /* gaussian: the variance; gaussian_learned: its initial value */
    int noise_per_feature; /* gaussian_learned: one learned variance per feature (D of them) */
    float posterior_var; /* shared head: the initial posterior variance */
    float clamp_eps;     /* (c)Bernoulli output clamp */
    int kl;              /* 0 turns the KL term off: a plain (noisy) autoencoder */
    float beta;          /* KL weight */
    int warmup;          /* KL weight ramps as beta * min(1, (epoch+1)/warmup); 0 = off */
    float free_bits;     /* nats per latent dim: each dim's batch-mean KL floored here; 0 = off */
    float enc_dropout, dec_dropout; /* after every trunk layer of that side; 0 = none;
                                       dec_dropout < 0: the same as enc_dropout */
    int samples;         /* K Monte-Carlo samples of z per example */
    vae_init init;
    float init_magnitude;
    const vae_backend *backend;
    vae_precision precision; /* of the dense products: fp32, or bf16 (mixed; backend.h) */
    uint64_t seed;
} vae_config;

/* Training options (fit's keys). Callbacks are not data: see train.h. */
typedef struct vae_train_opts {
    int epochs;
    int batch;           /* 0 (text "full") or >= n: full batch */
    int shuffle;         /* reshuffle the data order every epoch */
    float lr, beta1, beta2, eps; /* Adam */
    int validate_every;  /* evaluate the validation data every N epochs and at the end */
} vae_train_opts;

typedef enum vae_section { VAE_SECTION_MODEL, VAE_SECTION_TRAIN } vae_section;

typedef enum vae_key_type {
    VAE_KEY_INT, VAE_KEY_SEED, VAE_KEY_NUM, VAE_KEY_BOOL, VAE_KEY_NAME, VAE_KEY_WIDTHS,
    VAE_KEY_ACTS, VAE_KEY_BACKEND
} vae_key_type;

typedef struct vae_key {
    const char *name;
    vae_section section;
    vae_key_type type;
    size_t offset;          /* of the field in vae_config or vae_train_opts */
    const char *def;        /* the default as text; NULL: filled by a finishing rule */
    double lo, hi;          /* INT, NUM: the range; lo_open/hi_open make a bound exclusive */
    int lo_open, hi_open;
    const char *const *names; /* NAME: the allowed values */
    int n_names;
    const char *zero_name;  /* INT: a name for 0 ("full" batch) */
    const char *help;
} vae_key;

int vae_key_count(void);
const vae_key *vae_key_at(int i);
const vae_key *vae_key_find(const char *name); /* NULL when unknown */
extern const char *const vae_key_type_names[]; /* "integer", "number", ... */

/* Sets key k of the struct at base (a vae_config or vae_train_opts, as k's
 * section says) from text. Fails naming the key, with what it expects. */
int vae_key_set(const vae_key *k, void *base, const char *text, vae_error *err);
/* The field's value as text (the form vae_key_set reads back exactly). */
void vae_key_format(const vae_key *k, const void *base, char *buf, size_t len);

/* Defaults from the table. The model's input and latent must still be set. */
void vae_config_default(vae_config *c);
void vae_train_opts_default(vae_train_opts *o);

/* "key=value": sets a model key in c or a training key in o (either may be NULL:
 * a key of that section is then refused, naming it). */
int vae_config_assign(vae_config *c, vae_train_opts *o, const char *assignment, vae_error *err);
/* Space-separated assignments, e.g. the canonical text form. */
int vae_config_assign_all(vae_config *c, vae_train_opts *o, const char *text, vae_error *err);

/* The finishing rules: an unset decoder mirrors the encoder (widths reversed,
 * activations reversed; given widths take the encoder's first activation); one
 * activation stands for every layer of its stack; the decoder's dropout follows
 * the encoder's; head stacks take their trunk's first activation. Then checks. */
int vae_config_finish(vae_config *c, vae_error *err);
/* Every field in range and the cross-key rules; c must be finished. */
int vae_config_check(const vae_config *c, vae_error *err);
int vae_train_opts_check(const vae_train_opts *o, vae_error *err);

/* The canonical one-line text of a section: every key in table order, as
 * "key=value" separated by spaces. Returns the length it needs (as snprintf). */
size_t vae_config_text(const vae_config *c, char *buf, size_t len);
size_t vae_train_opts_text(const vae_train_opts *o, char *buf, size_t len);

#endif
