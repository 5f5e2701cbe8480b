/* The shared thread pool and the threaded element-wise passes (pool.h). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
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
