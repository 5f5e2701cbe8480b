/* Error reporting for the harness: library code never prints or exits.
 * A failing function fills a vae_error and returns VAE_FAIL; callers pass it up. */
#ifndef VAE_ERROR_H
#define VAE_ERROR_H

enum { VAE_OK = 0, VAE_FAIL = -1, VAE_DECLINED = 1 };

typedef struct vae_error {
    char msg[512];
} vae_error;

/* Formats the message into err (when err is not NULL) and returns VAE_FAIL. */
int vae_fail(vae_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
