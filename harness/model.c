#include "model.h"

#include <limits.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../backends/pool.h" /* the shared thread pool and Bernoulli product (log p(x)) */

/* ---------- a stack of layers and their outputs ---------- */

#define NET_MAX (2 * VAE_MAX_HIDDEN + 1) /* dense + dropout per hidden layer, an output */

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
    for (int k = 0; k < 2 && s->n > 1; k++) { /* only between layers */
        vae_free(s->grad[k]);
        if (!(s->grad[k] = vae_alloc((size_t)rows * s->width))) return VAE_FAIL;
    }
    return VAE_OK;
}

/* Outputs for `rows` rows, for forward passes only (the gradients keep their
 * size); the old buffers stay until every new one is had. */
static int net_grow_out(net *s, int rows)
{
    float *out[NET_MAX];
    for (int i = 0; i < s->n; i++)
        if (!(out[i] = vae_alloc((size_t)rows * s->layer[i]->n_out))) {
            while (i--) vae_free(out[i]);
            return VAE_FAIL;
        }
    for (int i = 0; i < s->n; i++) {
        vae_free(s->out[i]);
        s->out[i] = out[i];
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
/* The last layer's output buffer (the net must have layers). */
static const float *net_out(const net *s) { return s->out[s->n - 1]; }

/* ---------- the model ---------- */

struct vae_model {
    vae_config cfg;                /* finished */
    net enc, dec;                  /* trunks (dense + dropout) */
    net enc_mean, enc_var;         /* heads: hidden layers, then a linear output of latent
                                      width; enc_var is empty for the shared head */
    net dec_mean, dec_var;         /* the mean ends in cfg.output_act; dec_var (log-variance,
                                      linear) only for gaussian_logvar(_mean) */
    float *shared_raw, *noise_raw; /* views of learned scalars (NULL if absent); noise_raw
                                      has n_noise entries (D with noise_per_feature) */
    int n_noise;
    double *dnoise;                /* (n_noise) the likelihood's d nll / d rho */

    size_t n_params;
    float *params, *grads, *adam_m, *adam_v; /* one flat arena each */
    vae_train_state state;

    int cap;  /* encoder rows the buffers hold; decoder rows are cap * K */
    int dec_rows; /* rows the decoder nets' outputs hold: cap * K, or more for log p(x) */
    float *sigma, *log_sigma, *dsigma, *dmu, *dsig; /* (cap x L) */
    float *eps, *z, *dz;                    /* (cap K x L) */
    float *dout, *dlogvar;                  /* (cap K x D) */
    float *dh_enc, *tmp_enc;                /* (cap x enc width) */
    float *dh_dec, *tmp_dec;                /* (cap K x dec width) */
    double *nll, *kl;                       /* (cap K), (cap) */
    float *xbatch;                          /* (cap x D) */
};

const vae_config *vae_model_config(const vae_model *m) { return &m->cfg; }
vae_train_state *vae_model_state(vae_model *m) { return &m->state; }

float vae_kl_weight(const vae_model *m, int epoch)
{
    if (!m->cfg.kl) return 0.0f;
    if (m->cfg.warmup <= 0 || epoch < 0 || epoch + 1 >= m->cfg.warmup) return m->cfg.beta;
    return m->cfg.beta * (float)(epoch + 1) / (float)m->cfg.warmup;
}

/* Every net of the model, in the fixed order parameters are laid out and
 * initialised in: encoder trunk, its heads, decoder trunk, its heads. */
static int model_nets(vae_model *m, net **out)
{
    net *all[] = { &m->enc, &m->enc_mean, &m->enc_var, &m->dec, &m->dec_mean, &m->dec_var };
    for (int i = 0; i < 6; i++) out[i] = all[i];
    return 6;
}

static void free_buffers(vae_model *m)
{
    float **fs[] = { &m->sigma, &m->log_sigma, &m->dsigma, &m->dmu, &m->dsig, &m->eps, &m->z,
                     &m->dz, &m->dout, &m->dlogvar, &m->dh_enc, &m->tmp_enc, &m->dh_dec,
                     &m->tmp_dec, &m->xbatch };
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
        vae_free(*fs[i]);
        *fs[i] = NULL;
    }
    free(m->nll);
    free(m->kl);
    m->nll = m->kl = NULL;
    m->cap = m->dec_rows = 0;
}

/* Makes every buffer hold at least `rows` encoder rows (rows * K decoder rows). */
static int ensure_rows(vae_model *m, int rows, vae_error *err)
{
    if (rows <= m->cap) return VAE_OK;
    const vae_config *c = &m->cfg;
    if ((size_t)rows * (size_t)c->samples > INT_MAX) /* decoder rows are ints */
        return vae_fail(err, "a batch of %d rows with %d samples each is too large", rows,
                        c->samples);
    free_buffers(m);
    size_t R = (size_t)rows, RK = R * c->samples, L = c->latent, D = c->input;
    size_t He = (size_t)m->enc.width, Hd = (size_t)m->dec.width;
    int ok = 1;
#define ALLOC(p, n) ok = ok && ((p) = vae_alloc(n)) != NULL
    ALLOC(m->sigma, R * L); ALLOC(m->log_sigma, R * L); ALLOC(m->dsigma, R * L);
    ALLOC(m->dmu, R * L); ALLOC(m->dsig, R * L);
    ALLOC(m->eps, RK * L); ALLOC(m->z, RK * L); ALLOC(m->dz, RK * L);
    ALLOC(m->dout, RK * D); ALLOC(m->dlogvar, RK * D);
    ALLOC(m->dh_enc, R * He); ALLOC(m->tmp_enc, R * He);
    ALLOC(m->dh_dec, RK * Hd); ALLOC(m->tmp_dec, RK * Hd);
    ALLOC(m->xbatch, R * D);
#undef ALLOC
    ok = ok && (m->nll = calloc(RK, sizeof *m->nll)) && (m->kl = calloc(R, sizeof *m->kl));
    net *nets[6];
    model_nets(m, nets);
    for (int i = 0; i < 6; i++) /* the decoder's nets (from index 3) see K rows per example */
        ok = ok && net_alloc(nets[i], (int)(i < 3 ? R : RK)) == VAE_OK;
    if (!ok) {
        free_buffers(m);
        return vae_fail(err, "out of memory for a batch of %d rows", rows);
    }
    m->cap = rows;
    m->dec_rows = (int)RK;
    return VAE_OK;
}

/* Dense layers of a stack (each followed by dropout when rate > 0) onto s;
 * *w is the input width on entry and the output width on return. */
static int add_stack(net *s, int *w, const vae_stack *st, float rate, vae_rng *drop,
                     const vae_backend *be)
{
    for (int i = 0; i < st->n; i++) {
        if (net_add(s, vae_dense_new(*w, st->width[i], st->act[i], be))) return VAE_FAIL;
        *w = st->width[i];
        if (rate > 0 && net_add(s, vae_dropout_new(*w, rate, drop))) return VAE_FAIL;
    }
    return VAE_OK;
}

/* A head: its own hidden layers on the trunk's output (width w), then its output layer. */
static int add_head(net *s, int w, const vae_stack *st, int n_out, vae_act act,
                    const vae_backend *be)
{
    s->width = w;
    if (add_stack(s, &w, st, 0.0f, NULL, be)) return VAE_FAIL;
    return net_add(s, vae_dense_new(w, n_out, act, be));
}

static int build(vae_model *m, vae_error *err)
{
    const vae_config *c = &m->cfg;
    const vae_backend *be = c->backend;
    vae_rng *drop = &m->state.rng[VAE_STREAM_DROPOUT];
    int w = m->enc.width = c->input;
    if (add_stack(&m->enc, &w, &c->enc, c->enc_dropout, drop, be) ||
        add_head(&m->enc_mean, w, &c->enc_mean, c->latent, VAE_ACT_LINEAR, be) ||
        (c->head != VAE_HEAD_SHARED &&
         add_head(&m->enc_var, w, &c->enc_var, c->latent, VAE_ACT_LINEAR, be)))
        return vae_fail(err, "out of memory building the model");
    /* the data is mostly zero on image sets: the first layer may read only its nonzeros */
    if (m->enc.n) vae_dense_sparse_input(m->enc.layer[0]);
    w = m->dec.width = c->latent;
    if (add_stack(&m->dec, &w, &c->dec, c->dec_dropout, drop, be) ||
        add_head(&m->dec_mean, w, &c->dec_mean, c->input, c->output_act, be) ||
        (vae_likelihood_has_logvar(c->likelihood) &&
         add_head(&m->dec_var, w, &c->dec_var, c->input, VAE_ACT_LINEAR, be)))
        return vae_fail(err, "out of memory building the model");
    return VAE_OK;
}

/* The parameters a stack of dense layers from width *w holds (W and b each). */
static double stack_params(const vae_stack *s, int *w)
{
    double n = 0;
    for (int i = 0; i < s->n; i++) {
        n += (double)*w * s->width[i] + s->width[i];
        *w = s->width[i];
    }
    return n;
}

static double head_params(const vae_stack *s, int w, int out)
{
    double n = stack_params(s, &w);
    return n + (double)w * out + out;
}

/* The learned noise variances: one, one per feature, or none. */
static int noise_count(const vae_config *c)
{
    if (c->likelihood != VAE_LIK_GAUSSIAN_LEARNED) return 0;
    return c->noise_per_feature ? c->input : 1;
}

/* The same rules as build(): which heads exist and how many learned scalars. */
double vae_config_param_count(const vae_config *c)
{
    int w = c->input;
    double n = stack_params(&c->enc, &w);
    n += head_params(&c->enc_mean, w, c->latent);
    if (c->head != VAE_HEAD_SHARED) n += head_params(&c->enc_var, w, c->latent);
    else n += 1; /* the shared posterior variance */
    w = c->latent;
    n += stack_params(&c->dec, &w);
    n += head_params(&c->dec_mean, w, c->input);
    if (vae_likelihood_has_logvar(c->likelihood)) n += head_params(&c->dec_var, w, c->input);
    return n + noise_count(c);
}

vae_model *vae_model_new(const vae_config *c, vae_error *err)
{
    vae_config cfg = *c;
    if (vae_config_finish(&cfg, err)) return NULL;
    char why[160];
    if (!vae_backend_usable(cfg.backend, why, sizeof why)) {
        vae_fail(err, "key 'backend': '%s' is not usable here: %s", cfg.backend->name, why);
        return NULL;
    }
    if (!vae_backend_precision_usable(cfg.backend, cfg.precision, why, sizeof why)) {
        char with[256] = "none";
        size_t used = 0;
        for (int i = 0; i < vae_backend_count(); i++) {
            char w[160];
            const vae_backend *be = vae_backend_at(i);
            if (!vae_backend_precision_usable(be, cfg.precision, w, sizeof w)) continue;
            int k = snprintf(with + used, sizeof with - used, "%s%s", used ? ", " : "", be->name);
            if (k > 0 && (size_t)k < sizeof with - used) used += (size_t)k;
        }
        vae_fail(err, "key 'precision': backend '%s' declines '%s': %s (backends that run it "
                      "here: %s)", cfg.backend->name, vae_precision_names[cfg.precision], why, with);
        return NULL;
    }
    vae_model *m = calloc(1, sizeof *m);
    if (!m) {
        vae_fail(err, "out of memory");
        return NULL;
    }
    m->cfg = cfg;
    for (int s = 1; s < VAE_STREAM_COUNT; s++)
        vae_rng_seed(&m->state.rng[s], cfg.seed, (uint64_t)s);
    if (build(m, err)) goto fail;

    net *nets[6];
    model_nets(m, nets);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < nets[i]->n; j++) vae_dense_set_precision(nets[i]->layer[j], cfg.precision);

    size_t n = 0;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < nets[i]->n; j++) n += nets[i]->layer[j]->n_params;
    int has_shared = cfg.head == VAE_HEAD_SHARED;
    int has_noise = cfg.likelihood == VAE_LIK_GAUSSIAN_LEARNED;
    m->n_noise = noise_count(&cfg);
    n += (size_t)has_shared + (size_t)m->n_noise;
    if ((double)n != vae_config_param_count(&cfg)) { /* the two derivations must agree */
        vae_fail(err, "internal: %zu parameters built, %.0f counted", n, vae_config_param_count(&cfg));
        goto fail;
    }
    m->n_params = n;
    if (!(m->params = vae_alloc(n)) || !(m->grads = vae_alloc(n)) ||
        !(m->adam_m = vae_alloc(n)) || !(m->adam_v = vae_alloc(n))) {
        vae_fail(err, "out of memory for %zu parameters", n);
        goto fail;
    }
    size_t off = 0;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < nets[i]->n; j++) {
            vae_layer *l = nets[i]->layer[j];
            if (!l->n_params) continue; /* dropout */
            vae_layer_bind(l, m->params + off, m->grads + off);
            vae_dense_init(l, cfg.init, cfg.init_magnitude, &m->state.rng[VAE_STREAM_INIT]);
            off += l->n_params;
        }
    if (has_shared) {
        m->shared_raw = m->params + off++;
        *m->shared_raw = vae_softplus_inverse(cfg.posterior_var);
    }
    if (has_noise) {
        m->noise_raw = m->params + off;
        for (int j = 0; j < m->n_noise; j++) m->noise_raw[j] = vae_softplus_inverse(cfg.noise_var);
        off += (size_t)m->n_noise;
        if (!(m->dnoise = calloc((size_t)m->n_noise, sizeof *m->dnoise))) {
            vae_fail(err, "out of memory");
            goto fail;
        }
    }
    return m;
fail:
    vae_model_free(m);
    return NULL;
}

void vae_model_free(vae_model *m)
{
    if (!m) return;
    net *nets[6];
    model_nets(m, nets);
    for (int i = 0; i < 6; i++) net_free(nets[i]);
    free_buffers(m);
    vae_free(m->params);
    vae_free(m->grads);
    vae_free(m->adam_m);
    vae_free(m->adam_v);
    free(m->state.order);
    free(m->dnoise);
    free(m);
}

float *vae_model_params(vae_model *m, size_t *n)
{
    if (n) *n = m->n_params;
    return m->params;
}
/* The parameter arena's blocks in layout order (every layer with parameters,
 * then the learned scalars): a checkpoint records and checks them. */
int vae_model_layout(const vae_model *m, size_t *sizes, int cap)
{
    net *nets[6];
    model_nets((vae_model *)m, nets);
    int k = 0;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < nets[i]->n; j++)
            if (nets[i]->layer[j]->n_params) {
                if (k < cap) sizes[k] = nets[i]->layer[j]->n_params;
                k++;
            }
    size_t scalars[2] = { m->shared_raw ? 1 : 0, (size_t)m->n_noise };
    for (int s = 0; s < 2; s++) {
        if (!scalars[s]) continue;
        if (k < cap) sizes[k] = scalars[s];
        k++;
    }
    return k;
}
float *vae_model_grads(vae_model *m) { return m->grads; }
void vae_model_adam(vae_model *m, float **mom1, float **mom2)
{
    *mom1 = m->adam_m;
    *mom2 = m->adam_v;
}
void vae_model_zero_grads(vae_model *m) { memset(m->grads, 0, m->n_params * sizeof(float)); }

float vae_model_posterior_var(const vae_model *m)
{
    return m->shared_raw ? (float)vae_softplus(*m->shared_raw) : NAN;
}
float vae_model_noise_var(const vae_model *m)
{
    return m->noise_raw && m->n_noise == 1 ? (float)vae_softplus(*m->noise_raw) : NAN;
}

int vae_model_noise_vars(const vae_model *m, float *out)
{
    for (int j = 0; out && j < m->n_noise; j++) out[j] = (float)vae_softplus(m->noise_raw[j]);
    return m->n_noise;
}

static vae_lik_args lik_args(const vae_model *m)
{
    vae_lik_args a = { m->cfg.likelihood, m->cfg.backend, m->cfg.clamp_eps, m->cfg.noise_var,
                       m->noise_raw ? *m->noise_raw : 0.0f,
                       m->n_noise > 1 ? m->noise_raw : NULL };
    return a;
}

/* The head outputs of the last forward pass. */
static const float *enc_mu(const vae_model *m) { return net_out(&m->enc_mean); }
static const float *dec_mean(const vae_model *m) { return net_out(&m->dec_mean); }
static const float *dec_logvar(const vae_model *m)
{
    return m->dec_var.n ? net_out(&m->dec_var) : NULL;
}

/* Encoder trunk and heads in the given mode: the mean head's output, and sigma,
 * log_sigma, dsigma from the variance head (or the shared variance). */
static int encode_rows(vae_model *m, const float *x, int B, int training, vae_error *err)
{
    const float *h = net_forward(&m->enc, x, B, training, err), *raw = NULL;
    if (!h || !net_forward(&m->enc_mean, h, B, training, err)) return VAE_FAIL;
    if (m->enc_var.n && !(raw = net_forward(&m->enc_var, h, B, training, err))) return VAE_FAIL;
    vae_head_sigma(m->cfg.head, raw, m->shared_raw ? *m->shared_raw : 0.0f,
                   B * m->cfg.latent, m->sigma, m->log_sigma, m->dsigma);
    return VAE_OK;
}

/* Decoder trunk and heads: z (rows x L) -> mean [+ log-variance] (rows x D).
 * *h_out (nullable) gets the trunk's output, which the heads' backward reads. */
static int decode_rows(vae_model *m, const float *z, int rows, int training,
                       const float **h_out, vae_error *err)
{
    const float *h = net_forward(&m->dec, z, rows, training, err);
    if (!h || !net_forward(&m->dec_mean, h, rows, training, err)) return VAE_FAIL;
    if (m->dec_var.n && !net_forward(&m->dec_var, h, rows, training, err)) return VAE_FAIL;
    if (h_out) *h_out = h;
    return VAE_OK;
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
    const int L = c->latent, D = c->input, K = c->samples;
    if (ensure_rows(m, B, err)) return VAE_FAIL; /* refuses B * K past INT_MAX */
    const int RK = B * K;

    /* forward: encoder, reparameterisation, decoder, likelihood, KL */
    if (encode_rows(m, x, B, training, err)) return VAE_FAIL;
    const float *mu = enc_mu(m);
    vae_reparam_forward(mu, m->sigma, B, L, K, &m->state.rng[VAE_STREAM_NOISE], m->eps, m->z);
    const float *h_dec;
    if (decode_rows(m, m->z, RK, training, &h_dec, err)) return VAE_FAIL;
    vae_lik_args la = lik_args(m);
    if (m->dnoise) memset(m->dnoise, 0, (size_t)m->n_noise * sizeof *m->dnoise);
    if (vae_likelihood_eval(&la, x, B, dec_mean(m), dec_logvar(m), RK, D, m->nll, m->dout,
                            m->dlogvar, 1.0f / (float)RK, m->dnoise, err))
        return VAE_FAIL;
    memset(m->dmu, 0, (size_t)B * L * sizeof(float));
    memset(m->dsig, 0, (size_t)B * L * sizeof(float));
    /* free bits: the objective's KL is sum_j max(lambda, KL_j); out->kl stays the true KL */
    const int fb = c->free_bits > 0.0f;
    vae_kl_normal(mu, m->sigma, m->log_sigma, B, L, m->kl, fb ? NULL : m->dmu,
                  fb ? NULL : m->dsig, kl_weight / (float)B);
    double recon = 0.0, kl = 0.0;
    for (int r = 0; r < RK; r++) recon += m->nll[r];
    for (int r = 0; r < B; r++) kl += m->kl[r];
    out->recon = recon / RK;
    out->kl = kl / B;
    out->kl_weight = kl_weight;
    const double kl_obj = fb ? vae_kl_free_bits(mu, m->sigma, m->log_sigma, B, L, c->free_bits,
                                                NULL, m->dmu, m->dsig, kl_weight / (float)B)
                             : out->kl;
    out->loss = out->recon + kl_weight * kl_obj;
    if (!isfinite(out->loss)) return vae_fail(err, "loss is not finite (%g)", out->loss);

    /* backward: decoder heads, decoder trunk, reparameterisation, encoder heads, trunk */
    const int Hd = net_out_width(&m->dec), He = net_out_width(&m->enc);
    if (net_backward(&m->dec_mean, h_dec, m->dout, m->dh_dec, RK, err)) return VAE_FAIL;
    if (m->dec_var.n) {
        if (net_backward(&m->dec_var, h_dec, m->dlogvar, m->tmp_dec, RK, err)) return VAE_FAIL;
        add_into(m->dh_dec, m->tmp_dec, (size_t)RK * Hd);
    }
    if (net_backward(&m->dec, m->z, m->dh_dec, m->dz, RK, err)) return VAE_FAIL;
    vae_reparam_backward(m->dz, m->eps, B, L, K, m->dmu, m->dsig);
    const float *h_enc = m->enc.n ? net_out(&m->enc) : x;
    float *dh = m->enc.n ? m->dh_enc : NULL; /* no input gradient needed for the data */
    if (net_backward(&m->enc_mean, h_enc, m->dmu, dh, B, err)) return VAE_FAIL;
    if (m->enc_var.n) {
        for (int i = 0; i < B * L; i++) m->dsig[i] *= m->dsigma[i]; /* now d/d raw */
        if (net_backward(&m->enc_var, h_enc, m->dsig, dh ? m->tmp_enc : NULL, B, err))
            return VAE_FAIL;
        if (dh) add_into(dh, m->tmp_enc, (size_t)B * He);
    } else {
        double g = 0.0;
        for (int i = 0; i < B * L; i++) g += (double)m->dsig[i] * m->dsigma[i];
        m->grads[m->shared_raw - m->params] += (float)g;
    }
    for (int j = 0; j < m->n_noise; j++) m->grads[m->noise_raw - m->params + j] += (float)m->dnoise[j];
    if (dh && net_backward(&m->enc, x, dh, NULL, B, err)) return VAE_FAIL;
    return VAE_OK;
}

int vae_check_data(const vae_model *m, const vae_dataset *data, const char *what,
                   vae_error *err)
{
    return vae_dataset_check(data, m->cfg.input, what, err);
}

/* The rows of the model's batch buffer, filled from data (training reads its
 * batches here too). */
float *vae_model_batch(vae_model *m, int rows, vae_error *err)
{
    return ensure_rows(m, rows, err) ? NULL : m->xbatch;
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
    /* free bits: per-dim KL sums over the whole data, floored at the end */
    const int fb = m->cfg.free_bits > 0.0f;
    double *kl_dim = fb ? calloc((size_t)2 * L, sizeof *kl_dim) : NULL;
    if (fb && !kl_dim) return vae_fail(err, "evaluation: out of memory");
    for (int start = 0; start < n; start += chunk) {
        int b = n - start < chunk ? n - start : chunk;
        const float *x = m->xbatch;
        vae_dataset_read(data, NULL, start, b, m->xbatch, &bin);
        if (encode_rows(m, x, b, 0, err)) { free(kl_dim); return VAE_FAIL; }
        vae_reparam_forward(enc_mu(m), m->sigma, b, L, K, &rng, m->eps, m->z);
        if (decode_rows(m, m->z, b * K, 0, NULL, err)) { free(kl_dim); return VAE_FAIL; }
        if (vae_likelihood_eval(&la, x, b, dec_mean(m), dec_logvar(m), b * K, D, m->nll, NULL,
                                NULL, 0, NULL, err))
            { free(kl_dim); return VAE_FAIL; }
        vae_kl_normal(enc_mu(m), m->sigma, m->log_sigma, b, L, m->kl, NULL, NULL, 0);
        for (int r = 0; r < b * K; r++) recon += m->nll[r] / K;
        for (int r = 0; r < b; r++) kl += m->kl[r];
        if (fb) {
            vae_kl_free_bits(enc_mu(m), m->sigma, m->log_sigma, b, L, 0.0f, kl_dim + L, NULL,
                             NULL, 0.0f);
            for (int j = 0; j < L; j++) kl_dim[j] += kl_dim[L + j] * b;
        }
    }
    out->recon = recon / n;
    out->kl = kl / n;
    out->kl_weight = w;
    double kl_obj = out->kl;
    if (fb) {
        kl_obj = 0.0;
        for (int j = 0; j < L; j++)
            kl_obj += kl_dim[j] / n > m->cfg.free_bits ? kl_dim[j] / n : m->cfg.free_bits;
        free(kl_dim);
    }
    out->loss = out->recon + w * kl_obj;
    return VAE_OK;
}

/* ---------- the importance-weighted log p(x) ----------
 * log p(x) ~ log (1/k) sum_j w_j, w_j = p(x|z_j) p(z_j) / q(z_j|x), z_j ~ q(z|x).
 * With k = 1000 on MNIST's 10000 test images that is 10^7 decoder passes, whose
 * products (6.4 TFLOP for the classic 784-400-20 model) are nearly all the work;
 * the rest is arranged so that little else is left:
 *  - the samples of a chunk are decoded LL_STACK at a time, as one batch of
 *    LL_STACK * b rows (fewer calls, and fewer thread wake-ups for everything else);
 *  - they are drawn in the order one-at-a-time drawing takes them (sample j of a
 *    chunk is the j-th run of b L normals of the stream: vae_reparam_forward with
 *    K = the stack), by vae_rng_normals, which makes them in vectors;
 *  - the likelihood, log w and the running log-sum-exp are one pass over the
 *    decoder's outputs, split by data row. The Bernoulli likelihood there is one
 *    product per row (pool.h) when the backend has a likelihood of its own (the
 *    naive backend, and the other likelihoods, take vae_likelihood_eval's).
 * Each value is computed by one part, in one order, whatever the number of parts,
 * so the estimate does not depend on the thread count. */

/* LL_STACK divides LL_SAMPLE_CHUNK: progress comes after the same samples */
enum { LL_SAMPLE_CHUNK = 256, LL_STACK = 4 };

/* Makes the decoder nets' outputs hold `rows` rows, for evaluation-mode passes
 * only (their gradients stay at cap * K rows); ensure_rows resets them. */
static int ensure_decoder_rows(vae_model *m, int rows, vae_error *err)
{
    if (rows <= m->dec_rows) return VAE_OK;
    net *nets[6];
    model_nets(m, nets);
    for (int i = 3; i < 6; i++) /* the decoder's nets */
        if (net_grow_out(nets[i], rows))
            return vae_fail(err, "log p(x): out of memory for %d decoder rows", rows);
    m->dec_rows = rows;
    return VAE_OK;
}

/* Threads for the pass over the outputs: the process's count (backend.h), on the
 * pool, when the backend runs its own element-wise passes there (its likelihood
 * slot is the pool's: avx2, openblas). A backend whose threads are an OpenMP
 * team (onednn) has them spin between its calls, on the cores the pool's threads
 * would share, so there the pass stays on the calling thread (measured on 2
 * cores, 500 MNIST rows at k = 1000: 1.23 s with one part, 1.60 s with two). */
static int ll_threads(const vae_backend *be)
{
    if (be->bernoulli_nll != vae_pool_bernoulli) return 1;
    return vae_threads() > 0 ? vae_threads() : vae_pool_all_cores();
}

/* One pass over a stack of s samples of the chunk's b rows: for data row r,
 * sample t is decoder row t b + r. */
typedef struct ll_job {
    const float *out;          /* the decoder outputs (s b x D) */
    const double *nll;         /* (s b) the likelihood, or NULL: the Bernoulli product */
    const float *z, *eps, *log_sigma; /* (s b x L) twice, (b x L) */
    const vae_bce_clamp *clamp;
    int renorm;
    const uint8_t *ones;       /* (b x vae_bce_ones_bytes(D)) the pixels at 1 */
    const int *grey_col, *grey_at; /* row r's grey pixels: columns grey_at[r] .. grey_at[r + 1] */
    const float *grey_t;
    double *best, *sum;        /* (b) the running log-sum-exp: sum of exp(log w - best) */
    int b, s, D, L, parts;
} ll_job;

static void ll_rows(void *arg, int part)
{
    const ll_job *j = arg;
    const int L = j->L, D = j->D;
    const int r0 = (int)((long)j->b * part / j->parts), r1 = (int)((long)j->b * (part + 1) / j->parts);
    /* sample by sample, each over the part's rows: the outputs and the grey lists
     * are read in order (the lists of a chunk, a few hundred KB, stay in cache),
     * and each row's sum still takes its samples in order */
    for (int t = 0; t < j->s; t++)
        for (int r = r0; r < r1; r++) {
            const size_t row = (size_t)t * j->b + r;
            /* log w = log p(x|z) + log p(z) - log q(z|x); the 2 pi terms cancel */
            double lw = j->nll ? -j->nll[row]
                               : -vae_bce_product_nll(j->ones + (size_t)r * vae_bce_ones_bytes(D),
                                                      j->out + row * D, D, j->clamp, j->renorm,
                                                      j->grey_col + j->grey_at[r],
                                                      j->grey_t + j->grey_at[r],
                                                      j->grey_at[r + 1] - j->grey_at[r]);
            for (int q = 0; q < L; q++) {
                const size_t i = row * L + q;
                lw += -0.5 * j->z[i] * j->z[i] + 0.5 * j->eps[i] * j->eps[i] +
                      j->log_sigma[(size_t)r * L + q];
            }
            if (lw > j->best[r]) {
                j->sum[r] = j->sum[r] * exp(j->best[r] - lw) + 1.0;
                j->best[r] = lw;
            } else {
                j->sum[r] += exp(lw - j->best[r]);
            }
        }
}

/* the parts of a pass over rows of D values: one below about 50 us of work, where
 * waking a thread costs more than it saves */
static int ll_parts(const vae_backend *be, int rows, int D)
{
    const int parts = (double)rows * D < 2e5 ? 1 : ll_threads(be);
    return parts < rows ? parts : rows;
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
    const int chunk = n < EVAL_CHUNK ? n : EVAL_CHUNK, S = k < LL_STACK ? k : LL_STACK;
    if (ensure_rows(m, chunk, err) || ensure_decoder_rows(m, S * chunk, err)) return VAE_FAIL;
    /* the product needs the backend's own likelihood (naive's is the reference) */
    const vae_bce_clamp clamp = vae_bce_clamp_for(m->cfg.clamp_eps);
    const int product = la.kind == VAE_LIK_BERNOULLI && la.backend->bernoulli_nll &&
                        vae_bce_product_usable(&clamp);
    const size_t SBL = (size_t)S * chunk * L;
    double *best = malloc((size_t)chunk * sizeof *best), *sum = malloc((size_t)chunk * sizeof *sum);
    double *nll = product ? NULL : malloc((size_t)S * chunk * sizeof *nll);
    float *eps = malloc(SBL * sizeof *eps), *z = malloc(SBL * sizeof *z);
    uint8_t *ones = product ? malloc((size_t)chunk * vae_bce_ones_bytes(D)) : NULL;
    int *grey_col = product ? malloc((size_t)chunk * (D + 7) * sizeof *grey_col) : NULL;
    int *grey_at = product ? malloc(((size_t)chunk + 1) * sizeof *grey_at) : NULL;
    float *grey_t = product ? malloc((size_t)chunk * (D + 7) * sizeof *grey_t) : NULL;
    int rc = VAE_OK;
    if (!best || !sum || !eps || !z || (product ? !ones || !grey_col || !grey_at || !grey_t : !nll))
        rc = vae_fail(err, "log p(x): out of memory");
    const int renorm = product ? vae_bce_renorm_blocks(&clamp) : 0;
    double total = 0;
    for (int start = 0; start < n && rc == VAE_OK; start += chunk) {
        int b = n - start < chunk ? n - start : chunk;
        const float *x = m->xbatch;
        vae_dataset_read(data, NULL, start, b, m->xbatch, &bin);
        if ((rc = encode_rows(m, x, b, 0, err))) break;
        for (int r = 0; r < b; r++) best[r] = -INFINITY, sum[r] = 0;
        if (product) /* each row's pixels at 1; the grey ones, one list after another */
            for (int r = 0, at = grey_at[0] = 0; r < b; r++)
                grey_at[r + 1] = at += vae_bce_prepare(x + (size_t)r * D, D,
                                                       ones + (size_t)r * vae_bce_ones_bytes(D),
                                                       grey_col + at, grey_t + at);
        for (int j0 = 0; j0 < k && rc == VAE_OK; j0 += S) {
            const int s = k - j0 < S ? k - j0 : S;
            vae_reparam_forward(enc_mu(m), m->sigma, b, L, s, &rng, eps, z);
            if ((rc = decode_rows(m, z, s * b, 0, NULL, err))) break;
            if (!product && (rc = vae_likelihood_eval(&la, x, b, dec_mean(m), dec_logvar(m), s * b,
                                                      D, nll, NULL, NULL, 0, NULL, err)))
                break;
            ll_job lj = { dec_mean(m), nll, z, eps, m->log_sigma, &clamp, renorm, ones,
                          grey_col, grey_at, grey_t, best, sum, b, s, D, L, 1 };
            lj.parts = ll_parts(la.backend, b, s * (D + L));
            if (lj.parts > 1) vae_pool_run(lj.parts, ll_rows, &lj);
            else ll_rows(&lj, 0);
            /* with a large k one chunk of rows takes long: a progress call (rows
             * done, fractionally) every LL_SAMPLE_CHUNK samples, which can stop */
            const int done = j0 + s;
            if (on_chunk && done % LL_SAMPLE_CHUNK == 0 && done < k &&
                on_chunk(ctx, start + (int)((long long)b * done / k), n)) {
                rc = vae_fail(err, "log p(x): stopped after %d rows and %d of %d samples of the "
                                   "next %d", start, done, k, b);
                break;
            }
        }
        for (int r = 0; r < b && rc == VAE_OK; r++) total += best[r] + log(sum[r] / k);
        if (rc == VAE_OK && on_chunk && on_chunk(ctx, start + b, n) && start + b < n)
            rc = vae_fail(err, "log p(x): stopped after %d rows", start + b);
    }
    free(best);
    free(sum);
    free(nll);
    free(eps);
    free(z);
    free(ones);
    free(grey_col);
    free(grey_at);
    free(grey_t);
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
        memcpy(mu->v + (size_t)start * L, enc_mu(m), (size_t)b * L * sizeof(float));
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
        if (decode_rows(m, z->v + (size_t)start * L, b, 0, NULL, err)) return VAE_FAIL;
        memcpy(out->v + (size_t)start * D, dec_mean(m), (size_t)b * D * sizeof(float));
    }
    return VAE_OK;
}

int vae_decode_logvar(vae_model *m, const vae_mat *z, vae_mat *out, vae_error *err)
{
    const int L = m->cfg.latent, D = m->cfg.input;
    if (!m->dec_var.n)
        return vae_fail(err, "decode log-variance: likelihood '%s' has no decoder variance head",
                        vae_likelihood_names[m->cfg.likelihood]);
    if (!z || z->cols != L || z->rows < 1)
        return vae_fail(err, "decode input: expected n x %d (latent), got %d x %d", L,
                        z ? z->rows : 0, z ? z->cols : 0);
    if (check_shape(out, z->rows, D, "decode output", err)) return VAE_FAIL;
    int chunk = z->rows < EVAL_CHUNK ? z->rows : EVAL_CHUNK;
    if (ensure_rows(m, chunk, err)) return VAE_FAIL;
    for (int start = 0; start < z->rows; start += chunk) {
        int b = z->rows - start < chunk ? z->rows - start : chunk;
        if (decode_rows(m, z->v + (size_t)start * L, b, 0, NULL, err)) return VAE_FAIL;
        float *o = out->v + (size_t)start * D;
        memcpy(o, dec_logvar(m), (size_t)b * D * sizeof(float));
        if (m->cfg.likelihood == VAE_LIK_GAUSSIAN_LOGVAR_MEAN)
            for (int r = 0; r < b; r++) { /* the one variance of the row, as the likelihood uses */
                double mean = 0;
                for (int j = 0; j < D; j++) mean += o[(size_t)r * D + j];
                for (int j = 0; j < D; j++) o[(size_t)r * D + j] = (float)(mean / D);
            }
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
        z->v[i] = vae_rng_normal(&m->state.rng[VAE_STREAM_SAMPLE]);
    int rc = vae_decode(m, z, out, err);
    vae_mat_free(z);
    return rc;
}
