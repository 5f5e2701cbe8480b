#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const vae_key_type_names[] = { "integer", "integer", "number", "boolean", "name",
                                           "widths", "activations", "backend" };

#define MODEL(f) .section = VAE_SECTION_MODEL, .offset = offsetof(vae_config, f)
#define TRAIN(f) .section = VAE_SECTION_TRAIN, .offset = offsetof(vae_train_opts, f)
#define INT(lo_, hi_) .type = VAE_KEY_INT, .lo = (lo_), .hi = (hi_)
#define NUM(lo_, lo_open_, hi_, hi_open_) \
    .type = VAE_KEY_NUM, .lo = (lo_), .lo_open = (lo_open_), .hi = (hi_), .hi_open = (hi_open_)
#define NAME(a, n) .type = VAE_KEY_NAME, .names = (a), .n_names = (n)
#define WIDTHS .type = VAE_KEY_WIDTHS, .lo = 1, .hi = 1000000
#define ACTS .type = VAE_KEY_ACTS

/* Widths are stored in a vae_stack; its activations key points at the same stack. */
#define STACK(f) MODEL(f)

/* The table: the one place a key, its default and its range are written.
 * Keys without a default (.def NULL) are filled by vae_config_finish. */
static const vae_key keys[] = {
    { .name = "input", MODEL(input), INT(1, 1e8), .def = "0",
      .help = "data width (required)" },
    { .name = "latent", MODEL(latent), INT(1, 1e5), .def = "0",
      .help = "latent width (required)" },
    { .name = "hidden", STACK(enc), WIDTHS, .def = "100",
      .help = "encoder trunk: hidden widths, e.g. 500,500 (empty: none)" },
    { .name = "activation", STACK(enc), ACTS, .def = "relu",
      .help = "encoder trunk activations: one for all, or one per layer" },
    { .name = "mean_hidden", STACK(enc_mean), WIDTHS, .def = "",
      .help = "hidden widths of the encoder's mean head (before its linear output)" },
    { .name = "mean_activation", STACK(enc_mean), ACTS,
      .help = "their activations (default: the encoder trunk's first)" },
    { .name = "var_hidden", STACK(enc_var), WIDTHS, .def = "",
      .help = "hidden widths of the encoder's variance head (not with head=shared)" },
    { .name = "var_activation", STACK(enc_var), ACTS,
      .help = "their activations (default: the encoder trunk's first)" },
    { .name = "decoder_hidden", STACK(dec), WIDTHS,
      .help = "decoder trunk widths (default: the encoder's, reversed)" },
    { .name = "decoder_activation", STACK(dec), ACTS,
      .help = "decoder trunk activations (default: mirrored, or the encoder's first)" },
    { .name = "decoder_mean_hidden", STACK(dec_mean), WIDTHS, .def = "",
      .help = "hidden widths of the decoder's mean head (before the output layer)" },
    { .name = "decoder_mean_activation", STACK(dec_mean), ACTS,
      .help = "their activations (default: the decoder trunk's first)" },
    { .name = "decoder_var_hidden", STACK(dec_var), WIDTHS, .def = "",
      .help = "hidden widths of the decoder's log-variance head (gaussian_logvar(_mean))" },
    { .name = "decoder_var_activation", STACK(dec_var), ACTS,
      .help = "their activations (default: the decoder trunk's first)" },
    { .name = "output", MODEL(output_act), NAME(vae_act_names, VAE_ACT_COUNT), .def = "sigmoid",
      .help = "activation of the decoder's mean output" },
    { .name = "head", MODEL(head), NAME(vae_head_names, VAE_HEAD_COUNT), .def = "logvar",
      .help = "posterior scale: logvar, softplus (1e-6 + softplus), exp, or one shared variance" },
    { .name = "likelihood", MODEL(likelihood), NAME(vae_likelihood_names, VAE_LIK_COUNT),
      .def = "bernoulli", .help = "p(x|z) (mse is a summed squared error, not normalised; "
      "gaussian_logvar_mean averages the decoder's log-variances: one variance per example)" },
    { .name = "noise_var", MODEL(noise_var), NUM(0, 1, 1e6, 0), .def = "1",
      .help = "gaussian: the noise variance; gaussian_learned: its initial value" },
    { .name = "noise_per_feature", MODEL(noise_per_feature), .type = VAE_KEY_BOOL, .def = "false",
      .help = "gaussian_learned: one learned variance per feature, independent of z" },
    { .name = "posterior_var", MODEL(posterior_var), NUM(0, 1, 1e6, 0), .def = "1e-06",
      .help = "head=shared: the initial posterior variance" },
    { .name = "clamp", MODEL(clamp_eps), NUM(0, 1, 0.5, 1), .def = "1e-07",
      .help = "(c)Bernoulli outputs are clamped to [clamp, 1 - clamp]" },
    { .name = "kl", MODEL(kl), .type = VAE_KEY_BOOL, .def = "true",
      .help = "include the KL term (false: a plain noisy autoencoder)" },
    { .name = "beta", MODEL(beta), NUM(0, 0, 1e6, 0), .def = "1", .help = "KL weight" },
    { .name = "warmup", MODEL(warmup), INT(0, 1e6), .def = "0",
      .help = "epochs of linear KL warm-up (0: none)" },
    { .name = "free_bits", MODEL(free_bits), NUM(0, 0, 1e6, 0), .def = "0",
      .help = "free bits: each latent dim's batch-mean KL floored at this many nats (0: off)" },
    { .name = "dropout", MODEL(enc_dropout), NUM(0, 0, 1, 1), .def = "0",
      .help = "dropout rate after every encoder trunk layer" },
    { .name = "decoder_dropout", MODEL(dec_dropout), NUM(0, 0, 1, 1),
      .help = "dropout rate after every decoder trunk layer (default: dropout)" },
    { .name = "samples", MODEL(samples), INT(1, 1e5), .def = "1",
      .help = "Monte-Carlo samples of z per example" },
    { .name = "init", MODEL(init), NAME(vae_init_names, VAE_INIT_COUNT), .def = "xavier",
      .help = "weight initialisation: xavier (Glorot uniform) or pytorch" },
    { .name = "init_magnitude", MODEL(init_magnitude), NUM(0, 1, 1e6, 0), .def = "3",
      .help = "Xavier magnitude: U(-a, a), a = sqrt(2 magnitude / (n_in + n_out))" },
    { .name = "backend", MODEL(backend), .type = VAE_KEY_BACKEND, .def = "naive",
      .help = "compute backend" },
    { .name = "precision", MODEL(precision), NAME(vae_precision_names, VAE_PREC_COUNT),
      .def = "fp32", .help = "dense products: fp32, or bf16 (bf16 operands, fp32 sums, weights "
      "and Adam; avx2 on AVX512-BF16 CPUs, onednn)" },
    { .name = "seed", MODEL(seed), .type = VAE_KEY_SEED, .def = "1",
      .help = "seeds every random stream of the model" },

    { .name = "epochs", TRAIN(epochs), INT(1, 1e8), .def = "1", .help = "passes over the data" },
    { .name = "batch", TRAIN(batch), INT(1, 1e8), .zero_name = "full", .def = "32",
      .help = "rows per step, or full" },
    { .name = "lr", TRAIN(lr), NUM(0, 1, 10, 0), .def = "0.001", .help = "Adam learning rate" },
    { .name = "beta1", TRAIN(beta1), NUM(0, 0, 1, 1), .def = "0.9", .help = "Adam beta1" },
    { .name = "beta2", TRAIN(beta2), NUM(0, 0, 1, 1), .def = "0.999", .help = "Adam beta2" },
    { .name = "eps", TRAIN(eps), NUM(0, 1, 1, 0), .def = "1e-07", .help = "Adam epsilon" },
    { .name = "shuffle", TRAIN(shuffle), .type = VAE_KEY_BOOL, .def = "true",
      .help = "reshuffle the data order every epoch" },
    { .name = "validate_every", TRAIN(validate_every), INT(1, 1e8), .def = "1",
      .help = "evaluate the validation data every N epochs (and after the last)" },
};

enum { N_KEYS = sizeof keys / sizeof keys[0] };

int vae_key_count(void) { return N_KEYS; }
const vae_key *vae_key_at(int i) { return i >= 0 && i < N_KEYS ? &keys[i] : NULL; }

const vae_key *vae_key_find(const char *name)
{
    for (int i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].name, name) == 0) return &keys[i];
    return NULL;
}

static void *field(const vae_key *k, void *base) { return (char *)base + k->offset; }
static const void *cfield(const vae_key *k, const void *base)
{
    return (const char *)base + k->offset;
}

/* "[1, 100000]" or "(0, 0.5)" */
static void range_text(const vae_key *k, char *buf, size_t len)
{
    snprintf(buf, len, "%s%.15g, %.15g%s", k->lo_open ? "(" : "[", k->lo, k->hi,
             k->hi_open ? ")" : "]");
}

static int in_range(const vae_key *k, double v)
{
    return isfinite(v) && (k->lo_open ? v > k->lo : v >= k->lo) &&
           (k->hi_open ? v < k->hi : v <= k->hi);
}

/* Appends ", name" (or the first name) to the list in buf, cutting at len. */
static void list_add(char *buf, size_t len, size_t *used, const char *name)
{
    if (*used >= len) return;
    int w = snprintf(buf + *used, len - *used, "%s%s", *used ? ", " : "", name);
    *used = w < 0 ? len : *used + (size_t)w;
}

static void names_list(const char *const *names, int n, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < n; i++) list_add(buf, len, &used, names[i]);
}

static int parse_name(const vae_key *k, const char *const *names, int n, const char *s, int *out,
                      vae_error *err)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) return *out = i, VAE_OK;
    if (names == vae_act_names && strcmp(s, "none") == 0) return *out = VAE_ACT_LINEAR, VAE_OK;
    char list[256];
    names_list(names, n, list, sizeof list);
    return vae_fail(err, "key '%s': unknown value '%s' (allowed: %s)", k->name, s, list);
}

/* Whole-string integer, or -1 with errno-free failure. */
static int parse_long(const char *s, long long *v)
{
    if (!*s) return 0;
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return errno == 0 && *end == 0;
}

/* Splits a comma list into items (empty text: none). Returns the count, -1
 * when there are more than max, -2 when an item has 64 characters or more. */
static int split(const char *text, char items[][64], int max)
{
    if (!*text) return 0;
    int n = 0;
    const char *p = text;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (n == max) return -1;
        if (len >= 64) return -2; /* no item of a list is that long: refuse, do not cut */
        memcpy(items[n], p, len);
        items[n++][len] = 0;
        if (!c) return n;
        p = c + 1;
    }
}

int vae_key_set(const vae_key *k, void *base, const char *text, vae_error *err)
{
    void *f = field(k, base);
    char range[64];
    switch (k->type) {
    case VAE_KEY_INT: {
        long long v;
        if (k->zero_name && strcmp(text, k->zero_name) == 0) return *(int *)f = 0, VAE_OK;
        range_text(k, range, sizeof range);
        if (!parse_long(text, &v) || !in_range(k, (double)v))
            return vae_fail(err, "key '%s': must be an integer in %s%s%s (got '%s')", k->name,
                            range, k->zero_name ? " or " : "", k->zero_name ? k->zero_name : "",
                            text);
        *(int *)f = (int)v;
        return VAE_OK;
    }
    case VAE_KEY_SEED: { /* the whole of uint64, as it is printed */
        char *end;
        errno = 0;
        unsigned long long v = *text && *text != '-' ? strtoull(text, &end, 10) : 0;
        if (!*text || *text == '-' || errno || *end)
            return vae_fail(err, "key '%s': must be an integer >= 0 (got '%s')", k->name, text);
        *(uint64_t *)f = (uint64_t)v;
        return VAE_OK;
    }
    case VAE_KEY_NUM: {
        char *end;
        errno = 0;
        double v = *text ? strtod(text, &end) : NAN;
        range_text(k, range, sizeof range);
        if (!*text || *end || !in_range(k, v))
            return vae_fail(err, "key '%s': must be a number in %s (got '%s')", k->name, range,
                            text);
        *(float *)f = (float)v;
        return VAE_OK;
    }
    case VAE_KEY_BOOL:
        if (strcmp(text, "true") && strcmp(text, "false"))
            return vae_fail(err, "key '%s': must be true or false (got '%s')", k->name, text);
        *(int *)f = text[0] == 't';
        return VAE_OK;
    case VAE_KEY_NAME: {
        int v = 0;
        if (parse_name(k, k->names, k->n_names, text, &v, err)) return VAE_FAIL;
        *(int *)f = v;
        return VAE_OK;
    }
    case VAE_KEY_BACKEND: {
        for (int i = 0; i < vae_backend_count(); i++)
            if (strcmp(vae_backend_at(i)->name, text) == 0)
                return *(const vae_backend **)f = vae_backend_at(i), VAE_OK;
        char list[256];
        size_t used = 0;
        list[0] = 0;
        for (int i = 0; i < vae_backend_count(); i++)
            list_add(list, sizeof list, &used, vae_backend_at(i)->name);
        return vae_fail(err, "key '%s': unknown backend '%s' (built: %s)", k->name, text, list);
    }
    case VAE_KEY_WIDTHS:
    case VAE_KEY_ACTS: {
        vae_stack *s = f;
        char items[VAE_MAX_HIDDEN][64];
        int n = split(text, items, VAE_MAX_HIDDEN);
        if (n == -2) return vae_fail(err, "key '%s': an item of 64 characters or more", k->name);
        if (n < 0)
            return vae_fail(err, "key '%s': at most %d layers (got '%s')", k->name,
                            VAE_MAX_HIDDEN, text);
        int v[VAE_MAX_HIDDEN];
        for (int i = 0; i < n; i++) {
            long long w;
            if (k->type == VAE_KEY_ACTS) {
                if (parse_name(k, vae_act_names, VAE_ACT_COUNT, items[i], &v[i], err))
                    return VAE_FAIL;
            } else if (!parse_long(items[i], &w) || !in_range(k, (double)w)) {
                return vae_fail(err, "key '%s': item %d must be a width in [1, %.15g] (got '%s')",
                                k->name, i + 1, k->hi, items[i]);
            } else {
                v[i] = (int)w;
            }
        }
        if (k->type == VAE_KEY_WIDTHS) {
            s->n = n;
            for (int i = 0; i < n; i++) s->width[i] = v[i];
        } else {
            s->n_act = n;
            for (int i = 0; i < n; i++) s->act[i] = (vae_act)v[i];
        }
        return VAE_OK;
    }
    }
    return vae_fail(err, "key '%s': unknown type", k->name);
}

/* The shortest %g form that reads back as the same float. */
static void format_float(float v, char *buf, size_t len)
{
    for (int p = 6; p <= 9; p++) {
        snprintf(buf, len, "%.*g", p, (double)v);
        if (strtof(buf, NULL) == v) return;
    }
}

void vae_key_format(const vae_key *k, const void *base, char *buf, size_t len)
{
    const void *f = cfield(k, base);
    buf[0] = 0;
    switch (k->type) {
    case VAE_KEY_INT:
        if (k->zero_name && *(const int *)f == 0) snprintf(buf, len, "%s", k->zero_name);
        else snprintf(buf, len, "%d", *(const int *)f);
        break;
    case VAE_KEY_SEED: snprintf(buf, len, "%" PRIu64, *(const uint64_t *)f); break;
    case VAE_KEY_NUM: format_float(*(const float *)f, buf, len); break;
    case VAE_KEY_BOOL: snprintf(buf, len, "%s", *(const int *)f ? "true" : "false"); break;
    case VAE_KEY_NAME: {
        int v = *(const int *)f;
        snprintf(buf, len, "%s", v >= 0 && v < k->n_names ? k->names[v] : "?");
        break;
    }
    case VAE_KEY_BACKEND: {
        const vae_backend *be = *(const vae_backend *const *)f;
        snprintf(buf, len, "%s", be ? be->name : "?");
        break;
    }
    case VAE_KEY_WIDTHS:
    case VAE_KEY_ACTS: {
        const vae_stack *s = f;
        int n = k->type == VAE_KEY_WIDTHS ? s->n : s->n_act;
        size_t used = 0;
        for (int i = 0; i < n && i < VAE_MAX_HIDDEN && used < len; i++) {
            if (k->type == VAE_KEY_WIDTHS)
                used += (size_t)snprintf(buf + used, len - used, "%s%d", i ? "," : "", s->width[i]);
            else
                used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "",
                                         vae_act_names[s->act[i]]);
        }
        break;
    }
    }
}

static void section_default(vae_section sec, void *base, size_t size)
{
    memset(base, 0, size);
    for (int i = 0; i < N_KEYS; i++) {
        if (keys[i].section != sec) continue;
        if (keys[i].def) {
            vae_error e;
            vae_key_set(&keys[i], base, keys[i].def, &e); /* the table's own defaults parse */
        } else if (keys[i].type == VAE_KEY_WIDTHS) {
            ((vae_stack *)field(&keys[i], base))->n = -1;
        } else if (keys[i].type == VAE_KEY_ACTS) {
            ((vae_stack *)field(&keys[i], base))->n_act = -1;
        } else if (keys[i].type == VAE_KEY_NUM) {
            *(float *)field(&keys[i], base) = -1.0f; /* decoder_dropout: follow dropout */
        }
    }
}

void vae_config_default(vae_config *c) { section_default(VAE_SECTION_MODEL, c, sizeof *c); }
void vae_train_opts_default(vae_train_opts *o) { section_default(VAE_SECTION_TRAIN, o, sizeof *o); }

int vae_config_assign(vae_config *c, vae_train_opts *o, const char *assignment, vae_error *err)
{
    const char *eq = strchr(assignment, '=');
    char name[64];
    size_t len = eq ? (size_t)(eq - assignment) : 0;
    if (!eq || len == 0 || len >= sizeof name)
        return vae_fail(err, "'%s': expected key=value", assignment);
    memcpy(name, assignment, len);
    name[len] = 0;
    const vae_key *k = vae_key_find(name);
    if (!k) {
        char list[1024];
        size_t used = 0;
        list[0] = 0;
        for (int i = 0; i < N_KEYS; i++) list_add(list, sizeof list, &used, keys[i].name);
        return vae_fail(err, "unknown key '%s' (allowed: %s)", name, list);
    }
    void *base = k->section == VAE_SECTION_MODEL ? (void *)c : (void *)o;
    if (!base)
        return vae_fail(err, "key '%s' is a %s option, not accepted here", name,
                        k->section == VAE_SECTION_MODEL ? "model" : "training");
    return vae_key_set(k, base, eq + 1, err);
}

int vae_config_assign_all(vae_config *c, vae_train_opts *o, const char *text, vae_error *err)
{
    char item[512];
    const char *p = text;
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        size_t len = strcspn(p, " ");
        if (len >= sizeof item) return vae_fail(err, "'%.40s...': assignment too long", p);
        memcpy(item, p, len);
        item[len] = 0;
        if (vae_config_assign(c, o, item, err)) return VAE_FAIL;
        p += len;
    }
    return VAE_OK;
}

/* One activation for every layer, or one per layer; none given: fill. */
static int finish_acts(vae_stack *s, const char *key, vae_act fill, vae_error *err)
{
    if (s->n_act < 0) {
        for (int i = 0; i < s->n; i++) s->act[i] = fill;
    } else if (s->n_act == 1) {
        for (int i = 1; i < s->n; i++) s->act[i] = s->act[0];
    } else if (s->n_act != s->n) {
        return vae_fail(err, "key '%s': lists %d activations for %d hidden layers", key,
                        s->n_act, s->n);
    }
    s->n_act = s->n;
    return VAE_OK;
}

int vae_config_finish(vae_config *c, vae_error *err)
{
    if (c->enc.n < 0) c->enc.n = 0;
    if (finish_acts(&c->enc, "activation", VAE_ACT_RELU, err)) return VAE_FAIL;
    const vae_act first = c->enc.n ? c->enc.act[0] : VAE_ACT_RELU;
    if (c->dec.n < 0) { /* mirror the encoder, activations included unless given */
        c->dec.n = c->enc.n;
        for (int i = 0; i < c->dec.n; i++) c->dec.width[i] = c->enc.width[c->enc.n - 1 - i];
        if (c->dec.n_act < 0) {
            for (int i = 0; i < c->dec.n; i++) c->dec.act[i] = c->enc.act[c->enc.n - 1 - i];
            c->dec.n_act = c->dec.n;
        }
    }
    if (finish_acts(&c->dec, "decoder_activation", first, err)) return VAE_FAIL;
    const vae_act dfirst = c->dec.n ? c->dec.act[0] : first;
    struct { vae_stack *s; const char *key; vae_act fill; } heads[] = {
        { &c->enc_mean, "mean_activation", first }, { &c->enc_var, "var_activation", first },
        { &c->dec_mean, "decoder_mean_activation", dfirst },
        { &c->dec_var, "decoder_var_activation", dfirst },
    };
    for (int i = 0; i < 4; i++) {
        if (heads[i].s->n < 0) heads[i].s->n = 0;
        if (finish_acts(heads[i].s, heads[i].key, heads[i].fill, err)) return VAE_FAIL;
    }
    if (c->dec_dropout < 0) c->dec_dropout = c->enc_dropout;
    return vae_config_check(c, err);
}

/* Range checks of every key of a section, for structs filled by C code. */
static int check_section(vae_section sec, const void *base, vae_error *err)
{
    char range[64];
    for (int i = 0; i < N_KEYS; i++) {
        const vae_key *k = &keys[i];
        if (k->section != sec) continue;
        const void *f = cfield(k, base);
        range_text(k, range, sizeof range);
        switch (k->type) {
        case VAE_KEY_INT: {
            int v = *(const int *)f;
            if (!(k->zero_name && v == 0) && !in_range(k, v))
                return vae_fail(err, "key '%s': must be an integer in %s (got %d)", k->name,
                                range, v);
            break;
        }
        case VAE_KEY_NUM: {
            float v = *(const float *)f;
            if (!in_range(k, v))
                return vae_fail(err, "key '%s': must be a number in %s (got %g)", k->name, range,
                                (double)v);
            break;
        }
        case VAE_KEY_NAME: {
            int v = *(const int *)f;
            if (v < 0 || v >= k->n_names)
                return vae_fail(err, "key '%s': value %d out of range", k->name, v);
            break;
        }
        case VAE_KEY_BACKEND:
            if (!*(const vae_backend *const *)f) return vae_fail(err, "key '%s': missing", k->name);
            break;
        case VAE_KEY_WIDTHS: {
            const vae_stack *s = f;
            if (s->n < 0 || s->n > VAE_MAX_HIDDEN)
                return vae_fail(err, "key '%s': at most %d layers (got %d)", k->name,
                                VAE_MAX_HIDDEN, s->n);
            for (int j = 0; j < s->n; j++)
                if (!in_range(k, s->width[j]))
                    return vae_fail(err, "key '%s': item %d must be a width in [1, %.15g] (got %d)",
                                    k->name, j + 1, k->hi, s->width[j]);
            break;
        }
        case VAE_KEY_ACTS: {
            const vae_stack *s = f;
            if (s->n_act != s->n)
                return vae_fail(err, "key '%s': lists %d activations for %d hidden layers",
                                k->name, s->n_act, s->n);
            for (int j = 0; j < s->n; j++)
                if ((int)s->act[j] < 0 || s->act[j] >= VAE_ACT_COUNT)
                    return vae_fail(err, "key '%s': item %d is not an activation", k->name, j + 1);
            break;
        }
        case VAE_KEY_SEED:
        case VAE_KEY_BOOL:
            break;
        }
    }
    return VAE_OK;
}

int vae_config_check(const vae_config *c, vae_error *err)
{
    if (c->input == 0) return vae_fail(err, "key 'input' is required (the data width)");
    if (c->latent == 0) return vae_fail(err, "key 'latent' is required (the latent width)");
    if (check_section(VAE_SECTION_MODEL, c, err)) return VAE_FAIL;
    if ((c->likelihood == VAE_LIK_BERNOULLI || c->likelihood == VAE_LIK_CBERNOULLI) &&
        c->output_act != VAE_ACT_SIGMOID)
        return vae_fail(err, "key 'output': likelihood '%s' needs output = 'sigmoid' (got '%s')",
                        vae_likelihood_names[c->likelihood], vae_act_names[c->output_act]);
    if (c->head == VAE_HEAD_SHARED && c->enc_var.n > 0)
        return vae_fail(err, "key 'var_hidden': head 'shared' has no variance head layers");
    if (!vae_likelihood_has_logvar(c->likelihood) && c->dec_var.n > 0)
        return vae_fail(err, "key 'decoder_var_hidden': likelihood '%s' has no decoder "
                             "variance head", vae_likelihood_names[c->likelihood]);
    if (c->noise_per_feature && c->likelihood != VAE_LIK_GAUSSIAN_LEARNED)
        return vae_fail(err, "key 'noise_per_feature': needs likelihood 'gaussian_learned' "
                             "(got '%s')", vae_likelihood_names[c->likelihood]);
    return VAE_OK;
}

int vae_train_opts_check(const vae_train_opts *o, vae_error *err)
{
    return check_section(VAE_SECTION_TRAIN, o, err);
}

static size_t section_text(vae_section sec, const void *base, char *buf, size_t len)
{
    size_t used = 0;
    char v[512];
    if (len) buf[0] = 0;
    for (int i = 0; i < N_KEYS; i++) {
        if (keys[i].section != sec) continue;
        vae_key_format(&keys[i], base, v, sizeof v);
        int w = snprintf(used < len ? buf + used : NULL, used < len ? len - used : 0, "%s%s=%s",
                         used ? " " : "", keys[i].name, v);
        used += (size_t)w;
    }
    return used;
}

size_t vae_config_text(const vae_config *c, char *buf, size_t len)
{
    return section_text(VAE_SECTION_MODEL, c, buf, len);
}

size_t vae_train_opts_text(const vae_train_opts *o, char *buf, size_t len)
{
    return section_text(VAE_SECTION_TRAIN, o, buf, len);
}
