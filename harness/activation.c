#include "activation.h"

#include <math.h>
#include <string.h>

const char *const vae_act_names[VAE_ACT_COUNT] = {
    "linear", "relu", "tanh", "elu", "softplus", "sigmoid"
};

int vae_act_parse(const char *name)
{
    if (!name) return -1;
    if (strcmp(name, "none") == 0) return VAE_ACT_LINEAR;
    for (int i = 0; i < VAE_ACT_COUNT; i++)
        if (strcmp(name, vae_act_names[i]) == 0) return i;
    return -1;
}

float vae_act_apply(vae_act a, float x)
{
    switch (a) {
    case VAE_ACT_RELU: return x < 0.0f ? 0.0f : x; /* NaN propagates */
    case VAE_ACT_TANH: return tanhf(x);
    case VAE_ACT_ELU: return x > 0.0f ? x : expm1f(x); /* alpha = 1 */
    case VAE_ACT_SOFTPLUS: /* log(1 + e^x) without overflow */
        return x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x));
    case VAE_ACT_SIGMOID:
        if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
        else { float e = expf(x); return e / (1.0f + e); }
    default: return x;
    }
}

float vae_act_grad_from_output(vae_act a, float y)
{
    switch (a) {
    case VAE_ACT_RELU: return y > 0.0f ? 1.0f : 0.0f;
    case VAE_ACT_TANH: return 1.0f - y * y;
    case VAE_ACT_ELU: return y > 0.0f ? 1.0f : y + 1.0f;
    case VAE_ACT_SOFTPLUS: return -expm1f(-y); /* sigmoid(x) = 1 - e^{-softplus(x)} */
    case VAE_ACT_SIGMOID: return y * (1.0f - y);
    default: return 1.0f;
    }
}
