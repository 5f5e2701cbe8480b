/* The layer vtable. A layer maps x (B x n_in) to y (B x n_out); backward takes
 * the same x and y plus dy, accumulates its parameter gradients and writes dx
 * (unless dx is NULL). Parameters and gradients are views into the model's flat
 * arenas, bound after construction with vae_layer_bind. */
#ifndef VAE_LAYER_H
#define VAE_LAYER_H

#include "backend.h"
#include "rng.h"

typedef struct vae_layer vae_layer;

typedef struct vae_layer_ops {
    const char *kind;
    int (*forward)(vae_layer *l, const float *x, float *y, int B, int training,
                   vae_error *err);
    int (*backward)(vae_layer *l, const float *x, const float *y, const float *dy,
                    float *dx, int B, vae_error *err);
    void (*destroy)(vae_layer *l);
} vae_layer_ops;

struct vae_layer {
    const vae_layer_ops *ops;
    int n_in, n_out;
    size_t n_params;        /* floats this layer owns in the parameter arena */
    float *params, *grads;  /* views, NULL until bound */
    const vae_backend *backend;
};

typedef enum vae_init { VAE_INIT_XAVIER = 0, VAE_INIT_PYTORCH, VAE_INIT_COUNT } vae_init;
extern const char *const vae_init_names[VAE_INIT_COUNT];

/* Constructors return NULL only when out of memory. */
vae_layer *vae_dense_new(int n_in, int n_out, vae_act act, const vae_backend *be);
/* Marks a dense layer's input as mostly zero (the data at the first encoder layer):
 * its forward pass and weight gradient read only the nonzeros when the backend
 * has the sparse slots and a batch is sparse enough (backend.h). */
void vae_dense_sparse_input(vae_layer *l);
/* The precision of a dense layer's products (fp32 until set; backend.h). The
 * caller checks the backend runs it (vae_backend_precision_usable). */
void vae_dense_set_precision(vae_layer *l, vae_precision p);
vae_layer *vae_activation_new(int n, vae_act act, const vae_backend *be);
/* Inverted dropout: in training, keeps a unit with probability 1-rate and scales
 * it by 1/(1-rate); in evaluation it is the identity. rng is borrowed. */
vae_layer *vae_dropout_new(int n, float rate, vae_rng *rng);

void vae_layer_bind(vae_layer *l, float *params, float *grads);
void vae_layer_free(vae_layer *l);

/* Dense parameters: W is (n_in x n_out) at params, b (n_out) right after it. */
float *vae_dense_weights(vae_layer *l);
float *vae_dense_bias(vae_layer *l);
/* Xavier/Glorot uniform: W ~ U(-a, a), a = sqrt(2 * magnitude / (n_in + n_out)),
 * b = 0 (magnitude 3 is Glorot's and MXNet's default). PyTorch's nn.Linear default:
 * W and b ~ U(-1/sqrt(n_in), 1/sqrt(n_in)). */
void vae_dense_init(vae_layer *l, vae_init kind, float magnitude, vae_rng *rng);

static inline int vae_layer_forward(vae_layer *l, const float *x, float *y, int B,
                                    int training, vae_error *err)
{
    return l->ops->forward(l, x, y, B, training, err);
}

static inline int vae_layer_backward(vae_layer *l, const float *x, const float *y,
                                     const float *dy, float *dx, int B, vae_error *err)
{
    return l->ops->backward(l, x, y, dy, dx, B, err);
}

#endif
