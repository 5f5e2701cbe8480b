/* Explicit, seeded random number streams: xoshiro256** (Blackman & Vigna), seeded
 * through splitmix64 from (seed, stream). Every consumer owns its stream, so data
 * order, noise and dropout never depend on each other or on the backend. */
#ifndef VAE_RNG_H
#define VAE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct vae_rng {
    uint64_t s[4];
    int has_spare;      /* Box-Muller makes normals in pairs */
    float spare;
} vae_rng;

/* stream selects another sequence for the same seed. */
void vae_rng_seed(vae_rng *r, uint64_t seed, uint64_t stream);
double vae_rng_uniform(vae_rng *r);          /* in [0, 1) with 53 random bits */
float vae_rng_normal(vae_rng *r);            /* standard normal */
/* The Box-Muller transform vae_rng_normal applies to two consecutive 64-bit draws
 * a, b: *first is the normal it returns, *second the spare it keeps for its next
 * call; and the same for many pairs, out[2k], out[2k + 1] from a[k], b[k]. */
void vae_rng_box_muller(uint64_t a, uint64_t b, float *first, float *second);
void vae_rng_box_muller_many(const uint64_t *a, const uint64_t *b, size_t pairs, float *out);
/* n normals into out: the very values (bit for bit) n calls of vae_rng_normal
 * return, leaving r as they would, about five times faster on a CPU with AVX2 and
 * FMA (the transforms four pairs at a time in vectors; rng.c says why the floats
 * are the same). */
void vae_rng_normals(vae_rng *r, float *out, size_t n);
uint32_t vae_rng_below(vae_rng *r, uint32_t n); /* uniform in [0, n), unbiased */
void vae_rng_shuffle(vae_rng *r, int *a, int n);

static inline uint64_t vae_rng_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* 64 random bits. Inline: dropout masks take 16 bits per unit. */
static inline uint64_t vae_rng_u64(vae_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = vae_rng_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = vae_rng_rotl(s[3], 45);
    return out;
}

static inline uint32_t vae_rng_u32(vae_rng *r) { return (uint32_t)(vae_rng_u64(r) >> 32); }

/* Named streams, so every use of a model seed is distinct and stable. */
enum {
    VAE_STREAM_INIT = 1, VAE_STREAM_ORDER, VAE_STREAM_NOISE, VAE_STREAM_DROPOUT,
    VAE_STREAM_EVAL, VAE_STREAM_DATA, VAE_STREAM_SAMPLE,
    VAE_STREAM_BINARIZE,      /* dynamic binarisation of training batches */
    VAE_STREAM_EVAL_BINARIZE, /* ... and of evaluation data, reseeded per call */
    VAE_STREAM_COUNT
};

#endif
