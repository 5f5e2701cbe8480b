#include "bench.h"

#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "mat.h"
#include "oracle.h"

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef enum { OP_FORWARD, OP_WEIGHTS, OP_FULL } dense_op;

typedef struct dense_run {
    const vae_backend *be;
    void *state;
    int B, n_in, n_out;
    vae_act act;
    float *x, *W, *b, *y, *dy, *dpre, *dx, *dW, *db;
} dense_run;

static int run_op(dense_run *r, dense_op op, vae_error *err)
{
    if (op == OP_FORWARD)
        return vae_dense_forward(r->be, &r->state, r->x, r->W, r->b, r->y, r->B, r->n_in,
                                 r->n_out, r->act, err);
    return vae_dense_backward(r->be, &r->state, r->x, r->W, r->y, r->dy, r->dpre,
                              op == OP_FULL ? r->dx : NULL, r->dW, r->db, r->B, r->n_in,
                              r->n_out, r->act, err);
}

/* per-call seconds of each repeat, into t (repeats long) */
static int time_op(dense_run *r, dense_op op, int warmup, int repeats, double min_seconds,
                   double *t, vae_error *err)
{
    for (int i = 0; i < warmup; i++)
        if (run_op(r, op, err)) return VAE_FAIL;
    for (int i = 0; i < repeats; i++) {
        long calls = 0;
        const double t0 = vae_now_seconds();
        double dt;
        do {
            if (run_op(r, op, err)) return VAE_FAIL;
            calls++;
        } while ((dt = vae_now_seconds() - t0) < min_seconds);
        t[i] = dt / (double)calls;
    }
    return VAE_OK;
}

static vae_timing summarise(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    vae_timing s = { n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]), t[0], t[n - 1] };
    return s;
}

int vae_bench_dense(const vae_backend *be, int B, int n_in, int n_out, vae_act act, int check,
                    int warmup, int repeats, double min_seconds, vae_dense_bench *out,
                    vae_error *err)
{
    memset(out, 0, sizeof *out);
    if (B < 1 || n_in < 1 || n_out < 1 || repeats < 1)
        return vae_fail(err, "bench: B, n_in, n_out and repeats must be >= 1");
    dense_run r = { .be = be, .B = B, .n_in = n_in, .n_out = n_out, .act = act };
    int rc = check ? vae_dense_check(be, &r.state, B, n_in, n_out, act, 1234, &out->max_error, err)
                   : VAE_OK;
    if (rc) goto done;
    out->ok = out->max_error <= VAE_DENSE_TOL;
    if (!out->ok) goto done;
    const size_t nx = (size_t)B * n_in, ny = (size_t)B * n_out, nw = (size_t)n_in * n_out;
    float **bufs[] = { &r.x, &r.W, &r.b, &r.y, &r.dy, &r.dpre, &r.dx, &r.dW, &r.db };
    const size_t lens[] = { nx, nw, (size_t)n_out, ny, ny, ny, nx, nw, (size_t)n_out };
    double *t[3] = { calloc((size_t)repeats, sizeof(double)), calloc((size_t)repeats, sizeof(double)),
                     calloc((size_t)repeats, sizeof(double)) };
    for (int i = 0; i < 9; i++) *bufs[i] = vae_alloc(lens[i]);
    int missing = !t[0] || !t[1] || !t[2];
    for (int i = 0; i < 9; i++) missing |= !*bufs[i];
    if (missing) {
        rc = vae_fail(err, "bench: out of memory for a %dx%d layer at batch %d", n_in, n_out, B);
    } else {
        vae_fill_uniform(r.x, nx, 0, 1, 1);
        vae_fill_uniform(r.W, nw, -0.05f, 0.05f, 2);
        vae_fill_uniform(r.b, n_out, -0.1f, 0.1f, 3);
        vae_fill_uniform(r.dy, ny, -1, 1, 4);
        memset(r.dW, 0, nw * sizeof(float));
        memset(r.db, 0, n_out * sizeof(float));
        for (int op = 0; op < 3 && !rc; op++)
            rc = time_op(&r, (dense_op)op, warmup, repeats, min_seconds, t[op], err);
        if (!rc) {
            out->forward = summarise(t[0], repeats);
            out->weights = summarise(t[1], repeats);
            /* the input gradient alone: full backward minus weights-only, repeat by repeat */
            for (int i = 0; i < repeats; i++) /* noise can make it negative: 0 = unmeasurable */
                t[2][i] = t[2][i] > t[1][i] ? t[2][i] - t[1][i] : 0.0;
            out->data = summarise(t[2], repeats);
        }
    }
    for (int i = 0; i < 9; i++) vae_free(*bufs[i]);
    for (int i = 0; i < 3; i++) free(t[i]);
done:
    if (r.state && be->state_free) be->state_free(r.state);
    return rc;
}

/* ---------- a training step's dense products: the layers vs raw sgemm ---------- */

enum { STEP_MAX_LAYERS = 16 };

typedef struct step_layer {
    float *x, *W, *b, *y, *dy, *dpre, *dx, *dW, *db;
    void *state;
} step_layer;

static int step_layers(const vae_backend *be, step_layer *L, int n, const int *in, const int *out,
                       const vae_act *act, int B, vae_error *err)
{
    for (int i = 0; i < n; i++)
        if (vae_dense_forward(be, &L[i].state, L[i].x, L[i].W, L[i].b, L[i].y, B, in[i], out[i],
                              act[i], err))
            return VAE_FAIL;
    for (int i = n - 1; i >= 0; i--)
        if (vae_dense_backward(be, &L[i].state, L[i].x, L[i].W, L[i].y, L[i].dy, L[i].dpre,
                               i ? L[i].dx : NULL, L[i].dW, L[i].db, B, in[i], out[i], act[i], err))
            return VAE_FAIL;
    return VAE_OK;
}

static void step_raw(const vae_backend *be, step_layer *L, int n, const int *in, const int *out,
                     int B)
{
    for (int i = 0; i < n; i++)
        be->raw_sgemm('N', 'N', B, out[i], in[i], L[i].x, in[i], L[i].W, out[i], 0.0f, L[i].y,
                      out[i]);
    for (int i = n - 1; i >= 0; i--) {
        be->raw_sgemm('T', 'N', in[i], out[i], B, L[i].x, in[i], L[i].dpre, out[i], 1.0f,
                      L[i].dW, out[i]);
        if (i)
            be->raw_sgemm('N', 'T', B, in[i], out[i], L[i].dpre, out[i], L[i].W, out[i], 0.0f,
                          L[i].dx, in[i]);
    }
}

int vae_bench_step(const vae_backend *be, int n_layers, const int *in, const int *out,
                   const vae_act *act, int B, int repeats, double *layers, double *raw,
                   double *flops, vae_error *err)
{
    if (n_layers < 1 || n_layers > STEP_MAX_LAYERS || repeats < 1 || B < 1)
        return vae_fail(err, "bench: 1..%d layers, repeats and batch >= 1", STEP_MAX_LAYERS);
    step_layer L[STEP_MAX_LAYERS];
    memset(L, 0, sizeof L);
    double *t_layers = calloc((size_t)repeats, sizeof(double));
    double *t_raw = calloc((size_t)repeats, sizeof(double));
    int rc = VAE_OK;
    *flops = 0;
    for (int i = 0; i < n_layers && !rc; i++) {
        const size_t nx = (size_t)B * in[i], ny = (size_t)B * out[i], nw = (size_t)in[i] * out[i];
        float **f[] = { &L[i].x, &L[i].W, &L[i].b, &L[i].y, &L[i].dy, &L[i].dpre, &L[i].dx,
                        &L[i].dW, &L[i].db };
        const size_t len[] = { nx, nw, (size_t)out[i], ny, ny, ny, nx, nw, (size_t)out[i] };
        for (int k = 0; k < 9; k++)
            if (!(*f[k] = vae_alloc(len[k]))) rc = vae_fail(err, "bench: out of memory");
        if (rc) break;
        vae_fill_uniform(L[i].x, nx, 0, 1, 10u + (uint64_t)i);
        vae_fill_uniform(L[i].W, nw, -0.05f, 0.05f, 20u + (uint64_t)i);
        vae_fill_uniform(L[i].b, out[i], -0.1f, 0.1f, 30u + (uint64_t)i);
        vae_fill_uniform(L[i].dy, ny, -1, 1, 40u + (uint64_t)i);
        memcpy(L[i].dpre, L[i].dy, ny * sizeof(float));
        memset(L[i].dW, 0, nw * sizeof(float));
        memset(L[i].db, 0, (size_t)out[i] * sizeof(float));
        *flops += 2.0 * B * in[i] * out[i] * (i ? 3 : 2);
    }
    if (!t_layers || !t_raw) rc = vae_fail(err, "bench: out of memory");
    for (int w = 0; w < 5 && !rc; w++) { /* warm-up: primitives, buffers, pages */
        rc = step_layers(be, L, n_layers, in, out, act, B, err);
        if (be->raw_sgemm) step_raw(be, L, n_layers, in, out, B);
    }
    /* the two alternate repeat by repeat, so a slow spell of a shared machine
     * touches both */
    for (int r = 0; r < repeats && !rc; r++) {
        enum { CALLS = 10 };
        double t0 = vae_now_seconds();
        for (int c = 0; c < CALLS && !rc; c++) rc = step_layers(be, L, n_layers, in, out, act, B, err);
        t_layers[r] = (vae_now_seconds() - t0) / CALLS;
        if (be->raw_sgemm) {
            t0 = vae_now_seconds();
            for (int c = 0; c < CALLS; c++) step_raw(be, L, n_layers, in, out, B);
            t_raw[r] = (vae_now_seconds() - t0) / CALLS;
        }
    }
    if (!rc) {
        *layers = summarise(t_layers, repeats).median;
        *raw = be->raw_sgemm ? summarise(t_raw, repeats).median : 0;
    }
    for (int i = 0; i < n_layers; i++) {
        float **f[] = { &L[i].x, &L[i].W, &L[i].b, &L[i].y, &L[i].dy, &L[i].dpre, &L[i].dx,
                        &L[i].dW, &L[i].db };
        for (int k = 0; k < 9; k++) vae_free(*f[k]);
        if (L[i].state && be->state_free) be->state_free(L[i].state);
    }
    free(t_layers);
    free(t_raw);
    if (!rc && !be->raw_sgemm) return VAE_DECLINED;
    return rc;
}

/* ---------- the FMA peak: independent FMAs on registers, no memory ---------- */

typedef struct peak_job {
    int bits;
    double seconds, flops;
} peak_job;

enum { PEAK_ITERS = 1 << 16 };

/* 12 independent accumulators cover FMA latency x issue width on current cores */
__attribute__((target("avx2,fma"))) static double fma_loop_256(long iters)
{
    __m256 a[12], m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i);
    for (long it = 0; it < iters; it++) {
        a[0] = _mm256_fmadd_ps(a[0], m, c); a[1] = _mm256_fmadd_ps(a[1], m, c);
        a[2] = _mm256_fmadd_ps(a[2], m, c); a[3] = _mm256_fmadd_ps(a[3], m, c);
        a[4] = _mm256_fmadd_ps(a[4], m, c); a[5] = _mm256_fmadd_ps(a[5], m, c);
        a[6] = _mm256_fmadd_ps(a[6], m, c); a[7] = _mm256_fmadd_ps(a[7], m, c);
        a[8] = _mm256_fmadd_ps(a[8], m, c); a[9] = _mm256_fmadd_ps(a[9], m, c);
        a[10] = _mm256_fmadd_ps(a[10], m, c); a[11] = _mm256_fmadd_ps(a[11], m, c);
    }
    __m256 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, a[i]);
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0]; /* keeps the loop alive */
}

__attribute__((target("avx512f"))) static double fma_loop_512(long iters)
{
    __m512 a[12], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iters; it++) {
        a[0] = _mm512_fmadd_ps(a[0], m, c); a[1] = _mm512_fmadd_ps(a[1], m, c);
        a[2] = _mm512_fmadd_ps(a[2], m, c); a[3] = _mm512_fmadd_ps(a[3], m, c);
        a[4] = _mm512_fmadd_ps(a[4], m, c); a[5] = _mm512_fmadd_ps(a[5], m, c);
        a[6] = _mm512_fmadd_ps(a[6], m, c); a[7] = _mm512_fmadd_ps(a[7], m, c);
        a[8] = _mm512_fmadd_ps(a[8], m, c); a[9] = _mm512_fmadd_ps(a[9], m, c);
        a[10] = _mm512_fmadd_ps(a[10], m, c); a[11] = _mm512_fmadd_ps(a[11], m, c);
    }
    __m512 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, a[i]);
    return _mm512_reduce_add_ps(s);
}

static void *peak_thread(void *arg)
{
    peak_job *j = arg;
    const double lanes = j->bits / 32, t0 = vae_now_seconds();
    volatile double sink = 0;
    long rounds = 0;
    do {
        sink += j->bits == 512 ? fma_loop_512(PEAK_ITERS) : fma_loop_256(PEAK_ITERS);
        rounds++;
    } while (vae_now_seconds() - t0 < j->seconds);
    const double dt = vae_now_seconds() - t0;
    (void)sink;
    j->flops = (double)rounds * PEAK_ITERS * 12 * lanes * 2 / dt;
    return NULL;
}

int vae_bench_fma_peak(int bits, int threads, double seconds, double *gflops, vae_error *err)
{
    __builtin_cpu_init();
    if (bits == 256 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))
        return VAE_DECLINED;
    if (bits == 512 && !__builtin_cpu_supports("avx512f")) return VAE_DECLINED;
    if (bits != 256 && bits != 512) return vae_fail(err, "bench: vector width 256 or 512, not %d", bits);
    if (threads < 1 || threads > 1024) return vae_fail(err, "bench: threads must be 1..1024");
    peak_job *jobs = calloc((size_t)threads, sizeof *jobs);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    if (!jobs || !tids) {
        free(jobs);
        free(tids);
        return vae_fail(err, "bench: out of memory");
    }
    int started = 0;
    for (; started < threads; started++) {
        jobs[started] = (peak_job){ bits, seconds, 0 };
        if (pthread_create(&tids[started], NULL, peak_thread, &jobs[started])) break;
    }
    double total = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(tids[i], NULL);
        total += jobs[i].flops;
    }
    free(jobs);
    free(tids);
    if (started < threads) return vae_fail(err, "bench: could not start %d threads", threads);
    *gflops = total / 1e9;
    return VAE_OK;
}
