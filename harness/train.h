/* Training: the epoch loop, the validation cadence and per-epoch timing. All the
 * state a run changes (epoch, step, Adam's step count, the data order, every RNG
 * stream) is the model's vae_train_state (model.h): fitting twice continues where
 * the first fit stopped, and epochs are counted over the model's life. */
#ifndef VAE_TRAIN_H
#define VAE_TRAIN_H

#include "model.h"

/* One epoch's record, as the Lua binding's history gives it. */
typedef struct vae_epoch_record {
    int epoch;          /* 1-based, counted over the model's life */
    vae_losses train;   /* training-mode averages over the epoch */
    double seconds;     /* the epoch's training time (validation excluded) */
    int validated;      /* whether val and val_seconds are set */
    vae_losses val;
    double val_seconds;
} vae_epoch_record;

/* Optional calls (NULL: none). A nonzero return from on_step stops training
 * with "stopped at epoch E, step S"; from on_epoch it ends training early, as a
 * success. on_gradients runs between backward and the optimizer on the flat
 * gradient arena (the place for a data-parallel all-reduce); it fails with a
 * message. */
typedef struct vae_train_hooks {
    int (*on_step)(void *ctx, int epoch, int step, int steps, int rows_done,
                   const vae_losses *running);
    int (*on_epoch)(void *ctx, const vae_epoch_record *rec);
    int (*on_gradients)(void *ctx, float *grads, size_t n, vae_error *err);
    void *ctx;
} vae_train_hooks;

/* One step on B rows of x: forward and backward, on_gradients, then Adam. */
int vae_train_step(vae_model *m, const float *x, int B, const vae_train_opts *o,
                   const vae_train_hooks *h, vae_losses *out, vae_error *err);

/* A per-example loss above this stops training as diverged. */
#define VAE_LOSS_LIMIT 1e10

/* One pass over data in mini-batches (the order reshuffled first when
 * o->shuffle), one step each; advances the state's epoch. A non-finite loss
 * fails naming the epoch and step; the failed epoch is not counted. */
int vae_train_epoch(vae_model *m, const vae_dataset *data, const vae_train_opts *o,
                    const vae_train_hooks *h, vae_losses *out, vae_error *err);

/* o->epochs epochs, each followed by the -ELBO on val (nullable) every
 * o->validate_every epochs and after the last, then on_epoch. */
int vae_fit(vae_model *m, const vae_dataset *data, const vae_dataset *val,
            const vae_train_opts *o, const vae_train_hooks *h, vae_error *err);

#endif
