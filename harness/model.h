/* The VAE: encoder layers -> heads (mu, sigma) -> z = mu + sigma * eps (K samples)
 * -> decoder layers -> likelihood; loss = recon + w * KL per example, in nats.
 * Reported losses are per example, AVERAGED over the examples of a batch or data
 * set (each example's reconstruction term is summed over its features and
 * averaged over its K samples). Gradients are of that average. */
#ifndef VAE_MODEL_H
#define VAE_MODEL_H

#include <stdint.h>

#include "dataset.h"
#include "layer.h"
#include "likelihood.h"
#include "mat.h"
#include "posterior.h"

#define VAE_MAX_HIDDEN 16

typedef struct vae_config {
    int input, latent;
    int n_enc, enc_width[VAE_MAX_HIDDEN];  /* encoder hidden layers */
    vae_act enc_act[VAE_MAX_HIDDEN];
    int n_dec, dec_width[VAE_MAX_HIDDEN];  /* decoder hidden layers */
    vae_act dec_act[VAE_MAX_HIDDEN];
    vae_act output_act;                    /* on the decoder's mean output */
    vae_head head;
    vae_likelihood likelihood;
    float noise_var;     /* gaussian: the variance; gaussian_learned: its initial value */
    float posterior_var; /* shared head: the initial posterior variance */
    float clamp_eps;     /* (c)Bernoulli output clamp */
    int kl;              /* 0 turns the KL term off: a plain (noisy) autoencoder */
    float beta;          /* KL weight */
    int warmup;          /* KL weight ramps as beta * min(1, (epoch+1)/warmup); 0 = off */
    float enc_dropout, dec_dropout; /* after every hidden layer of that side; 0 = none */
    int samples;         /* K Monte-Carlo samples of z per example */
    vae_init init;
    float init_magnitude;
    const vae_backend *backend;
    int threads;         /* 0 = all cores, for backends that have threads */
    uint64_t seed;
} vae_config;

/* The defaults: a 1-hidden-layer relu VAE, logvar head, Bernoulli, KL on, K = 1,
 * Xavier (magnitude 3), the naive backend. input/latent/widths must still be set. */
void vae_config_default(vae_config *c);
/* Names the first bad field, e.g. "hidden[2]: width must be >= 1 (got -3)". */
int vae_config_check(const vae_config *c, vae_error *err);

typedef struct vae_model vae_model;

vae_model *vae_model_new(const vae_config *c, vae_error *err);
void vae_model_free(vae_model *m);
const vae_config *vae_model_config(const vae_model *m);

typedef struct vae_losses {
    double loss, recon, kl; /* per example, averaged; loss = recon + w * kl */
    double kl_weight;
} vae_losses;

typedef struct vae_train_opts {
    int batch;           /* 0 or >= n: full batch */
    int shuffle;         /* reshuffle the data order every epoch */
    float lr, beta1, beta2, eps; /* Adam */
    /* Called after every step with the epoch's running averages (for progress
     * displays); a nonzero return stops training: the epoch fails with
     * "stopped at epoch E, step S". NULL: no calls. */
    int (*on_step)(void *ctx, int step, int steps, int rows_done, const vae_losses *running);
    void *ctx;
} vae_train_opts;

void vae_train_opts_default(vae_train_opts *o); /* batch 32, shuffle, Adam 1e-3/0.9/0.999/1e-7 */

/* The KL weight in force during a 0-based epoch (epoch < 0: the final weight). */
float vae_kl_weight(const vae_model *m, int epoch);

/* Data comes as a vae_dataset (dataset.h): floats, or bytes scaled per batch,
 * optionally binarised; vae_dataset_floats(matrix) views a matrix as one.
 * Fails unless data has rows, the model's input width and valid values;
 * the message starts with `what` and names the row and column. */
int vae_check_data(const vae_model *m, const vae_dataset *data, const char *what,
                   vae_error *err);

/* One pass over data (n x input) in mini-batches, one Adam step each. The losses
 * are the training-mode averages over the epoch. A non-finite loss fails with an
 * error naming the epoch and step. Dynamic binarisation draws from the model's
 * binarisation stream: a fresh draw every epoch. */
int vae_train_epoch(vae_model *m, const vae_dataset *data, const vae_train_opts *o, int epoch,
                    vae_losses *out, vae_error *err);

/* The -ELBO on data, in evaluation mode (no dropout), with the model's K samples
 * and noise (and binarisation) streams reseeded on every call, so the same model
 * gives the same number. */
int vae_evaluate(vae_model *m, const vae_dataset *data, int epoch, vae_losses *out,
                 vae_error *err);

/* Importance-weighted estimate of the mean log p(x) over data, with k samples
 * per example (Burda et al. 2016). Needs a normalised likelihood. on_chunk
 * (nullable) is called after every chunk of rows with the rows done so far (it
 * can take minutes on MNIST); a nonzero return stops with "stopped after N rows". */
int vae_log_likelihood(vae_model *m, const vae_dataset *data, int k, double *mean_logpx,
                       int (*on_chunk)(void *ctx, int rows_done, int rows), void *ctx,
                       vae_error *err);

/* Evaluation-mode maps. Outputs must be allocated with the right shapes. */
int vae_encode(vae_model *m, const vae_dataset *x, vae_mat *mu, vae_mat *sigma /* nullable */,
               vae_error *err);
int vae_decode(vae_model *m, const vae_mat *z, vae_mat *out, vae_error *err);
int vae_reconstruct(vae_model *m, const vae_dataset *x, vae_mat *out, vae_error *err);
/* out (n x input) = decode(z), z ~ N(0, I) from the model's sampling stream. */
int vae_sample(vae_model *m, vae_mat *out, vae_error *err);

/* For tests and benchmarks: one forward and backward on B rows of x, accumulating
 * parameter gradients (the optimizer zeroes them). */
int vae_model_forward_backward(vae_model *m, const float *x, int B, float kl_weight,
                               int training, vae_losses *out, vae_error *err);
float *vae_model_params(vae_model *m, size_t *n);
float *vae_model_grads(vae_model *m);
void vae_model_zero_grads(vae_model *m);
/* The noise and dropout streams, so a test can replay the same randomness. */
vae_rng *vae_model_rng(vae_model *m, int stream);
/* Learned scalars: the shared posterior variance and the learned noise variance
 * (NaN when the model has no such parameter). */
float vae_model_posterior_var(const vae_model *m);
float vae_model_noise_var(const vae_model *m);

#endif
