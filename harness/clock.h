/* The one monotonic clock: the bench, fit's epoch times and vae.clock() all read it. */
#ifndef VAE_CLOCK_H
#define VAE_CLOCK_H

/* Seconds from an arbitrary start; never goes back (CLOCK_MONOTONIC, not clock()). */
double vae_now_seconds(void);

#endif
