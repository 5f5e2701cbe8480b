#include "rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void vae_rng_seed(vae_rng *r, uint64_t seed, uint64_t stream)
{
    /* mix the stream in through its own splitmix round, so (seed, stream) pairs
     * that differ anywhere give unrelated states */
    uint64_t x = stream;
    uint64_t key = seed ^ splitmix64(&x);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&key);
    r->has_spare = 0;
    r->spare = 0;
}

double vae_rng_uniform(vae_rng *r) { return (double)(vae_rng_u64(r) >> 11) * 0x1.0p-53; }

float vae_rng_normal(vae_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1 = 1.0 - vae_rng_uniform(r); /* in (0, 1]: log is finite */
    double u2 = vae_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    double ang = 6.283185307179586 * u2;
    r->spare = (float)(rad * sin(ang));
    r->has_spare = 1;
    return (float)(rad * cos(ang));
}

uint32_t vae_rng_below(vae_rng *r, uint32_t n)
{
    uint32_t limit = (uint32_t)(-n) % n; /* rejection keeps it unbiased */
    for (;;) {
        uint32_t x = vae_rng_u32(r);
        if (x >= limit) return x % n;
    }
}

void vae_rng_shuffle(vae_rng *r, int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)vae_rng_below(r, (uint32_t)i + 1);
        int t = a[i]; a[i] = a[j]; a[j] = t;
    }
}
