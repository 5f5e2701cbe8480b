/* The one monotonic clock: the bench, fit's epoch times and vae.clock() all read it. */
#ifndef VAE_CLOCK_H
#define VAE_CLOCK_H

/* Seconds from an arbitrary start; never goes back (CLOCK_MONOTONIC, not clock()). */
double vae_now_seconds(void);

/* The step-phase profile, for `make bench`: while on, the dense layers (their
 * products with the bias, activation and sparse paths) and Adam add the time they
 * take, on this clock, so the bench measures the share of an epoch outside the
 * products directly. Off by default: one branch per call. Process-level, as
 * the thread count is; not for two models trained at once. */
typedef struct vae_profile {
    double dense_forward, dense_backward, adam; /* seconds */
    long dense_calls, adam_calls;
} vae_profile;

/* on != 0 zeroes the counters and starts counting; 0 stops. */
void vae_profile_set(int on);
/* the live counters, or NULL while off */
vae_profile *vae_profile_active(void);
/* the counters so far (kept after vae_profile_set(0)) */
vae_profile vae_profile_read(void);

#endif
