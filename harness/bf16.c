/* Precision bf16 (backend.h): the rounding, the reference products every bf16
 * slot is tested against (and that a declined shape runs), the dispatch, and the
 * CPU checks the backends' bf16_available use. */
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"

const char *const vae_precision_names[VAE_PREC_COUNT] = { "fp32", "bf16" };

/* Round to nearest even at bit 16, as VCVTNEPS2BF16 and oneDNN's conversions do:
 * subnormals (inputs and results) become a signed zero; NaN stays NaN. */
float vae_bf16_round(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7f800000u) == 0) { /* zero or subnormal */
        u &= 0x80000000u;
    } else if ((u & 0x7f800000u) == 0x7f800000u) { /* inf stays; NaN stays a (quiet) NaN */
        if (u & 0x007fffffu) u = (u & 0xffff0000u) | 0x00400000u;
    } else { /* a carry out of the mantissa correctly rounds up to the next binade or inf */
        u += 0x7fffu + ((u >> 16) & 1u);
        u &= 0xffff0000u;
    }
    float r;
    memcpy(&r, &u, sizeof r);
    return r;
}

int vae_bf16_dense_forward_ref(const float *x, const float *W, const float *b, float *y, int B,
                               int n_in, int n_out, vae_act act)
{
    for (int r = 0; r < B; r++) {
        float *yr = y + (size_t)r * n_out;
        for (int o = 0; o < n_out; o++) yr[o] = 0.0f;
        for (int i = 0; i < n_in; i++) {
            const float xi = vae_bf16_round(x[(size_t)r * n_in + i]);
            const float *wi = W + (size_t)i * n_out;
            for (int o = 0; o < n_out; o++) yr[o] += xi * vae_bf16_round(wi[o]);
        }
        for (int o = 0; o < n_out; o++) yr[o] = vae_act_apply(act, yr[o] + b[o]);
    }
    return VAE_OK;
}

int vae_bf16_dense_backward_ref(const float *x, const float *W, const float *y, const float *dy,
                                float *dpre, float *dx, float *dW, float *db, int B, int n_in,
                                int n_out, vae_act act)
{
    const size_t n = (size_t)B * n_out;
    for (size_t i = 0; i < n; i++) dpre[i] = dy[i] * vae_act_grad_from_output(act, y[i]);
    for (int r = 0; r < B; r++) {
        const float *dr = dpre + (size_t)r * n_out;
        for (int o = 0; o < n_out; o++) db[o] += dr[o];
        for (int i = 0; i < n_in; i++) {
            const float xi = vae_bf16_round(x[(size_t)r * n_in + i]);
            float *dwi = dW + (size_t)i * n_out;
            for (int o = 0; o < n_out; o++) dwi[o] += xi * vae_bf16_round(dr[o]);
        }
        if (!dx) continue;
        for (int i = 0; i < n_in; i++) {
            const float *wi = W + (size_t)i * n_out;
            float s = 0.0f;
            for (int o = 0; o < n_out; o++) s += vae_bf16_round(dr[o]) * vae_bf16_round(wi[o]);
            dx[(size_t)r * n_in + i] = s;
        }
    }
    return VAE_OK;
}

static int no_bf16_slots(const vae_backend *be, vae_error *err)
{
    return vae_fail(err, "precision 'bf16': backend '%s' has no bf16 products", be->name);
}

int vae_dense_forward_bf16(const vae_backend *be, void **state, const float *x, const float *W,
                           const float *b, float *y, int B, int n_in, int n_out, vae_act act,
                           vae_error *err)
{
    if (!be->dense_forward_bf16) return no_bf16_slots(be, err);
    int rc = be->dense_forward_bf16(state, x, W, b, y, B, n_in, n_out, act, err);
    if (rc != VAE_DECLINED) return rc;
    return vae_bf16_dense_forward_ref(x, W, b, y, B, n_in, n_out, act);
}

int vae_dense_backward_bf16(const vae_backend *be, void **state, const float *x, const float *W,
                            const float *y, const float *dy, float *dpre, float *dx, float *dW,
                            float *db, int B, int n_in, int n_out, vae_act act, vae_error *err)
{
    if (!be->dense_backward_bf16) return no_bf16_slots(be, err);
    int rc = be->dense_backward_bf16(state, x, W, y, dy, dpre, dx, dW, db, B, n_in, n_out, act,
                                     err);
    if (rc != VAE_DECLINED) return rc;
    return vae_bf16_dense_backward_ref(x, W, y, dy, dpre, dx, dW, db, B, n_in, n_out, act);
}

int vae_backend_precision_usable(const vae_backend *be, vae_precision p, char *why, size_t len)
{
    if (!vae_backend_usable(be, why, len)) return 0;
    if (p == VAE_PREC_FP32) return 1;
    if (!be->dense_forward_bf16 || !be->dense_backward_bf16 || !be->bf16_available) {
        snprintf(why, len, "it has no bf16 products");
        return 0;
    }
    return be->bf16_available(why, len) == 0;
}

/* XCR0: which register states the OS saves (the instructions fault without it) */
static uint64_t xcr0(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0; /* no OSXSAVE */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

int vae_cpu_avx512_bf16(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx512 = (b & (1u << 16)) && (b & (1u << 30)) && (b & (1u << 31)); /* F BW VL */
    __cpuid_count(7, 1, a, b, c, d);
    const int bf16 = (a & (1u << 5)) != 0;
    const uint64_t zmm_state = 0xe6; /* SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM */
    return avx512 && bf16 && (xcr0() & zmm_state) == zmm_state;
}

int vae_cpu_amx_bf16(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    const int amx = (d & (1u << 22)) && (d & (1u << 24)); /* AMX-BF16, AMX-TILE */
    const uint64_t tile_state = (1u << 17) | (1u << 18); /* XTILECFG, XTILEDATA */
    return amx && (xcr0() & tile_state) == tile_state;
}
