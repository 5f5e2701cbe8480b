#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------- a stack of layers and their outputs ---------- */

#define NET_MAX (2 * VAE_MAX_HIDDEN)

typedef struct net {
    int n;
    vae_layer *layer[NET_MAX];
    float *out[NET_MAX]; /* (rows_cap x n_out) per layer */
    float *grad[2];      /* ping-pong input gradients, (rows_cap x max width) */
    int width;           /* input width, then max over layers */
} net;

static void net_free(net *s)
{
    for (int i = 0; i < s->n; i++) {
        vae_layer_free(s->layer[i]);
        vae_free(s->out[i]);
    }
    vae_free(s->grad[0]);
    vae_free(s->grad[1]);
    memset(s, 0, sizeof *s);
}

static int net_alloc(net *s, int rows)
{
    for (int i = 0; i < s->n; i++) {
        vae_free(s->out[i]);
        if (!(s->out[i] = vae_alloc((size_t)rows * s->layer[i]->n_out))) return VAE_FAIL;
    }
    for (int k = 0; k < 2; k++) {
        vae_free(s->grad[k]);
        if (!(s->grad[k] = vae_alloc((size_t)rows * s->width))) return VAE_FAIL;
    }
    return VAE_OK;
}

/* The net's output, or x itself when the net has no layers. */
static const float *net_forward(net *s, const float *x, int rows, int training, vae_error *err)
{
    const float *in = x;
    for (int i = 0; i < s->n; i++) {
        if (vae_layer_forward(s->layer[i], in, s->out[i], rows, training, err)) return NULL;
        in = s->out[i];
    }
    return in;
}

/* dy is the gradient at the net's output (not one of its own buffers); dx may be NULL. */
static int net_backward(net *s, const float *x, const float *dy, float *dx, int rows,
                        vae_error *err)
{
    if (s->n == 0) {
        if (dx) memcpy(dx, dy, (size_t)rows * s->width * sizeof *dx);
        return VAE_OK;
    }
    for (int i = s->n - 1; i >= 0; i--) {
        const float *in = i ? s->out[i - 1] : x;
        float *din = i ? s->grad[i & 1] : dx;
        if (vae_layer_backward(s->layer[i], in, s->out[i], dy, din, rows, err)) return VAE_FAIL;
        dy = din;
    }
    return VAE_OK;
}

static int net_add(net *s, vae_layer *l)
{
    if (!l || s->n == NET_MAX) {
        vae_layer_free(l);
        return VAE_FAIL;
    }
    s->layer[s->n++] = l;
    if (l->n_out > s->width) s->width = l->n_out;
    return VAE_OK;
}

static int net_out_width(const net *s) { return s->n ? s->layer[s->n - 1]->n_out : s->width; }

/* ---------- the model ---------- */

struct vae_model {
    vae_config cfg;
    net enc, dec;                  /* hidden layers (dense + dropout) */
    vae_layer *mu_head, *var_head; /* var_head is NULL for the shared head */
    vae_layer *out_layer;          /* decoder mean, with cfg.output_act */
    vae_layer *logvar_head;        /* decoder log-variance, gaussian_logvar only */
    float *shared_raw, *noise_raw; /* views of learned scalars (NULL if absent) */

    size_t n_params;
    float *params, *grads, *adam_m, *adam_v; /* one flat arena each */
    long adam_t;

    vae_rng rng[VAE_STREAM_COUNT];

    int cap;  /* encoder rows the buffers hold; decoder rows are cap * K */
    float *mu, *raw, *sigma, *log_sigma, *dsigma, *dmu, *dsig; /* (cap x L) */
    float *eps, *z, *dz;                    /* (cap K x L) */
    float *xhat, *logvar;                   /* (cap K x D) decoder mean, log-variance */
    float *dout, *dlogvar;                  /* (cap K x D) */
    float *dh_enc, *tmp_enc;                /* (cap x enc width) */
    float *dh_dec, *tmp_dec;                /* (cap K x dec width) */
    double *nll, *kl;                       /* (cap K), (cap) */
    float *xbatch;                          /* (cap x D) */
    int *order;
    int order_n;
};

void vae_config_default(vae_config *c)
{
    memset(c, 0, sizeof *c);
    c->n_enc = c->n_dec = 1;
    c->enc_width[0] = c->dec_width[0] = 100;
    c->enc_act[0] = c->dec_act[0] = VAE_ACT_RELU;
    c->output_act = VAE_ACT_SIGMOID;
    c->head = VAE_HEAD_LOGVAR;
    c->likelihood = VAE_LIK_BERNOULLI;
    c->noise_var = 1.0f;
    c->posterior_var = 1e-6f;
    c->clamp_eps = 1e-7f;
    c->kl = 1;
    c->beta = 1.0f;
    c->samples = 1;
    c->init = VAE_INIT_XAVIER;
    c->init_magnitude = 3.0f;
    c->backend = &vae_backend_naive;
    c->seed = 1;
}

void vae_train_opts_default(vae_train_opts *o)
{
    o->batch = 32;
    o->shuffle = 1;
    o->lr = 1e-3f;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-7f;
    o->on_step = NULL;
    o->ctx = NULL;
}

int vae_config_check(const vae_config *c, vae_error *err)
{
    if (c->input < 1) return vae_fail(err, "input: must be >= 1 (got %d)", c->input);
    if (c->latent < 1) return vae_fail(err, "latent: must be >= 1 (got %d)", c->latent);
    if (c->n_enc < 0 || c->n_enc > VAE_MAX_HIDDEN)
        return vae_fail(err, "hidden: at most %d layers (got %d)", VAE_MAX_HIDDEN, c->n_enc);
    if (c->n_dec < 0 || c->n_dec > VAE_MAX_HIDDEN)
        return vae_fail(err, "decoder_hidden: at most %d layers (got %d)", VAE_MAX_HIDDEN,
                        c->n_dec);
    for (int i = 0; i < c->n_enc; i++)
        if (c->enc_width[i] < 1)
            return vae_fail(err, "hidden[%d]: width must be >= 1 (got %d)", i + 1,
                            c->enc_width[i]);
    for (int i = 0; i < c->n_dec; i++)
        if (c->dec_width[i] < 1)
            return vae_fail(err, "decoder_hidden[%d]: width must be >= 1 (got %d)", i + 1,
                            c->dec_width[i]);
    if (!(c->enc_dropout >= 0.0f && c->enc_dropout < 1.0f))
        return vae_fail(err, "dropout: must be in [0, 1) (got %g)", c->enc_dropout);
    if (!(c->dec_dropout >= 0.0f && c->dec_dropout < 1.0f))
        return vae_fail(err, "decoder_dropout: must be in [0, 1) (got %g)", c->dec_dropout);
    if (c->samples < 1) return vae_fail(err, "samples: must be >= 1 (got %d)", c->samples);
    if (!(c->beta >= 0.0f) || !isfinite(c->beta))
        return vae_fail(err, "beta: must be a finite number >= 0 (got %g)", c->beta);
    if (c->warmup < 0) return vae_fail(err, "warmup: must be >= 0 epochs (got %d)", c->warmup);
    if (!(c->noise_var > 0.0f) || !isfinite(c->noise_var))
        return vae_fail(err, "noise_var: must be > 0 (got %g)", c->noise_var);
    if (!(c->posterior_var > 0.0f) || !isfinite(c->posterior_var))
        return vae_fail(err, "posterior_var: must be > 0 (got %g)", c->posterior_var);
    if (!(c->clamp_eps > 0.0f && c->clamp_eps < 0.5f))
        return vae_fail(err, "clamp: must be in (0, 0.5) (got %g)", c->clamp_eps);
    if (!(c->init_magnitude > 0.0f) || !isfinite(c->init_magnitude))
        return vae_fail(err, "init_magnitude: must be > 0 (got %g)", c->init_magnitude);
    if ((c->likelihood == VAE_LIK_BERNOULLI || c->likelihood == VAE_LIK_CBERNOULLI) &&
        c->output_act != VAE_ACT_SIGMOID)
        return vae_fail(err, "output: likelihood '%s' needs output = 'sigmoid' (got '%s')",
                        vae_likelihood_names[c->likelihood], vae_act_names[c->output_act]);
    if (c->threads < 0) return vae_fail(err, "threads: must be >= 0 (got %d)", c->threads);
    if (!c->backend) return vae_fail(err, "backend: missing");
    return VAE_OK;
}

const vae_config *vae_model_config(const vae_model *m) { return &m->cfg; }

float vae_kl_weight(const vae_model *m, int epoch)
{
    if (!m->cfg.kl) return 0.0f;
    if (m->cfg.warmup <= 0 || epoch < 0 || epoch + 1 >= m->cfg.warmup) return m->cfg.beta;
    return m->cfg.beta * (float)(epoch + 1) / (float)m->cfg.warmup;
}

static void free_buffers(vae_model *m)
{
    float **fs[] = { &m->mu, &m->raw, &m->sigma, &m->log_sigma, &m->dsigma, &m->dmu, &m->dsig,
                     &m->eps, &m->z, &m->dz, &m->xhat, &m->logvar, &m->dout, &m->dlogvar, &m->dh_enc,
                     &m->tmp_enc, &m->dh_dec, &m->tmp_dec, &m->xbatch };
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
        vae_free(*fs[i]);
        *fs[i] = NULL;
    }
    free(m->nll);
    free(m->kl);
    m->nll = m->kl = NULL;
    m->cap = 0;
}

/* Makes every buffer hold at least `rows` encoder rows (rows * K decoder rows). */
static int ensure_rows(vae_model *m, int rows, vae_error *err)
{
    if (rows <= m->cap) return VAE_OK;
    free_buffers(m);
    const vae_config *c = &m->cfg;
    size_t R = (size_t)rows, RK = R * c->samples, L = c->latent, D = c->input;
    size_t He = (size_t)m->enc.width, Hd = (size_t)m->dec.width;
    int ok = 1;
#define ALLOC(p, n) ok = ok && ((p) = vae_alloc(n)) != NULL
    ALLOC(m->mu, R * L); ALLOC(m->raw, R * L); ALLOC(m->sigma, R * L);
    ALLOC(m->log_sigma, R * L); ALLOC(m->dsigma, R * L); ALLOC(m->dmu, R * L);
    ALLOC(m->dsig, R * L);
    ALLOC(m->eps, RK * L); ALLOC(m->z, RK * L); ALLOC(m->dz, RK * L);
    ALLOC(m->xhat, RK * D); ALLOC(m->logvar, RK * D);
    ALLOC(m->dout, RK * D); ALLOC(m->dlogvar, RK * D);
    ALLOC(m->dh_enc, R * He); ALLOC(m->tmp_enc, R * He);
    ALLOC(m->dh_dec, RK * Hd); ALLOC(m->tmp_dec, RK * Hd);
    ALLOC(m->xbatch, R * D);
#undef ALLOC
    ok = ok && (m->nll = calloc(RK, sizeof *m->nll)) && (m->kl = calloc(R, sizeof *m->kl));
    ok = ok && net_alloc(&m->enc, rows) == VAE_OK && net_alloc(&m->dec, (int)RK) == VAE_OK;
    if (!ok) {
        free_buffers(m);
        return vae_fail(err, "out of memory for a batch of %d rows", rows);
    }
    m->cap = rows;
    return VAE_OK;
}

static int build(vae_model *m, vae_error *err)
{
    const vae_config *c = &m->cfg;
    const vae_backend *be = c->backend;
    vae_rng *drop = &m->rng[VAE_STREAM_DROPOUT];
    int w = c->input;
    m->enc.width = c->input;
    for (int i = 0; i < c->n_enc; i++) {
        if (net_add(&m->enc, vae_dense_new(w, c->enc_width[i], c->enc_act[i], be))) goto oom;
        w = c->enc_width[i];
        if (c->enc_dropout > 0 && net_add(&m->enc, vae_dropout_new(w, c->enc_dropout, drop)))
            goto oom;
    }
    if (!(m->mu_head = vae_dense_new(w, c->latent, VAE_ACT_LINEAR, be))) goto oom;
    if (c->head != VAE_HEAD_SHARED &&
        !(m->var_head = vae_dense_new(w, c->latent, VAE_ACT_LINEAR, be)))
        goto oom;
    w = c->latent;
    m->dec.width = c->latent;
    for (int i = 0; i < c->n_dec; i++) {
        if (net_add(&m->dec, vae_dense_new(w, c->dec_width[i], c->dec_act[i], be))) goto oom;
        w = c->dec_width[i];
        if (c->dec_dropout > 0 && net_add(&m->dec, vae_dropout_new(w, c->dec_dropout, drop)))
            goto oom;
    }
    if (!(m->out_layer = vae_dense_new(w, c->input, c->output_act, be))) goto oom;
    if (c->likelihood == VAE_LIK_GAUSSIAN_LOGVAR &&
        !(m->logvar_head = vae_dense_new(w, c->input, VAE_ACT_LINEAR, be)))
        goto oom;
    return VAE_OK;
oom:
    return vae_fail(err, "out of memory building the model");
}

/* Every dense layer in a fixed order: parameters are laid out and initialised in it. */
static int dense_layers(vae_model *m, vae_layer **out)
{
    int n = 0;
    for (int i = 0; i < m->enc.n; i++)
        if (m->enc.layer[i]->n_params) out[n++] = m->enc.layer[i];
    out[n++] = m->mu_head;
    if (m->var_head) out[n++] = m->var_head;
    for (int i = 0; i < m->dec.n; i++)
        if (m->dec.layer[i]->n_params) out[n++] = m->dec.layer[i];
    out[n++] = m->out_layer;
    if (m->logvar_head) out[n++] = m->logvar_head;
    return n;
}

vae_model *vae_model_new(const vae_config *c, vae_error *err)
{
    if (vae_config_check(c, err)) return NULL;
    vae_model *m = calloc(1, sizeof *m);
    if (!m) {
        vae_fail(err, "out of memory");
        return NULL;
    }
    m->cfg = *c;
    for (int s = 1; s < VAE_STREAM_COUNT; s++) vae_rng_seed(&m->rng[s], c->seed, (uint64_t)s);
    if (build(m, err)) goto fail;
    if (c->backend->set_threads) c->backend->set_threads(c->threads);

    vae_layer *dl[NET_MAX + 4];
    int nd = dense_layers(m, dl);
    size_t n = 0;
    for (int i = 0; i < nd; i++) n += dl[i]->n_params;
    int has_shared = c->head == VAE_HEAD_SHARED;
    int has_noise = c->likelihood == VAE_LIK_GAUSSIAN_LEARNED;
    n += (size_t)has_shared + (size_t)has_noise;
    m->n_params = n;
    if (!(m->params = vae_alloc(n)) || !(m->grads = vae_alloc(n)) ||
        !(m->adam_m = vae_alloc(n)) || !(m->adam_v = vae_alloc(n))) {
        vae_fail(err, "out of memory for %zu parameters", n);
        goto fail;
    }
    size_t off = 0;
    for (int i = 0; i < nd; i++) {
        vae_layer_bind(dl[i], m->params + off, m->grads + off);
        vae_dense_init(dl[i], c->init, c->init_magnitude, &m->rng[VAE_STREAM_INIT]);
        off += dl[i]->n_params;
    }
    if (has_shared) {
        m->shared_raw = m->params + off++;
        *m->shared_raw = vae_softplus_inverse(c->posterior_var);
    }
    if (has_noise) {
        m->noise_raw = m->params + off++;
        *m->noise_raw = vae_softplus_inverse(c->noise_var);
    }
    return m;
fail:
    vae_model_free(m);
    return NULL;
}

void vae_model_free(vae_model *m)
{
    if (!m) return;
    net_free(&m->enc);
    net_free(&m->dec);
    vae_layer_free(m->mu_head);
    vae_layer_free(m->var_head);
    vae_layer_free(m->out_layer);
    vae_layer_free(m->logvar_head);
    free_buffers(m);
    vae_free(m->params);
    vae_free(m->grads);
    vae_free(m->adam_m);
    vae_free(m->adam_v);
    free(m->order);
    free(m);
}

float *vae_model_params(vae_model *m, size_t *n)
{
    if (n) *n = m->n_params;
    return m->params;
}
float *vae_model_grads(vae_model *m) { return m->grads; }
void vae_model_zero_grads(vae_model *m) { memset(m->grads, 0, m->n_params * sizeof(float)); }
vae_rng *vae_model_rng(vae_model *m, int stream)
{
    return stream >= 1 && stream < VAE_STREAM_COUNT ? &m->rng[stream] : NULL;
}

float vae_model_posterior_var(const vae_model *m)
{
    return m->shared_raw ? (float)vae_softplus(*m->shared_raw) : NAN;
}
float vae_model_noise_var(const vae_model *m)
{
    return m->noise_raw ? (float)vae_softplus(*m->noise_raw) : NAN;
}

static vae_lik_args lik_args(const vae_model *m)
{
    vae_lik_args a = { m->cfg.likelihood, m->cfg.backend, m->cfg.clamp_eps, m->cfg.noise_var,
                       m->noise_raw ? *m->noise_raw : 0.0f };
    return a;
}

/* Encoder and heads in the given mode: fills mu, raw, sigma, log_sigma, dsigma. */
static int encode_rows(vae_model *m, const float *x, int B, int training, vae_error *err)
{
    const float *h = net_forward(&m->enc, x, B, training, err);
    if (!h) return VAE_FAIL;
    if (vae_layer_forward(m->mu_head, h, m->mu, B, training, err)) return VAE_FAIL;
    if (m->var_head && vae_layer_forward(m->var_head, h, m->raw, B, training, err))
        return VAE_FAIL;
    vae_head_sigma(m->cfg.head, m->raw, m->shared_raw ? *m->shared_raw : 0.0f,
                   B * m->cfg.latent, m->sigma, m->log_sigma, m->dsigma);
    return VAE_OK;
}

/* Decoder: z (rows x L) -> out (rows x D) [+ log-variance]. Returns the last
 * hidden output via *h_out for backward. */
static int decode_rows(vae_model *m, const float *z, int rows, int training, float *out,
                       float *lv, const float **h_out, vae_error *err)
{
    const float *h = net_forward(&m->dec, z, rows, training, err);
    if (!h) return VAE_FAIL;
    if (vae_layer_forward(m->out_layer, h, out, rows, training, err)) return VAE_FAIL;
    if (m->logvar_head && vae_layer_forward(m->logvar_head, h, lv, rows, training, err))
        return VAE_FAIL;
    if (h_out) *h_out = h;
    return VAE_OK;
}

/* z[k B + r] = mu[r] + sigma[r] * eps, eps ~ N(0, I) from rng */
static void reparameterise(vae_model *m, int B, vae_rng *rng)
{
    const int L = m->cfg.latent, K = m->cfg.samples;
    for (int k = 0; k < K; k++)
        for (int i = 0; i < B * L; i++) {
            size_t j = (size_t)k * B * L + i;
            m->eps[j] = vae_rng_normal(rng);
            m->z[j] = m->mu[i] + m->sigma[i] * m->eps[j];
        }
}

/* Adds src into dst, n floats. */
static void add_into(float *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

int vae_model_forward_backward(vae_model *m, const float *x, int B, float kl_weight,
                               int training, vae_losses *out, vae_error *err)
{
    const vae_config *c = &m->cfg;
    const int L = c->latent, D = c->input, K = c->samples, RK = B * K;
    if (ensure_rows(m, B, err)) return VAE_FAIL;

    /* forward: encoder, reparameterisation, decoder, likelihood, KL */
    if (encode_rows(m, x, B, training, err)) return VAE_FAIL;
    reparameterise(m, B, &m->rng[VAE_STREAM_NOISE]);
    const float *h_dec;
    if (decode_rows(m, m->z, RK, training, m->xhat, m->logvar, &h_dec, err)) return VAE_FAIL;
    vae_lik_args la = lik_args(m);
    double dnoise = 0.0;
    if (vae_likelihood_eval(&la, x, B, m->xhat, m->logvar, RK, D, m->nll, m->dout, m->dlogvar,
                            1.0f / (float)RK, &dnoise, err))
        return VAE_FAIL;
    memset(m->dmu, 0, (size_t)B * L * sizeof(float));
    memset(m->dsig, 0, (size_t)B * L * sizeof(float));
    vae_kl_normal(m->mu, m->sigma, m->log_sigma, B, L, m->kl, m->dmu, m->dsig,
                  kl_weight / (float)B);
    double recon = 0.0, kl = 0.0;
    for (int r = 0; r < RK; r++) recon += m->nll[r];
    for (int r = 0; r < B; r++) kl += m->kl[r];
    out->recon = recon / RK;
    out->kl = kl / B;
    out->kl_weight = kl_weight;
    out->loss = out->recon + kl_weight * out->kl;
    if (!isfinite(out->loss)) return vae_fail(err, "loss is not finite (%g)", out->loss);

    /* backward: decoder output layers, decoder, reparameterisation, heads, encoder */
    const int Hd = net_out_width(&m->dec), He = net_out_width(&m->enc);
    if (vae_layer_backward(m->out_layer, h_dec, m->xhat, m->dout, m->dh_dec, RK, err))
        return VAE_FAIL;
    if (m->logvar_head) {
        if (vae_layer_backward(m->logvar_head, h_dec, m->logvar, m->dlogvar, m->tmp_dec, RK, err))
            return VAE_FAIL;
        add_into(m->dh_dec, m->tmp_dec, (size_t)RK * Hd);
    }
    if (net_backward(&m->dec, m->z, m->dh_dec, m->dz, RK, err)) return VAE_FAIL;
    for (int k = 0; k < K; k++)            /* dz/dmu = 1, dz/dsigma = eps */
        for (int i = 0; i < B * L; i++) {
            size_t j = (size_t)k * B * L + i;
            m->dmu[i] += m->dz[j];
            m->dsig[i] += m->dz[j] * m->eps[j];
        }
    const float *h_enc = m->enc.n ? m->enc.out[m->enc.n - 1] : x;
    float *dh = m->enc.n ? m->dh_enc : NULL; /* no input gradient needed for the data */
    if (vae_layer_backward(m->mu_head, h_enc, m->mu, m->dmu, dh, B, err)) return VAE_FAIL;
    if (m->var_head) {
        for (int i = 0; i < B * L; i++) m->dsig[i] *= m->dsigma[i]; /* now d/d raw */
        if (vae_layer_backward(m->var_head, h_enc, m->raw, m->dsig, dh ? m->tmp_enc : NULL, B,
                               err))
            return VAE_FAIL;
        if (dh) add_into(dh, m->tmp_enc, (size_t)B * He);
    } else {
        double g = 0.0;
        for (int i = 0; i < B * L; i++) g += (double)m->dsig[i] * m->dsigma[i];
        m->grads[m->shared_raw - m->params] += (float)g;
    }
    if (m->noise_raw) m->grads[m->noise_raw - m->params] += (float)dnoise;
    if (dh && net_backward(&m->enc, x, dh, NULL, B, err)) return VAE_FAIL;
    return VAE_OK;
}

static void adam_step(vae_model *m, const vae_train_opts *o)
{
    m->adam_t++;
    vae_adam_step s = { o->lr, o->beta1, o->beta2, o->eps,
                        (float)(1.0 - pow(o->beta1, (double)m->adam_t)),
                        (float)(1.0 - pow(o->beta2, (double)m->adam_t)) };
    vae_adam_update(m->cfg.backend, m->params, m->grads, m->adam_m, m->adam_v, m->n_params, &s);
}

int vae_check_data(const vae_model *m, const vae_dataset *data, const char *what,
                   vae_error *err)
{
    return vae_dataset_check(data, m->cfg.input, what, err);
}

int vae_train_epoch(vae_model *m, const vae_dataset *data, const vae_train_opts *o, int epoch,
                    vae_losses *out, vae_error *err)
{
    if (vae_check_data(m, data, "training data", err)) return VAE_FAIL;
    if (!(o->lr > 0) || !(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1) ||
        !(o->eps > 0))
        return vae_fail(err, "optimizer: need lr > 0, beta1 and beta2 in [0, 1), eps > 0");
    const int n = data->rows;
    const int B = o->batch <= 0 || o->batch > n ? n : o->batch, steps = (n + B - 1) / B;
    if (m->order_n != n) {
        free(m->order);
        if (!(m->order = malloc((size_t)n * sizeof *m->order)))
            return vae_fail(err, "out of memory for the data order");
        m->order_n = n;
        for (int i = 0; i < n; i++) m->order[i] = i;
    }
    if (o->shuffle) vae_rng_shuffle(&m->rng[VAE_STREAM_ORDER], m->order, n);
    if (ensure_rows(m, B, err)) return VAE_FAIL;
    const float w = vae_kl_weight(m, epoch);
    double loss = 0, recon = 0, kl = 0;
    int step = 0;
    for (int start = 0; start < n; start += B, step++) {
        int b = n - start < B ? n - start : B;
        vae_dataset_read(data, m->order + start, 0, b, m->xbatch, &m->rng[VAE_STREAM_BINARIZE]);
        vae_losses l;
        vae_error e;
        if (vae_model_forward_backward(m, m->xbatch, b, w, 1, &l, &e))
            return vae_fail(err, "training stopped at epoch %d, step %d: %s", epoch + 1,
                            step + 1, e.msg);
        adam_step(m, o);
        loss += l.loss * b;
        recon += l.recon * b;
        kl += l.kl * b;
        if (o->on_step) {
            int done = start + b;
            vae_losses run = { loss / done, recon / done, kl / done, w };
            if (o->on_step(o->ctx, step + 1, steps, done, &run))
                return vae_fail(err, "stopped at epoch %d, step %d", epoch + 1, step + 1);
        }
    }
    out->loss = loss / n;
    out->recon = recon / n;
    out->kl = kl / n;
    out->kl_weight = w;
    return VAE_OK;
}

/* Rows per evaluation chunk: bounds the buffers, whatever the data set size. */
enum { EVAL_CHUNK = 500 };

int vae_evaluate(vae_model *m, const vae_dataset *data, int epoch, vae_losses *out,
                 vae_error *err)
{
    if (vae_check_data(m, data, "evaluation data", err)) return VAE_FAIL;
    const int n = data->rows, D = data->cols, L = m->cfg.latent, K = m->cfg.samples;
    vae_rng rng, bin;
    vae_rng_seed(&rng, m->cfg.seed, VAE_STREAM_EVAL);
    vae_rng_seed(&bin, m->cfg.seed, VAE_STREAM_EVAL_BINARIZE);
    const float w = vae_kl_weight(m, epoch);
    vae_lik_args la = lik_args(m);
    double recon = 0, kl = 0;
    int chunk = n < EVAL_CHUNK ? n : EVAL_CHUNK;
    if (ensure_rows(m, chunk, err)) return VAE_FAIL;
    for (int start = 0; start < n; start += chunk) {
        int b = n - start < chunk ? n - start : chunk;
        const float *x = m->xbatch;
        vae_dataset_read(data, NULL, start, b, m->xbatch, &bin);
        if (encode_rows(m, x, b, 0, err)) return VAE_FAIL;
        reparameterise(m, b, &rng);
        if (decode_rows(m, m->z, b * K, 0, m->xhat, m->logvar, NULL, err)) return VAE_FAIL;
        if (vae_likelihood_eval(&la, x, b, m->xhat, m->logvar, b * K, D, m->nll, NULL, NULL, 0,
                                NULL, err))
            return VAE_FAIL;
        vae_kl_normal(m->mu, m->sigma, m->log_sigma, b, L, m->kl, NULL, NULL, 0);
        for (int r = 0; r < b * K; r++) recon += m->nll[r] / K;
        for (int r = 0; r < b; r++) kl += m->kl[r];
    }
    out->recon = recon / n;
    out->kl = kl / n;
    out->kl_weight = w;
    out->loss = out->recon + w * out->kl;
    return VAE_OK;
}

int vae_log_likelihood(vae_model *m, const vae_dataset *data, int k, double *mean_logpx,
                       int (*on_chunk)(void *ctx, int rows_done, int rows), void *ctx,
                       vae_error *err)
{
    if (!vae_likelihood_normalised(m->cfg.likelihood))
        return vae_fail(err, "log p(x): likelihood '%s' is not a normalised density",
                        vae_likelihood_names[m->cfg.likelihood]);
    if (k < 1) return vae_fail(err, "log p(x): k must be >= 1 (got %d)", k);
    if (vae_check_data(m, data, "evaluation data", err)) return VAE_FAIL;
    const int n = data->rows, D = data->cols, L = m->cfg.latent;
    vae_rng rng, bin;
    vae_rng_seed(&rng, m->cfg.seed, VAE_STREAM_EVAL);
    vae_rng_seed(&bin, m->cfg.seed, VAE_STREAM_EVAL_BINARIZE);
    vae_lik_args la = lik_args(m);
    int chunk = n < EVAL_CHUNK ? n : EVAL_CHUNK;
    if (ensure_rows(m, chunk, err)) return VAE_FAIL;
    double *best = malloc((size_t)chunk * sizeof *best), *sum = malloc((size_t)chunk * sizeof *sum);
    if (!best || !sum) {
        free(best);
        free(sum);
        return vae_fail(err, "out of memory");
    }
    double total = 0;
    int rc = VAE_OK;
    for (int start = 0; start < n && rc == VAE_OK; start += chunk) {
        int b = n - start < chunk ? n - start : chunk;
        const float *x = m->xbatch;
        vae_dataset_read(data, NULL, start, b, m->xbatch, &bin);
        if ((rc = encode_rows(m, x, b, 0, err))) break;
        for (int r = 0; r < b; r++) best[r] = -INFINITY, sum[r] = 0;
        for (int j = 0; j < k && rc == VAE_OK; j++) {
            /* log w = log p(x|z) + log p(z) - log q(z|x); the 2 pi terms cancel */
            for (int i = 0; i < b * L; i++) {
                m->eps[i] = vae_rng_normal(&rng);
                m->z[i] = m->mu[i] + m->sigma[i] * m->eps[i];
            }
            if ((rc = decode_rows(m, m->z, b, 0, m->xhat, m->logvar, NULL, err))) break;
            if ((rc = vae_likelihood_eval(&la, x, b, m->xhat, m->logvar, b, D, m->nll, NULL,
                                          NULL, 0, NULL, err)))
                break;
            for (int r = 0; r < b; r++) {
                double lw = -m->nll[r];
                for (int t = 0; t < L; t++) {
                    size_t i = (size_t)r * L + t;
                    lw += -0.5 * m->z[i] * m->z[i] + 0.5 * m->eps[i] * m->eps[i] + m->log_sigma[i];
                }
                /* running log-sum-exp: sum holds sum exp(lw - best) */
                if (lw > best[r]) {
                    sum[r] = sum[r] * exp(best[r] - lw) + 1.0;
                    best[r] = lw;
                } else {
                    sum[r] += exp(lw - best[r]);
                }
            }
        }
        for (int r = 0; r < b && rc == VAE_OK; r++) total += best[r] + log(sum[r] / k);
        if (rc == VAE_OK && on_chunk && on_chunk(ctx, start + b, n) && start + b < n)
            rc = vae_fail(err, "log p(x): stopped after %d rows", start + b);
    }
    free(best);
    free(sum);
    if (rc == VAE_OK) *mean_logpx = total / n;
    return rc;
}

static int check_shape(const vae_mat *a, int rows, int cols, const char *what, vae_error *err)
{
    if (!a || a->rows != rows || a->cols != cols)
        return vae_fail(err, "%s: expected a %d x %d matrix, got %d x %d", what, rows, cols,
                        a ? a->rows : 0, a ? a->cols : 0);
    return VAE_OK;
}

int vae_encode(vae_model *m, const vae_dataset *x, vae_mat *mu, vae_mat *sigma, vae_error *err)
{
    const int L = m->cfg.latent;
    vae_rng bin;
    vae_rng_seed(&bin, m->cfg.seed, VAE_STREAM_EVAL_BINARIZE);
    if (vae_check_data(m, x, "encode input", err) || check_shape(mu, x->rows, L, "encode mean", err) ||
        (sigma && check_shape(sigma, x->rows, L, "encode sigma", err)))
        return VAE_FAIL;
    int chunk = x->rows < EVAL_CHUNK ? x->rows : EVAL_CHUNK;
    if (ensure_rows(m, chunk, err)) return VAE_FAIL;
    for (int start = 0; start < x->rows; start += chunk) {
        int b = x->rows - start < chunk ? x->rows - start : chunk;
        vae_dataset_read(x, NULL, start, b, m->xbatch, &bin);
        if (encode_rows(m, m->xbatch, b, 0, err)) return VAE_FAIL;
        memcpy(mu->v + (size_t)start * L, m->mu, (size_t)b * L * sizeof(float));
        if (sigma) memcpy(sigma->v + (size_t)start * L, m->sigma, (size_t)b * L * sizeof(float));
    }
    return VAE_OK;
}

int vae_decode(vae_model *m, const vae_mat *z, vae_mat *out, vae_error *err)
{
    const int L = m->cfg.latent, D = m->cfg.input;
    if (!z || z->cols != L || z->rows < 1)
        return vae_fail(err, "decode input: expected n x %d (latent), got %d x %d", L,
                        z ? z->rows : 0, z ? z->cols : 0);
    if (check_shape(out, z->rows, D, "decode output", err)) return VAE_FAIL;
    for (size_t i = 0; i < (size_t)z->rows * L; i++)
        if (!isfinite(z->v[i])) return vae_fail(err, "decode input: value %zu is not finite", i + 1);
    int chunk = z->rows < EVAL_CHUNK ? z->rows : EVAL_CHUNK;
    if (ensure_rows(m, chunk, err)) return VAE_FAIL;
    for (int start = 0; start < z->rows; start += chunk) {
        int b = z->rows - start < chunk ? z->rows - start : chunk;
        if (decode_rows(m, z->v + (size_t)start * L, b, 0, m->xhat, m->logvar, NULL, err))
            return VAE_FAIL;
        memcpy(out->v + (size_t)start * D, m->xhat, (size_t)b * D * sizeof(float));
    }
    return VAE_OK;
}

int vae_reconstruct(vae_model *m, const vae_dataset *x, vae_mat *out, vae_error *err)
{
    vae_mat *mu = vae_mat_new(x ? x->rows : 0, m->cfg.latent);
    if (!mu) return vae_fail(err, "out of memory");
    int rc = vae_encode(m, x, mu, NULL, err);
    if (rc == VAE_OK) rc = vae_decode(m, mu, out, err);
    vae_mat_free(mu);
    return rc;
}

int vae_sample(vae_model *m, vae_mat *out, vae_error *err)
{
    if (!out || out->rows < 1) return vae_fail(err, "sample: need at least one row");
    vae_mat *z = vae_mat_new(out->rows, m->cfg.latent);
    if (!z) return vae_fail(err, "out of memory");
    for (size_t i = 0; i < (size_t)z->rows * z->cols; i++)
        z->v[i] = vae_rng_normal(&m->rng[VAE_STREAM_SAMPLE]);
    int rc = vae_decode(m, z, out, err);
    vae_mat_free(z);
    return rc;
}
