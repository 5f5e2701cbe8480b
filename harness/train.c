#include "train.h"

#include <math.h>
#include <stdlib.h>

#include "clock.h"

static const vae_train_hooks no_hooks = { NULL, NULL, NULL, NULL };

/* Adam over the flat arenas; the bias corrections use the state's step count. */
static void adam_step(vae_model *m, const vae_train_opts *o)
{
    vae_train_state *st = vae_model_state(m);
    st->adam_t++;
    vae_adam_step s = { o->lr, o->beta1, o->beta2, o->eps,
                        (float)(1.0 - pow(o->beta1, (double)st->adam_t)),
                        (float)(1.0 - pow(o->beta2, (double)st->adam_t)) };
    size_t n;
    float *p = vae_model_params(m, &n), *m1, *m2;
    vae_model_adam(m, &m1, &m2);
    vae_profile *prof = vae_profile_active();
    const double t0 = prof ? vae_now_seconds() : 0;
    vae_adam_update(vae_model_config(m)->backend, p, vae_model_grads(m), m1, m2, n, &s);
    if (prof) {
        prof->adam += vae_now_seconds() - t0;
        prof->adam_calls++;
    }
}

int vae_train_step(vae_model *m, const float *x, int B, const vae_train_opts *o,
                   const vae_train_hooks *h, vae_losses *out, vae_error *err)
{
    if (!h) h = &no_hooks;
    const float w = vae_kl_weight(m, vae_model_state(m)->epoch);
    if (vae_model_forward_backward(m, x, B, w, 1, out, err)) return VAE_FAIL;
    if (h->on_gradients) {
        size_t n;
        vae_model_params(m, &n);
        if (h->on_gradients(h->ctx, vae_model_grads(m), n, err)) return VAE_FAIL;
    }
    adam_step(m, o);
    return VAE_OK;
}

/* The state's data order for n rows (the identity when new or resized). */
static int ensure_order(vae_train_state *st, int n, vae_error *err)
{
    if (st->order_n == n) return VAE_OK;
    int *order = malloc((size_t)n * sizeof *order);
    if (!order) return vae_fail(err, "out of memory for the data order");
    free(st->order);
    st->order = order;
    st->order_n = n;
    for (int i = 0; i < n; i++) st->order[i] = i;
    return VAE_OK;
}

/* An epoch given up part-way: the step count goes back to 0, but the order, the
 * streams and (after a step) the parameters hold part of it, so the state is no
 * exact resume point until an epoch completes (checkpoint.c refuses it). */
static void abandon(vae_train_state *st)
{
    st->step = 0;
    st->partial = 1;
}

int vae_train_epoch(vae_model *m, const vae_dataset *data, const vae_train_opts *o,
                    const vae_train_hooks *h, vae_losses *out, vae_error *err)
{
    if (!h) h = &no_hooks;
    if (vae_check_data(m, data, "training data", err) || vae_train_opts_check(o, err))
        return VAE_FAIL;
    vae_train_state *st = vae_model_state(m);
    const int n = data->rows;
    const int B = o->batch <= 0 || o->batch > n ? n : o->batch, steps = (n + B - 1) / B;
    float *xb;
    if (ensure_order(st, n, err) || !(xb = vae_model_batch(m, B, err))) return VAE_FAIL;
    if (o->shuffle) vae_rng_shuffle(&st->rng[VAE_STREAM_ORDER], st->order, n);
    const int epoch = st->epoch + 1; /* 1-based, for messages and hooks */
    double loss = 0, recon = 0, kl = 0;
    st->step = 0;
    for (int start = 0; start < n; start += B) {
        int b = n - start < B ? n - start : B;
        vae_dataset_read(data, st->order + start, 0, b, xb, &st->rng[VAE_STREAM_BINARIZE]);
        vae_losses l;
        vae_error e;
        if (vae_train_step(m, xb, b, o, h, &l, &e)) {
            abandon(st); /* the failed epoch is abandoned */
            return vae_fail(err, "training stopped at epoch %d, step %d: %s", epoch,
                            (start / B) + 1, e.msg);
        }
        /* A divergence can stay finite (lr = 1 takes s-curve config A to 1e26 nats
         * in its first epoch): no model here reaches this loss per example. */
        if (!(fabs(l.loss) <= VAE_LOSS_LIMIT)) {
            abandon(st);
            return vae_fail(err, "training diverged at epoch %d, step %d: loss %.3g per example "
                                 "(the limit is %.0e)", epoch, (start / B) + 1, l.loss,
                            VAE_LOSS_LIMIT);
        }
        st->step++;
        loss += l.loss * b;
        recon += l.recon * b;
        kl += l.kl * b;
        if (h->on_step) {
            int done = start + b;
            vae_losses run = { loss / done, recon / done, kl / done, l.kl_weight };
            if (h->on_step(h->ctx, epoch, st->step, steps, done, &run)) {
                int at = st->step;
                abandon(st);
                return vae_fail(err, "stopped at epoch %d, step %d", epoch, at);
            }
        }
    }
    out->loss = loss / n;
    out->recon = recon / n;
    out->kl = kl / n;
    out->kl_weight = vae_kl_weight(m, st->epoch);
    st->epoch++;
    st->step = 0;
    st->partial = 0; /* an epoch boundary of this run again */
    return VAE_OK;
}

int vae_fit(vae_model *m, const vae_dataset *data, const vae_dataset *val,
            const vae_train_opts *o, const vae_train_hooks *h, vae_error *err)
{
    if (!h) h = &no_hooks;
    if (vae_check_data(m, data, "training data", err) ||
        (val && vae_check_data(m, val, "validation data", err)) || vae_train_opts_check(o, err))
        return VAE_FAIL;
    for (int e = 0; e < o->epochs; e++) {
        vae_epoch_record rec = { 0 };
        double t0 = vae_now_seconds();
        if (vae_train_epoch(m, data, o, h, &rec.train, err)) return VAE_FAIL;
        rec.seconds = vae_now_seconds() - t0;
        rec.epoch = vae_model_state(m)->epoch;
        /* on the model's epoch count, so a resumed run validates where an unbroken one did */
        if (val && (rec.epoch % o->validate_every == 0 || e + 1 == o->epochs)) {
            double v0 = vae_now_seconds();
            if (vae_evaluate(m, val, rec.epoch - 1, &rec.val, err)) return VAE_FAIL;
            rec.val_seconds = vae_now_seconds() - v0;
            rec.validated = 1;
        }
        if (h->on_epoch && h->on_epoch(h->ctx, &rec)) break;
    }
    return VAE_OK;
}
