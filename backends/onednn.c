/* The oneDNN backend: dense layers as oneDNN 2.6 matmul primitives.
 *
 * Forward is one matmul with bias and the activation fused as an eltwise post-op.
 * Backward is an eltwise backward primitive (computed from the output y), then
 * dW += x^T dpre as a matmul over a transposed (strided) view of x with a sum
 * post-op, and dx = dpre W^T as a matmul over a transposed view of W. Nothing is
 * copied: memory objects wrap the caller's buffers and their handles are set on
 * every call. Primitives are built per layer and batch size and kept in a small
 * least-recently-used cache in the layer's state, keyed by the thread count too
 * (oneDNN blocks its kernels for the thread count at creation).
 *
 * Adam and the Bernoulli likelihood run the shared element-wise parts (pool.c)
 * on an OpenMP team: oneDNN's threads are OpenMP's, so no second set of threads
 * competes with them for the cores. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <dnnl.h>
#include <dnnl_debug.h>

#include "../harness/backend.h"
#include "pool.h"

/* batch sizes kept per layer: training, the last short batch, evaluation chunks */
enum { CACHE_SLOTS = 4 };

static dnnl_engine_t engine;
static dnnl_stream_t stream;

/* On a failed oneDNN call: fill err ("onednn: <op> <step> failed: <status>"), rc = VAE_FAIL,
 * and go to the clean-up at done. */
#define CHECK_OP(call, op, step)                                                          \
    do {                                                                                  \
        dnnl_status_t st_ = (call);                                                       \
        if (st_ != dnnl_success) {                                                        \
            rc = vae_fail(err, "onednn: %s%s%s failed: %s", (op), *(op) ? " " : "", (step), \
                          dnnl_status2str(st_));                                          \
            goto done;                                                                    \
        }                                                                                 \
    } while (0)
#define CHECK(call, step) CHECK_OP(call, "", step)

typedef struct batch_slot {
    int B, threads; /* B == 0: empty */
    unsigned long last_use;
    /* wrappers of the caller's buffers; x_t is x viewed as (n_in x B) */
    dnnl_memory_t x, x_t, y, dy, dpre, dx;
    dnnl_primitive_t fwd, act_bwd, dw, dxp;
    dnnl_primitive_desc_t act_hint; /* eltwise forward pd, the hint act_bwd was made with */
} batch_slot;

typedef struct layer_state {
    int n_in, n_out;
    vae_act act;
    unsigned long clock;
    dnnl_memory_t W, W_t, b, dW; /* W_t is W viewed as (n_out x n_in) */
    batch_slot slot[CACHE_SLOTS];
} layer_state;

static int ensure_engine(vae_error *err)
{
    int rc = VAE_OK;
    if (!engine) CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0), "CPU engine creation");
    if (!stream) CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags),
                       "stream creation");
done:
    return rc;
}

static int available(char *why, size_t why_len)
{
    vae_error e;
    if (ensure_engine(&e) == VAE_OK) return 0;
    if (why && why_len) {
        strncpy(why, e.msg, why_len - 1);
        why[why_len - 1] = '\0';
    }
    return -1;
}

static void set_threads(int threads)
{
    omp_set_num_threads(threads > 0 ? threads : omp_get_num_procs());
}

/* ---- memory objects ---- */

/* a (rows x cols) f32 matrix with the given strides, wrapping no buffer yet */
static int make_memory(dnnl_memory_t *mem, dnnl_dim_t rows, dnnl_dim_t cols,
                       dnnl_dim_t row_stride, dnnl_dim_t col_stride, vae_error *err)
{
    int rc = VAE_OK;
    dnnl_memory_desc_t md;
    const dnnl_dims_t dims = { rows, cols }, strides = { row_stride, col_stride };
    CHECK(dnnl_memory_desc_init_by_strides(&md, 2, dims, dnnl_f32, strides),
          "memory descriptor");
    CHECK(dnnl_memory_create(mem, &md, engine, DNNL_MEMORY_NONE), "memory creation");
done:
    return rc;
}

static const dnnl_memory_desc_t *md_of(dnnl_memory_t mem)
{
    const dnnl_memory_desc_t *md = NULL;
    return dnnl_memory_get_memory_desc(mem, &md) == dnnl_success ? md : NULL;
}

static void memory_free(dnnl_memory_t *mem)
{
    if (*mem) dnnl_memory_destroy(*mem);
    *mem = NULL;
}

static int wait_stream(vae_error *err)
{
    int rc = VAE_OK;
    CHECK(dnnl_stream_wait(stream), "stream wait");
done:
    return rc;
}

static int wrap(dnnl_memory_t mem, const void *ptr, vae_error *err)
{
    int rc = VAE_OK;
    /* oneDNN takes void *; the primitives only read the inputs */
    CHECK(dnnl_memory_set_data_handle(mem, (void *)(uintptr_t)ptr), "setting a data handle");
done:
    return rc;
}

/* ---- primitives ---- */

static void prim_free(dnnl_primitive_t *p)
{
    if (*p) dnnl_primitive_destroy(*p);
    *p = NULL;
}

static int prim_make(dnnl_primitive_t *p, const char *what, dnnl_primitive_desc_t pd,
                     vae_error *err)
{
    int rc = VAE_OK;
    CHECK_OP(dnnl_primitive_create(p, pd), what, "primitive creation");
done:
    return rc;
}

/* Executes p, the op named what. The scratchpad is left to oneDNN: it reuses one
 * buffer across executions (measured: no allocation per call). */
static int prim_run(dnnl_primitive_t p, const char *what, const dnnl_exec_arg_t *args,
                    int nargs, vae_error *err)
{
    int rc = VAE_OK;
    CHECK_OP(dnnl_primitive_execute(p, stream, nargs, args), what, "execution");
done:
    return rc;
}

/* the eltwise algorithm of a forward post-op; 0 for linear */
static dnnl_alg_kind_t fwd_alg(vae_act act, float *alpha)
{
    *alpha = 0.0f;
    switch (act) {
    case VAE_ACT_RELU: return dnnl_eltwise_relu;
    case VAE_ACT_TANH: return dnnl_eltwise_tanh;
    case VAE_ACT_ELU: *alpha = 1.0f; return dnnl_eltwise_elu;
    case VAE_ACT_SOFTPLUS: return dnnl_eltwise_soft_relu;
    case VAE_ACT_SIGMOID: return dnnl_eltwise_logistic;
    default: return dnnl_alg_kind_undef;
    }
}

/* the backward algorithm that reads the output y; 0 where there is none */
static dnnl_alg_kind_t bwd_alg(vae_act act, float *alpha)
{
    *alpha = 0.0f;
    switch (act) {
    case VAE_ACT_RELU: return dnnl_eltwise_relu_use_dst_for_bwd;
    case VAE_ACT_TANH: return dnnl_eltwise_tanh_use_dst_for_bwd;
    case VAE_ACT_ELU: *alpha = 1.0f; return dnnl_eltwise_elu_use_dst_for_bwd;
    case VAE_ACT_SIGMOID: return dnnl_eltwise_logistic_use_dst_for_bwd;
    default: return dnnl_alg_kind_undef;
    }
}

/* The first implementation whose name starts with prefer, or NULL. The search only
 * tunes the choice: on any failure it gives NULL and the caller takes oneDNN's default. */
static dnnl_primitive_desc_t find_impl(const_dnnl_op_desc_t desc,
                                       const_dnnl_primitive_attr_t attr, const char *prefer)
{
    dnnl_primitive_desc_iterator_t it;
    dnnl_primitive_desc_t found = NULL;
    if (dnnl_primitive_desc_iterator_create(&it, desc, attr, engine, NULL) != dnnl_success)
        return NULL;
    do {
        dnnl_primitive_desc_t pd = dnnl_primitive_desc_iterator_fetch(it);
        const char *impl = NULL;
        if (pd &&
            dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
            impl && strncmp(impl, prefer, strlen(prefer)) == 0) {
            found = pd;
            break;
        }
        if (pd) dnnl_primitive_desc_destroy(pd);
    } while (dnnl_primitive_desc_iterator_next(it) == dnnl_success);
    dnnl_primitive_desc_iterator_destroy(it);
    return found;
}

/* dst = src wei (+ bias), then the activation (fwd_act) or dst += old dst (sum);
 * prefer (or NULL) names the implementation to take where oneDNN has it */
static int make_matmul(dnnl_primitive_t *p, const char *what, const char *prefer,
                       dnnl_memory_t src, dnnl_memory_t wei, dnnl_memory_t bias,
                       dnnl_memory_t dst, vae_act fwd_act, int sum, vae_error *err)
{
    int rc = VAE_OK;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_matmul_desc_t desc;
    float alpha;
    dnnl_alg_kind_t alg = fwd_alg(fwd_act, &alpha);

    CHECK_OP(dnnl_matmul_desc_init(&desc, md_of(src), md_of(wei), bias ? md_of(bias) : NULL,
                                   md_of(dst)), what, "descriptor");
    CHECK_OP(dnnl_primitive_attr_create(&attr), what, "attribute creation");
    if (sum || alg != dnnl_alg_kind_undef) {
        CHECK_OP(dnnl_post_ops_create(&ops), what, "post-op creation");
        if (sum) CHECK_OP(dnnl_post_ops_append_sum(ops, 1.0f), what, "sum post-op");
        if (alg != dnnl_alg_kind_undef)
            CHECK_OP(dnnl_post_ops_append_eltwise(ops, 1.0f, alg, alpha, 0.0f), what,
                     "eltwise post-op");
        CHECK_OP(dnnl_primitive_attr_set_post_ops(attr, ops), what, "setting post-ops");
    }
    if (prefer) pd = find_impl(&desc, attr, prefer);
    if (!pd)
        CHECK_OP(dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL), what,
                 "primitive descriptor creation");
    rc = prim_make(p, what, pd, err);
done:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (ops) dnnl_post_ops_destroy(ops);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return rc;
}

/* dpre = dy * act'(y) over (B x n_out), from the output y */
static int make_act_bwd(batch_slot *s, vae_act act, vae_error *err)
{
    int rc = VAE_OK;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_eltwise_desc_t fwd_desc, bwd_desc;
    float alpha;
    dnnl_alg_kind_t alg = bwd_alg(act, &alpha);
    const dnnl_memory_desc_t *md = md_of(s->y);

    CHECK(dnnl_eltwise_forward_desc_init(&fwd_desc, dnnl_forward_training, alg, md, alpha, 0.0f),
          "eltwise forward descriptor");
    CHECK(dnnl_primitive_desc_create(&s->act_hint, &fwd_desc, NULL, engine, NULL),
          "eltwise forward primitive descriptor creation");
    CHECK(dnnl_eltwise_backward_desc_init(&bwd_desc, alg, md, md, alpha, 0.0f),
          "eltwise backward descriptor");
    CHECK(dnnl_primitive_desc_create(&pd, &bwd_desc, NULL, engine, s->act_hint),
          "eltwise backward primitive descriptor creation");
    rc = prim_make(&s->act_bwd, "eltwise backward", pd, err);
done:
    if (rc != VAE_OK && s->act_hint) { /* made again on the next try */
        dnnl_primitive_desc_destroy(s->act_hint);
        s->act_hint = NULL;
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    return rc;
}

/* ---- the per-layer cache ---- */

static void slot_free(batch_slot *s)
{
    prim_free(&s->fwd);
    prim_free(&s->act_bwd);
    prim_free(&s->dw);
    prim_free(&s->dxp);
    if (s->act_hint) dnnl_primitive_desc_destroy(s->act_hint);
    s->act_hint = NULL;
    memory_free(&s->x);
    memory_free(&s->x_t);
    memory_free(&s->y);
    memory_free(&s->dy);
    memory_free(&s->dpre);
    memory_free(&s->dx);
    s->B = 0;
}

static void layer_state_free(void *state)
{
    layer_state *ls = state;
    if (!ls) return;
    for (int i = 0; i < CACHE_SLOTS; i++) slot_free(&ls->slot[i]);
    memory_free(&ls->W);
    memory_free(&ls->W_t);
    memory_free(&ls->b);
    memory_free(&ls->dW);
    free(ls);
}

/* The layer's state for this shape, made (or remade, if the shape changed) on demand. */
static layer_state *get_layer(void **state, int n_in, int n_out, vae_act act, vae_error *err)
{
    layer_state *ls = *state;
    if (ls && ls->n_in == n_in && ls->n_out == n_out && ls->act == act) return ls;
    layer_state_free(ls);
    *state = NULL;
    if (ensure_engine(err) != VAE_OK) return NULL;
    ls = calloc(1, sizeof *ls);
    if (!ls) {
        vae_fail(err, "onednn: out of memory for a layer's state");
        return NULL;
    }
    ls->n_in = n_in;
    ls->n_out = n_out;
    ls->act = act;
    if (make_memory(&ls->W, n_in, n_out, n_out, 1, err) != VAE_OK ||
        make_memory(&ls->W_t, n_out, n_in, 1, n_out, err) != VAE_OK ||
        make_memory(&ls->b, 1, n_out, n_out, 1, err) != VAE_OK ||
        make_memory(&ls->dW, n_in, n_out, n_out, 1, err) != VAE_OK) {
        layer_state_free(ls);
        return NULL;
    }
    *state = ls;
    return ls;
}

/* The slot for batch size B at the current thread count; the least recently used
 * one is emptied and refilled on a miss. Primitives are made later, when needed. */
static batch_slot *get_slot(layer_state *ls, int B, vae_error *err)
{
    const int threads = omp_get_max_threads();
    batch_slot *s = NULL;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        batch_slot *t = &ls->slot[i];
        if (t->B == B && t->threads == threads) { s = t; break; }
    }
    if (!s) {
        s = &ls->slot[0];
        for (int i = 1; i < CACHE_SLOTS; i++)
            if (ls->slot[i].last_use < s->last_use) s = &ls->slot[i];
        slot_free(s);
        const int n_in = ls->n_in, n_out = ls->n_out;
        if (make_memory(&s->x, B, n_in, n_in, 1, err) != VAE_OK ||
            make_memory(&s->x_t, n_in, B, 1, n_in, err) != VAE_OK ||
            make_memory(&s->y, B, n_out, n_out, 1, err) != VAE_OK ||
            make_memory(&s->dy, B, n_out, n_out, 1, err) != VAE_OK ||
            make_memory(&s->dpre, B, n_out, n_out, 1, err) != VAE_OK ||
            make_memory(&s->dx, B, n_in, n_in, 1, err) != VAE_OK) {
            slot_free(s);
            return NULL;
        }
        s->B = B;
        s->threads = threads;
    }
    s->last_use = ++ls->clock;
    return s;
}

/* Zero-sized shapes and unknown activations go to naive; oneDNN need not see them.
 * Nor do small products: a primitive call costs microseconds (and an OpenMP
 * fork-join, which on a shared machine can wait a time slice), more than naive
 * takes for the whole product below SMALL_MACS multiply-adds (the s-curve models'
 * layers are 3200-6400; the smallest MNIST one 1M). */
enum { SMALL_MACS = 1 << 17 };

static int declined(int B, int n_in, int n_out, vae_act act)
{
    return n_in <= 0 || n_out <= 0 || (unsigned)act >= VAE_ACT_COUNT ||
           (double)B * n_in * n_out < SMALL_MACS;
}

/* ---- the dense slots ---- */

/* db (n) += column sums of g (rows x n); omp simd, as -O2 leaves a loop of unknown
 * length scalar */
static void add_column_sums(float *restrict db, const float *restrict g, int rows, int n)
{
    for (int r = 0; r < rows; r++) {
        const float *restrict gr = g + (size_t)r * (size_t)n;
#pragma omp simd
        for (int o = 0; o < n; o++) db[o] += gr[o];
    }
}

static void softplus_grad(float *dpre, const float *y, const float *dy, size_t n)
{
    for (size_t i = 0; i < n; i++) dpre[i] = dy[i] * -expm1f(-y[i]);
}

static int dense_forward(void **state, const float *x, const float *W, const float *b,
                         float *y, int B, int n_in, int n_out, vae_act act, vae_error *err)
{
    if (declined(B, n_in, n_out, act)) return VAE_DECLINED;
    if (B <= 0) return VAE_OK;
    layer_state *ls = get_layer(state, n_in, n_out, act, err);
    if (!ls) return VAE_FAIL;
    batch_slot *s = get_slot(ls, B, err);
    if (!s) return VAE_FAIL;
    if (!s->fwd && make_matmul(&s->fwd, "forward matmul", NULL, s->x, ls->W, ls->b, s->y, act,
                               0, err) != VAE_OK)
        return VAE_FAIL;

    if (wrap(s->x, x, err) || wrap(ls->W, W, err) || wrap(ls->b, b, err) || wrap(s->y, y, err))
        return VAE_FAIL;
    const dnnl_exec_arg_t args[] = {
        { DNNL_ARG_SRC, s->x }, { DNNL_ARG_WEIGHTS, ls->W }, { DNNL_ARG_BIAS, ls->b },
        { DNNL_ARG_DST, s->y },
    };
    if (prim_run(s->fwd, "forward matmul", args, 4, err) != VAE_OK) return VAE_FAIL;
    return wait_stream(err);
}

static int dense_backward(void **state, const float *x, const float *W, const float *y,
                          const float *dy, float *dpre, float *dx, float *dW, float *db,
                          int B, int n_in, int n_out, vae_act act, vae_error *err)
{
    if (declined(B, n_in, n_out, act)) return VAE_DECLINED;
    if (B <= 0) return VAE_OK; /* nothing to accumulate; dx is empty */
    layer_state *ls = get_layer(state, n_in, n_out, act, err);
    if (!ls) return VAE_FAIL;
    batch_slot *s = get_slot(ls, B, err);
    if (!s) return VAE_FAIL;
    const size_t n = (size_t)B * (size_t)n_out;
    float alpha;

    /* dpre = dy * act'(y) */
    if (bwd_alg(act, &alpha) != dnnl_alg_kind_undef) {
        if (!s->act_bwd && make_act_bwd(s, act, err) != VAE_OK) return VAE_FAIL;
        if (wrap(s->y, y, err) || wrap(s->dy, dy, err) || wrap(s->dpre, dpre, err))
            return VAE_FAIL;
        const dnnl_exec_arg_t args[] = {
            { DNNL_ARG_DST, s->y }, { DNNL_ARG_DIFF_DST, s->dy }, { DNNL_ARG_DIFF_SRC, s->dpre },
        };
        if (prim_run(s->act_bwd, "eltwise backward", args, 3, err) != VAE_OK ||
            wait_stream(err) != VAE_OK)
            return VAE_FAIL;
    } else if (act == VAE_ACT_SOFTPLUS) { /* no use_dst form: sigmoid(x) = 1 - e^-y */
        softplus_grad(dpre, y, dy, n);
    } else if (dpre != dy) {
        memcpy(dpre, dy, n * sizeof *dpre);
    }

    /* dW += x^T dpre, by the gemm-based implementation: oneDNN's default (brgemm)
     * copies the transposed view of x into its own layout on every call and made this
     * backward pass 5-10% slower (784-400 layers, batch 128, AVX-512, 1 and 2 threads). */
    if (!s->dw && make_matmul(&s->dw, "dW matmul", "gemm", s->x_t, s->dpre, NULL, ls->dW,
                              VAE_ACT_LINEAR, 1, err))
        return VAE_FAIL;
    if (wrap(s->x_t, x, err) || wrap(s->dpre, dpre, err) || wrap(ls->dW, dW, err))
        return VAE_FAIL;
    const dnnl_exec_arg_t dw_args[] = {
        { DNNL_ARG_SRC, s->x_t }, { DNNL_ARG_WEIGHTS, s->dpre }, { DNNL_ARG_DST, ls->dW },
    };
    if (prim_run(s->dw, "dW matmul", dw_args, 3, err) != VAE_OK) return VAE_FAIL;

    /* dx = dpre W^T */
    if (dx) {
        if (!s->dxp && make_matmul(&s->dxp, "dx matmul", NULL, s->dpre, ls->W_t, NULL, s->dx,
                                     VAE_ACT_LINEAR, 0, err))
            return VAE_FAIL;
        if (wrap(ls->W_t, W, err) || wrap(s->dx, dx, err)) return VAE_FAIL;
        const dnnl_exec_arg_t dx_args[] = {
            { DNNL_ARG_SRC, s->dpre }, { DNNL_ARG_WEIGHTS, ls->W_t }, { DNNL_ARG_DST, s->dx },
        };
        if (prim_run(s->dxp, "dx matmul", dx_args, 3, err) != VAE_OK) return VAE_FAIL;
    }
    if (wait_stream(err) != VAE_OK) return VAE_FAIL;

    add_column_sums(db, dpre, B, n_out);
    return VAE_OK;
}

/* ---- the element-wise passes on OpenMP's threads ---- */

static void adam_update(float *p, float *g, float *m, float *v, size_t n, const vae_adam_step *s)
{
    const vae_adam_job j = { p, g, m, v, n, s };
    const int parts = vae_adam_parts(n, omp_get_max_threads());
    if (parts == 1) {
        vae_adam_part(&j, 0, 1);
        return;
    }
#pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int part = 0; part < parts; part++) vae_adam_part(&j, part, parts);
}

static int bernoulli_nll(const float *x, int x_rows, const float *p, int rows, int D,
                         const vae_bce_clamp *c, double *nll, float *dout, float scale)
{
    if (!vae_cpu_avx2()) return VAE_DECLINED; /* the reference loop is as fast */
    if (rows < 1) return VAE_OK;
    const vae_bce_job j = { x, p, x_rows, rows, D, c, nll, dout, scale };
    const int parts = vae_bce_parts(rows, D, omp_get_max_threads());
    if (parts == 1) {
        vae_bce_part(&j, 0, 1);
        return VAE_OK;
    }
#pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int part = 0; part < parts; part++) vae_bce_part(&j, part, parts);
    return VAE_OK;
}

/* the sparse first layer (pool.c's parts) on OpenMP's threads */
static int sparse_run(const vae_sparse_job *j, int backward)
{
    if (!vae_cpu_avx2() || (unsigned)j->act >= VAE_ACT_COUNT) return VAE_DECLINED;
    const int parts = vae_sparse_parts(j->x, j->n_out, omp_get_max_threads());
#pragma omp parallel for num_threads(parts) schedule(static, 1) if (parts > 1)
    for (int part = 0; part < parts; part++) {
        if (backward) vae_sparse_backward_part(j, part, parts);
        else vae_sparse_forward_part(j, part, parts);
    }
    return VAE_OK;
}

static int sparse_forward(const vae_csr *x, const float *W, const float *b, float *y, int n_out,
                          vae_act act, vae_error *err)
{
    (void)err;
    const vae_sparse_job j = { x, W, b, y, NULL, NULL, NULL, NULL, n_out, act };
    return sparse_run(&j, 0);
}

static int sparse_backward(const vae_csr *x, const float *y, const float *dy, float *dpre,
                           float *dW, float *db, int n_out, vae_act act, vae_error *err)
{
    (void)err;
    const vae_sparse_job j = { x, NULL, NULL, (float *)y, dy, dpre, dW, db, n_out, act };
    return sparse_run(&j, 1);
}

/* dnnl_sgemm is row-major, as the harness is */
static void raw_sgemm(char ta, char tb, int M, int N, int K, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc)
{
    dnnl_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

/* sparse_density, measured (784->400 relu at batch 128, forward + dW, random
 * zeros, 2 threads, interleaved, best of 41): oneDNN's AVX-512 matmul beats the
 * AVX2 sparse kernels already at 15% density (sparse / dense 1.18; 1.38 at 25%)
 * on this Zen 5 class CPU, so only very sparse batches take them */
#define SPARSE_DENSITY 0.1f

const vae_backend vae_backend_onednn = {
    .name = "onednn",
    .description = "Intel oneDNN 2.6 matmul primitives, cached per layer and batch size, "
                   "activation fused as a post-op",
    .available = available,
    .set_threads = set_threads,
    .dense_forward = dense_forward,
    .dense_backward = dense_backward,
    .state_free = layer_state_free,
    .adam_update = adam_update,
    .bernoulli_nll = bernoulli_nll,
    .sparse_forward = sparse_forward,
    .sparse_backward = sparse_backward,
    .sparse_density = SPARSE_DENSITY,
    .raw_sgemm = raw_sgemm,
};
