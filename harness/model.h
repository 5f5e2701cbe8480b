/* The VAE: encoder trunk -> heads (mean, variance; each a small net of its own)
 * -> z = mu + sigma * eps (K samples) -> decoder trunk -> heads (mean, and the
 * log-variance where the likelihood has one) -> likelihood;
 * loss = recon + w * KL per example, in nats.
 * Reported losses are per example, AVERAGED over the examples of a batch or data
 * set (each example's reconstruction term is summed over its features and
 * averaged over its K samples). Gradients are of that average. */
#ifndef VAE_MODEL_H
#define VAE_MODEL_H

#include <stdint.h>

#include "config.h"
#include "dataset.h"
#include "layer.h"
#include "likelihood.h"
#include "mat.h"
#include "posterior.h"

/* The config (its keys, defaults, checks and text form) is in config.h. */
typedef struct vae_model vae_model;

/* Finishes a copy of c (vae_config_finish) and builds the model; NULL, with
 * the message naming the key, when c is bad or the backend is not usable here. */
vae_model *vae_model_new(const vae_config *c, vae_error *err);
/* The parameter count a finished config builds, without building it (so a
 * checkpoint cannot make the loader allocate what its bytes do not hold). */
double vae_config_param_count(const vae_config *c);
void vae_model_free(vae_model *m);
const vae_config *vae_model_config(const vae_model *m); /* finished */

/* Everything training changes besides the parameters and Adam's moments, in one
 * place (train.c advances it; a checkpoint would save it): a resumed run reads it
 * instead of trusting its caller. */
typedef struct vae_train_state {
    int epoch;     /* epochs completed */
    int step;      /* steps completed within the running epoch (0 between epochs) */
    int partial;   /* an epoch was abandoned after some steps: parameters, Adam, the
                      streams and the order hold part of it (no exact resume point) */
    long adam_t;   /* Adam's step count */
    int *order;    /* the data order of the running epoch (order_n rows) */
    int order_n;
    vae_rng rng[VAE_STREAM_COUNT]; /* every stream the model draws from */
} vae_train_state;

vae_train_state *vae_model_state(vae_model *m);

typedef struct vae_losses {
    double loss, recon, kl; /* per example, averaged; loss = recon + w * kl */
    double kl_weight;
} vae_losses;

/* The KL weight in force during a 0-based epoch (epoch < 0: the final weight). */
float vae_kl_weight(const vae_model *m, int epoch);

/* Data comes as a vae_dataset (dataset.h): floats, or bytes scaled per batch,
 * optionally binarised; vae_dataset_floats(matrix) views a matrix as one.
 * Fails unless data has rows, the model's input width and valid values;
 * the message starts with `what` and names the row and column. */
int vae_check_data(const vae_model *m, const vae_dataset *data, const char *what,
                   vae_error *err);

/* The model's batch buffer, made to hold `rows` rows of input (train.c reads
 * its batches into it); NULL when out of memory. */
float *vae_model_batch(vae_model *m, int rows, vae_error *err);

/* The -ELBO on data, in evaluation mode (no dropout), with the model's K samples
 * and noise (and binarisation) streams reseeded on every call, so the same model
 * gives the same number. */
int vae_evaluate(vae_model *m, const vae_dataset *data, int epoch, vae_losses *out,
                 vae_error *err);

/* Importance-weighted estimate of the mean log p(x) over data, with k samples
 * per example (Burda et al. 2016). Needs a normalised likelihood. on_chunk
 * (nullable) is called after every chunk of rows with the rows done so far (it
 * can take minutes on MNIST), and every 256 samples within a chunk with the rows
 * done counted fractionally; a nonzero return stops with "stopped after N rows". */
int vae_log_likelihood(vae_model *m, const vae_dataset *data, int k, double *mean_logpx,
                       int (*on_chunk)(void *ctx, int rows_done, int rows), void *ctx,
                       vae_error *err);

/* Evaluation-mode maps. Outputs must be allocated with the right shapes. */
int vae_encode(vae_model *m, const vae_dataset *x, vae_mat *mu, vae_mat *sigma /* nullable */,
               vae_error *err);
int vae_decode(vae_model *m, const vae_mat *z, vae_mat *out, vae_error *err);
/* The decoder's log-variance at z (gaussian_logvar; gaussian_logvar_mean: each
 * row's average in every column); fails for a likelihood without that head. */
int vae_decode_logvar(vae_model *m, const vae_mat *z, vae_mat *out, vae_error *err);
int vae_reconstruct(vae_model *m, const vae_dataset *x, vae_mat *out, vae_error *err);
/* out (n x input) = decode(z), z ~ N(0, I) from the model's sampling stream. */
int vae_sample(vae_model *m, vae_mat *out, vae_error *err);

/* One forward and backward on B rows of x, accumulating parameter gradients
 * (the optimizer zeroes them); training mode draws noise and dropout from the
 * model's streams. train.c's step is this, a gradient hook, then Adam. */
int vae_model_forward_backward(vae_model *m, const float *x, int B, float kl_weight,
                               int training, vae_losses *out, vae_error *err);
float *vae_model_params(vae_model *m, size_t *n);
/* The sizes of the parameter arena's blocks in layout order (layers with
 * parameters, then learned scalars); returns the count (sizes gets at most cap). */
int vae_model_layout(const vae_model *m, size_t *sizes, int cap);
float *vae_model_grads(vae_model *m);
/* Adam's first and second moments, one flat arena each like the parameters. */
void vae_model_adam(vae_model *m, float **mom1, float **mom2);
void vae_model_zero_grads(vae_model *m);
/* Learned scalars: the shared posterior variance and the learned noise variance
 * (NaN when the model has no such parameter). */
float vae_model_posterior_var(const vae_model *m);
float vae_model_noise_var(const vae_model *m); /* NaN too with noise_per_feature */
/* The learned noise variances (noise_per_feature: one per feature) into out
 * (nullable); returns how many there are (0 when the model learns none). */
int vae_model_noise_vars(const vae_model *m, float *out);

#endif
