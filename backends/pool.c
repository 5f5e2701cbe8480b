/* The shared thread pool and the threaded element-wise passes (pool.h). */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "pool.h"
#include "avx2_math.h"

/* ---------- the pool ----------
 * A small pool of pthreads rather than OpenMP: between jobs the workers spin with
 * sched_yield (then sleep), so on a shared machine where our threads outnumber
 * free cores a waiting thread hands its core to the one doing the work. OpenMP's
 * spinning waits instead took milliseconds per call there. */

enum { MAX_THREADS = 64, IDLE_SPINS = 20000 };


static struct pool {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t tid[MAX_THREADS];
    int started;                     /* workers running; the caller is part 0 */
    atomic_ulong ticket[MAX_THREADS]; /* bumped when worker i + 1 has a part to do */
    atomic_int sleepers;             /* workers waiting on `wake` */
    atomic_int pending;              /* parts of the current job not yet done */
    atomic_int quit;
    vae_pool_job fn;                       /* the current job, written before the tickets */
    void *arg;
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

static void *worker(void *p)
{
    const int me = (int)(intptr_t)p; /* 1 .. started */
    atomic_ulong *ticket = &pool.ticket[me - 1];
    /* a worker's ticket is first bumped after it is created, but it may start
     * running only after that: so not atomic_load(ticket) */
    unsigned long seen = 0;
    for (;;) {
        int spins = 0;
        while (atomic_load(ticket) == seen && !atomic_load(&pool.quit)) {
            if (++spins < IDLE_SPINS) {
                sched_yield();
                continue;
            }
            pthread_mutex_lock(&pool.lock);
            atomic_fetch_add(&pool.sleepers, 1);
            while (atomic_load(ticket) == seen && !atomic_load(&pool.quit))
                pthread_cond_wait(&pool.wake, &pool.lock);
            atomic_fetch_sub(&pool.sleepers, 1);
            pthread_mutex_unlock(&pool.lock);
        }
        if (atomic_load(&pool.quit)) return NULL;
        seen = atomic_load(ticket);
        /* the caller writes the job before the ticket and waits for every part
         * before the next job, so the fields are this ticket's */
        pool.fn(pool.arg, me);
        atomic_fetch_sub(&pool.pending, 1);
    }
}

/* Runs fn(arg, part) for part = 0 .. parts-1, part 0 on the calling thread; falls
 * back to fewer threads (the caller doing the rest) if a worker cannot start.
 * Only the workers taking part are woken: others stay asleep. */
static pthread_mutex_t pool_busy = PTHREAD_MUTEX_INITIALIZER;

void vae_pool_run(int parts, vae_pool_job fn, void *arg)
{
    if (parts > MAX_THREADS) parts = MAX_THREADS;
    /* one job at a time: a caller on another thread (two models trained at once
     * from C) does its job alone rather than wait */
    if (pthread_mutex_trylock(&pool_busy)) {
        for (int part = 0; part < parts; part++) fn(arg, part);
        return;
    }
    while (pool.started < parts - 1) {
        const int id = pool.started + 1;
        if (pthread_create(&pool.tid[id - 1], NULL, worker, (void *)(intptr_t)id)) break;
        pool.started++;
    }
    const int workers = parts - 1 < pool.started ? parts - 1 : pool.started;
    pool.fn = fn;
    pool.arg = arg;
    atomic_store(&pool.pending, workers);
    for (int i = 0; i < workers; i++) atomic_fetch_add(&pool.ticket[i], 1);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
    fn(arg, 0);
    for (int part = workers + 1; part < parts; part++) fn(arg, part); /* unstarted workers' */
    while (atomic_load(&pool.pending) > 0) sched_yield();
    pthread_mutex_unlock(&pool_busy);
}

/* The workers stop before the library is unloaded (Lua unloads C modules when
 * its state closes), so none runs code that is no longer mapped. */
__attribute__((destructor)) static void pool_stop(void)
{
    if (!pool.started) return;
    atomic_store(&pool.quit, 1);
    pthread_mutex_lock(&pool.lock);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    for (int i = 0; i < pool.started; i++) pthread_join(pool.tid[i], NULL);
    pool.started = 0;
}

static atomic_int n_threads; /* 0 until set: all cores */

int vae_pool_all_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

void vae_pool_set_threads(int threads)
{
    n_threads = threads > 0 ? (threads < MAX_THREADS ? threads : MAX_THREADS) : vae_pool_all_cores();
}

int vae_pool_threads_wanted(double flops)
{
    /* below this, waking a second thread costs more than it saves */
    if (flops < 4e5) return 1;
    return n_threads > 0 ? n_threads : vae_pool_all_cores();
}


/* ---------- the element-wise passes ---------- */

/* Runs before any AVX instruction may. */
int vae_cpu_avx2(void)
{
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return known;
}

int vae_adam_parts(size_t n, int threads)
{
    /* memory-bound: a second thread pays off only on large arrays */
    if (n < (1u << 16) || threads < 1) return 1;
    return threads;
}

void vae_adam_part(const vae_adam_job *j, int part, int parts)
{
    /* ranges of whole 8-float blocks; the last part takes the tail */
    const size_t blocks = j->n / 8;
    const size_t lo = blocks * part / parts * 8;
    const size_t hi = part + 1 == parts ? j->n : blocks * (part + 1) / parts * 8;
    size_t done = lo;
    if (vae_cpu_avx2()) {
        const size_t vec_hi = hi / 8 * 8;
        avx2_adam_range(j->p, j->g, j->m, j->v, lo, vec_hi, j->s);
        done = vec_hi;
    }
    if (done < hi)
        vae_backend_naive.adam_update(j->p + done, j->g + done, j->m + done, j->v + done,
                                      hi - done, j->s);
}

/* The caller's part count travels with the job: a worker must not recompute it
 * from the thread setting, which another thread may change meanwhile. */
typedef struct adam_run {
    const vae_adam_job *job;
    int parts;
} adam_run;

static void adam_job(void *arg, int part)
{
    const adam_run *r = arg;
    vae_adam_part(r->job, part, r->parts);
}

void vae_pool_adam(float *p, float *g, float *m, float *v, size_t n, const vae_adam_step *s)
{
    vae_adam_job j = { p, g, m, v, n, s };
    adam_run r = { &j, vae_adam_parts(n, vae_pool_threads_wanted(1e9)) };
    if (r.parts > 1) vae_pool_run(r.parts, adam_job, &r);
    else vae_adam_part(&j, 0, 1);
}

int vae_bce_parts(int rows, int D, int threads)
{
    /* two logs and a division per pixel: about 60 flops' worth of work */
    int parts = 60.0 * rows * D < 4e5 ? 1 : threads;
    if (parts > rows) parts = rows;
    return parts < 1 ? 1 : parts;
}

/* one part's rows: each row's sum is one part's, so the result does not depend
 * on the number of parts */
void vae_bce_part(const vae_bce_job *j, int part, int parts)
{
    avx2_bernoulli_rows(j->x, j->x_rows, j->p, (int)((long)j->rows * part / parts),
                        (int)((long)j->rows * (part + 1) / parts), j->D, j->c, j->nll, j->dout,
                        j->scale);
}

typedef struct bce_run {
    const vae_bce_job *job;
    int parts;
} bce_run;

static void bce_job(void *arg, int part)
{
    const bce_run *r = arg;
    vae_bce_part(r->job, part, r->parts);
}

int vae_pool_bernoulli(const float *x, int x_rows, const float *p, int rows, int D,
                       const vae_bce_clamp *c, double *nll, float *dout, float scale)
{
    if (!vae_cpu_avx2()) return VAE_DECLINED;
    if (rows < 1) return VAE_OK;
    vae_bce_job j = { x, p, x_rows, rows, D, c, nll, dout, scale };
    bce_run r = { &j, vae_bce_parts(rows, D, vae_pool_threads_wanted(1e9)) };
    if (r.parts > 1) vae_pool_run(r.parts, bce_job, &r);
    else vae_bce_part(&j, 0, 1);
    return VAE_OK;
}

/* ---------- the Bernoulli likelihood as a product (log p(x)) ---------- */

int vae_bce_product_usable(const vae_bce_clamp *c)
{
    /* the clamp values are the smallest factors: normal floats keep the
     * renormalisation's exponent arithmetic exact; keep_hi < 1 as for the slot */
    return vae_cpu_avx2() && c->low_p >= FLT_MIN && c->high_q >= FLT_MIN &&
           c->keep_hi < 1.0f && c->low_q <= 1.0f && c->high_p <= 1.0f;
}

int vae_bce_renorm_blocks(const vae_bce_clamp *c)
{
    /* every factor is at least 2^e: m of them on a mantissa in [1, 2) stay at or
     * above 2^(m e), a normal float while m e >= -126; and below 2, as factors <= 1 */
    const int e = ilogbf(c->low_p < c->high_q ? c->low_p : c->high_q);
    return e < 0 ? 126 / -e : 126;
}

int vae_bce_prepare(const float *x, int D, uint8_t *ones, int *col, float *t)
{
    memset(ones, 0, (size_t)vae_bce_ones_bytes(D));
    int n = 0;
    for (int j = 0; j < D; j++)
        if (x[j] == 1.0f) ones[j / 8] |= (uint8_t)(1u << (j % 8));
        else if (x[j] != 0.0f) {
            col[n] = j;
            t[n++] = x[j];
        }
    for (; n % 8; n++) col[n] = 0, t[n] = 0.0f; /* padding: a term t log(...) of 0 */
    return n;
}

#pragma GCC push_options
#pragma GCC target("avx2,fma")

/* p and 1 - p clamped as the reference does, NaN taken as high (max and min
 * return their second operand when one is NaN) */
static inline void bce_clamp(__m256 p, const vae_bce_clamp *c, __m256 *pl, __m256 *ql)
{
    *pl = _mm256_min_ps(_mm256_max_ps(_mm256_set1_ps(c->low_p), p), _mm256_set1_ps(c->high_p));
    *ql = _mm256_max_ps(_mm256_min_ps(_mm256_set1_ps(c->low_q), _mm256_sub_ps(_mm256_set1_ps(1.0f), p)),
                        _mm256_set1_ps(c->high_q));
}

/* the factor of 8 pixels: p where x = 1 (the bits of one), else 1 - p (a grey
 * pixel's t log p + (1 - t) log(1 - p) is log(1 - p) + t log(p / (1 - p)): the
 * first part joins the product, the second is the grey pass's) */
static inline __m256 bce_factor(__m256 p, unsigned one, const vae_bce_clamp *c)
{
    __m256 pl, ql;
    bce_clamp(p, c, &pl, &ql);
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256i is1 = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)one), bit), bit);
    return _mm256_blendv_ps(ql, pl, _mm256_castsi256_ps(is1));
}

/* a lane's product back to a mantissa in [1, 2), its exponent added to *e (exact) */
static inline __m256 bce_renorm(__m256 a, __m256i *e)
{
    const __m256i b = _mm256_castps_si256(a);
    *e = _mm256_add_epi32(*e, _mm256_sub_epi32(_mm256_srli_epi32(b, 23), _mm256_set1_epi32(127)));
    return _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(b, _mm256_set1_epi32(0x007fffff)),
                                               _mm256_set1_epi32(0x3f800000)));
}

double vae_bce_product_nll8(const uint8_t *ones, const float *p, int D, const vae_bce_clamp *c,
                            int renorm, const int *grey_col, const float *grey_t, int n_grey)
{
    /* two products, so the multiplies' latency is not one long chain */
    __m256 a0 = _mm256_set1_ps(1.0f), a1 = a0;
    __m256i e = _mm256_setzero_si256();
    int j = 0;
    for (int since = 0; j + 16 <= D; j += 16) {
        a0 = _mm256_mul_ps(a0, bce_factor(_mm256_loadu_ps(p + j), ones[j / 8], c));
        a1 = _mm256_mul_ps(a1, bce_factor(_mm256_loadu_ps(p + j + 8), ones[j / 8 + 1], c));
        if (++since == renorm) {
            a0 = bce_renorm(a0, &e);
            a1 = bce_renorm(a1, &e);
            since = 0;
        }
    }
    a0 = bce_renorm(a0, &e);
    a1 = bce_renorm(a1, &e);
    /* at most 15 pixels left: one more factor per product (renorm >= 1) */
    for (int k = 0; j < D; j += 8, k++) {
        const __m256i lanes = first_lanes(D - j);
        __m256 f = bce_factor(_mm256_maskload_ps(p + j, lanes), ones[j / 8], c);
        f = _mm256_blendv_ps(_mm256_set1_ps(1.0f), f, _mm256_castsi256_ps(lanes));
        if (k) a1 = _mm256_mul_ps(a1, f);
        else a0 = _mm256_mul_ps(a0, f);
    }
    a0 = bce_renorm(a0, &e);
    a1 = bce_renorm(a1, &e);
    /* log of the product: the 16 mantissas' product (below 2^16) in double, one log */
    __m256d m = _mm256_mul_pd(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(a0)),
                                            _mm256_cvtps_pd(_mm256_extractf128_ps(a0, 1))),
                              _mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(a1)),
                                            _mm256_cvtps_pd(_mm256_extractf128_ps(a1, 1))));
    double mv[4];
    int32_t ev[8];
    _mm256_storeu_pd(mv, m);
    _mm256_storeu_si256((__m256i *)ev, e);
    long exps = 0;
    for (int i = 0; i < 8; i++) exps += ev[i];
    double ll = log(mv[0] * mv[1] * mv[2] * mv[3]) + 0.6931471805599453 * (double)exps;

    /* the grey pixels' t log(p / (1 - p)): the log in float, the sum in double
     * (padding has t = 0) */
    __m256d s0 = _mm256_setzero_pd(), s1 = s0;
    for (int g = 0; g < n_grey; g += 8) {
        const __m256 t = _mm256_loadu_ps(grey_t + g);
        __m256 pl, ql;
        const int *cg = grey_col + g;
        bce_clamp(_mm256_setr_ps(p[cg[0]], p[cg[1]], p[cg[2]], p[cg[3]], p[cg[4]], p[cg[5]], p[cg[6]], p[cg[7]]), c,
                  &pl, &ql);
        const __m256 lr = v_log(_mm256_div_ps(pl, ql));
        s0 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(t)),
                             _mm256_cvtps_pd(_mm256_castps256_ps128(lr)), s0);
        s1 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(t, 1)),
                             _mm256_cvtps_pd(_mm256_extractf128_ps(lr, 1)), s1);
    }
    _mm256_storeu_pd(mv, _mm256_add_pd(s0, s1));
    return -(ll + ((mv[0] + mv[1]) + (mv[2] + mv[3])));
}

#pragma GCC pop_options

/* The same in 16 lanes, where the CPU has AVX-512 (a Zen 5 core runs them at
 * twice the rate of 8; 0.22 us an MNIST row against 0.32): the same factors,
 * renormalisation and logs (v_log's reduction and polynomial in 16 lanes), so the
 * two differ by rounding only. */
#pragma GCC push_options
#pragma GCC target("avx512f")

static inline __m512 bce_log16(__m512 x)
{
    const __m512i bits = _mm512_castps_si512(x);
    const __m512i e = _mm512_sub_epi32(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(127));
    __m512 m = _mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi32(0x007fffff)),
                                                   _mm512_set1_epi32(0x3f800000)));
    const __mmask16 big = _mm512_cmp_ps_mask(m, _mm512_set1_ps(1.41421356f), _CMP_GT_OQ);
    m = _mm512_mask_mul_ps(m, big, m, _mm512_set1_ps(0.5f));
    const __m512 ef = _mm512_mask_add_ps(_mm512_cvtepi32_ps(e), big, _mm512_cvtepi32_ps(e),
                                         _mm512_set1_ps(1.0f));
    const __m512 f = _mm512_sub_ps(m, _mm512_set1_ps(1.0f)), z = _mm512_mul_ps(f, f);
    static const float poly[] = { 7.0376836292e-2f, -1.1514610310e-1f, 1.1676998740e-1f,
                                  -1.2420140846e-1f, 1.4249322787e-1f, -1.6668057665e-1f,
                                  2.0000714765e-1f, -2.4999993993e-1f, 3.3333331174e-1f };
    __m512 q = _mm512_set1_ps(poly[0]);
    for (int i = 1; i < 9; i++) q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(poly[i]));
    __m512 y = _mm512_mul_ps(_mm512_mul_ps(q, f), z);
    y = _mm512_fmadd_ps(ef, _mm512_set1_ps(-2.12194440e-4f), y);
    y = _mm512_fnmadd_ps(z, _mm512_set1_ps(0.5f), y);
    return _mm512_fmadd_ps(ef, _mm512_set1_ps(0.693359375f), _mm512_add_ps(f, y));
}

static inline void bce_clamp16(__m512 p, const vae_bce_clamp *c, __m512 *pl, __m512 *ql)
{
    *pl = _mm512_min_ps(_mm512_max_ps(_mm512_set1_ps(c->low_p), p), _mm512_set1_ps(c->high_p));
    *ql = _mm512_max_ps(_mm512_min_ps(_mm512_set1_ps(c->low_q), _mm512_sub_ps(_mm512_set1_ps(1.0f), p)),
                        _mm512_set1_ps(c->high_q));
}

static inline __m512 bce_factor16(__m512 p, const uint8_t *ones, const vae_bce_clamp *c)
{
    __m512 pl, ql;
    bce_clamp16(p, c, &pl, &ql);
    uint16_t one;
    memcpy(&one, ones, sizeof one); /* little-endian: pixel j is bit j */
    return _mm512_mask_blend_ps(one, ql, pl);
}

static inline __m512 bce_renorm16(__m512 a, __m512i *e)
{
    const __m512i b = _mm512_castps_si512(a);
    *e = _mm512_add_epi32(*e, _mm512_sub_epi32(_mm512_srli_epi32(b, 23), _mm512_set1_epi32(127)));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(b, _mm512_set1_epi32(0x007fffff)),
                                               _mm512_set1_epi32(0x3f800000)));
}

static double bce_product_avx512(const uint8_t *ones, const float *p, int D,
                                 const vae_bce_clamp *c, int renorm, const int *grey_col,
                                 const float *grey_t, int n_grey)
{
    __m512 a0 = _mm512_set1_ps(1.0f), a1 = a0;
    __m512i e = _mm512_setzero_si512();
    int j = 0;
    for (int since = 0; j + 32 <= D; j += 32) {
        a0 = _mm512_mul_ps(a0, bce_factor16(_mm512_loadu_ps(p + j), ones + j / 8, c));
        a1 = _mm512_mul_ps(a1, bce_factor16(_mm512_loadu_ps(p + j + 16), ones + j / 8 + 2, c));
        if (++since == renorm) {
            a0 = bce_renorm16(a0, &e);
            a1 = bce_renorm16(a1, &e);
            since = 0;
        }
    }
    a0 = bce_renorm16(a0, &e);
    a1 = bce_renorm16(a1, &e);
    for (int k = 0; j < D; j += 16, k++) { /* at most 31 left: one factor more per product */
        const __mmask16 lanes = D - j >= 16 ? 0xffff : (__mmask16)((1u << (D - j)) - 1);
        const __m512 f = _mm512_mask_blend_ps(
            lanes, _mm512_set1_ps(1.0f),
            bce_factor16(_mm512_maskz_loadu_ps(lanes, p + j), ones + j / 8, c));
        if (k) a1 = _mm512_mul_ps(a1, f);
        else a0 = _mm512_mul_ps(a0, f);
    }
    a0 = bce_renorm16(a0, &e);
    a1 = bce_renorm16(a1, &e);
    /* 32 mantissas in [1, 2): their product (below 2^32) in double, one log */
    const __m512d m = _mm512_mul_pd(
        _mm512_mul_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(a0)),
                      _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a0), 1)))),
        _mm512_mul_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(a1)),
                      _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a1), 1)))));
    const double ll = log(_mm512_reduce_mul_pd(m)) +
                      0.6931471805599453 * (double)_mm512_reduce_add_epi32(e);
    __m512d s0 = _mm512_setzero_pd(), s1 = s0;
    for (int g = 0; g < n_grey; g += 16) { /* the grey pixels, padding t = 0 */
        const __mmask16 lanes = n_grey - g >= 16 ? 0xffff : 0xff; /* n_grey is a multiple of 8 */
        const __m512 t = _mm512_maskz_loadu_ps(lanes, grey_t + g);
        __m512 pl, ql;
        bce_clamp16(_mm512_mask_i32gather_ps(_mm512_set1_ps(0.5f), lanes,
                                             _mm512_maskz_loadu_epi32(lanes, grey_col + g), p, 4),
                    c, &pl, &ql);
        const __m512 lr = bce_log16(_mm512_div_ps(pl, ql));
        s0 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(t)),
                             _mm512_cvtps_pd(_mm512_castps512_ps256(lr)), s0);
        s1 = _mm512_fmadd_pd(
            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t), 1))),
            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(lr), 1))), s1);
    }
    return -(ll + _mm512_reduce_add_pd(_mm512_add_pd(s0, s1)));
}

#pragma GCC pop_options

static int cpu_avx512(void)
{
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512f");
    }
    return known;
}

double vae_bce_product_nll(const uint8_t *ones, const float *p, int D, const vae_bce_clamp *c,
                           int renorm, const int *grey_col, const float *grey_t, int n_grey)
{
    if (cpu_avx512())
        return bce_product_avx512(ones, p, D, c, renorm, grey_col, grey_t, n_grey);
    return vae_bce_product_nll8(ones, p, D, c, renorm, grey_col, grey_t, n_grey);
}

/* ---------- a dense layer on a CSR input ---------- */

int vae_sparse_parts(const vae_csr *x, int n_out, int threads)
{
    const double macs = (double)x->ptr[x->rows] * n_out;
    int parts = macs < 2e5 ? 1 : threads;
    const int blocks = (n_out + 7) / 8; /* the backward pass splits 8-column blocks */
    if (parts > blocks) parts = blocks;
    if (parts > x->rows) parts = x->rows;
    return parts < 1 ? 1 : parts;
}

void vae_sparse_forward_part(const vae_sparse_job *j, int part, int parts)
{
    avx2_sparse_forward_rows(j->x, j->W, j->b, j->y, j->n_out, j->act,
                             (int)((long)j->x->rows * part / parts),
                             (int)((long)j->x->rows * (part + 1) / parts));
}

void vae_sparse_backward_part(const vae_sparse_job *j, int part, int parts)
{
    const int blocks = (j->n_out + 7) / 8;
    const int c0 = blocks * part / parts * 8, c1 = blocks * (part + 1) / parts * 8;
    avx2_sparse_backward_cols(j->x, j->y, j->dy, j->dpre, j->dW, j->db, j->n_out, j->act, c0,
                              c1 < j->n_out ? c1 : j->n_out);
}

typedef struct sparse_run {
    const vae_sparse_job *job;
    int parts, backward;
} sparse_run;

static void sparse_job(void *arg, int part)
{
    const sparse_run *r = arg;
    if (r->backward) vae_sparse_backward_part(r->job, part, r->parts);
    else vae_sparse_forward_part(r->job, part, r->parts);
}

static int pool_sparse(const vae_sparse_job *j, int backward)
{
    if (!vae_cpu_avx2() || (unsigned)j->act >= VAE_ACT_COUNT) return VAE_DECLINED;
    sparse_run r = { j, vae_sparse_parts(j->x, j->n_out, vae_pool_threads_wanted(1e9)), backward };
    if (r.parts > 1) vae_pool_run(r.parts, sparse_job, &r);
    else sparse_job(&r, 0);
    return VAE_OK;
}

int vae_pool_sparse_forward(const vae_csr *x, const float *W, const float *b, float *y, int n_out,
                            vae_act act, vae_error *err)
{
    (void)err;
    const vae_sparse_job j = { x, W, b, y, NULL, NULL, NULL, NULL, n_out, act };
    return pool_sparse(&j, 0);
}

int vae_pool_sparse_backward(const vae_csr *x, const float *y, const float *dy, float *dpre,
                             float *dW, float *db, int n_out, vae_act act, vae_error *err)
{
    (void)err;
    const vae_sparse_job j = { x, NULL, NULL, (float *)y, dy, dpre, dW, db, n_out, act };
    return pool_sparse(&j, 1);
}
