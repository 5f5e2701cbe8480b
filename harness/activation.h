/* Pointwise activations. Every derivative is written in terms of the OUTPUT y,
 * so a dense layer can fuse its activation and keep only y for backward. */
#ifndef VAE_ACTIVATION_H
#define VAE_ACTIVATION_H

typedef enum vae_act {
    VAE_ACT_LINEAR = 0, VAE_ACT_RELU, VAE_ACT_TANH, VAE_ACT_ELU, VAE_ACT_SOFTPLUS,
    VAE_ACT_SIGMOID, VAE_ACT_COUNT
} vae_act;

extern const char *const vae_act_names[VAE_ACT_COUNT]; /* "linear", "relu", ... */

/* Index of name in vae_act_names, or -1. "none" is accepted as "linear". */
int vae_act_parse(const char *name);

/* The scalar reference definitions, used by the naive backend and the tests. */
float vae_act_apply(vae_act a, float x);
float vae_act_grad_from_output(vae_act a, float y); /* dy/dx at the x with f(x) = y */

#endif
