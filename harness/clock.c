#include "clock.h"

#include <time.h>

double vae_now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static vae_profile profile;
static int profiling;

void vae_profile_set(int on)
{
    if (on) profile = (vae_profile){ 0 };
    profiling = on != 0;
}

vae_profile *vae_profile_active(void) { return profiling ? &profile : NULL; }
vae_profile vae_profile_read(void) { return profile; }
