/* The one clock of the harness: monotonic wall time in seconds (never clock(),
 * which is CPU time summed over threads). */
#ifndef VAE_CLOCK_H
#define VAE_CLOCK_H

double vae_now_seconds(void);

#endif
