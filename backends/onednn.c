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
 * Precision bf16 has the same three products over bf16 operands (the bf16 section
 * below), on CPUs with AVX512-BF16 or AMX only.
 *
 * Adam and the Bernoulli likelihood run the shared element-wise parts (pool.c)
 * on an OpenMP team: oneDNN's threads are OpenMP's, so no second set of threads
 * competes with them for the cores. */
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
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

/* The weights operand (K x N) of a bf16 product in the layout its matmul picked: packed
 * here (convert_weights) when that is BA16a<nb>b2a, blocks of 32 rows by nb columns with
 * each pair of rows interleaved for the dot-product instructions, else converted by a
 * reorder primitive from the f32 operand. oneDNN allocates the buffer; the padding is
 * zeroed once and never written with anything but zeros. */
typedef struct bf16_weights {
    dnnl_memory_t mem;
    uint16_t *buf;
    int nb;                       /* 0: a layout packed by the reorder */
    dnnl_dim_t kstride, nstride;  /* elements between blocks of 32 rows, of nb columns */
    dnnl_primitive_t reorder;
} bf16_weights;

typedef struct batch_slot {
    int B, threads; /* B == 0: empty */
    unsigned long last_use;
    /* wrappers of the caller's buffers; x_t is x viewed as (n_in x B) */
    dnnl_memory_t x, x_t, y, dy, dpre, dx;
    dnnl_primitive_t fwd, act_bwd, dw, dxp;
    dnnl_primitive_desc_t act_hint; /* eltwise forward pd, the hint act_bwd was made with */
    /* precision bf16: the bf16 copies of the source operands (oneDNN allocates them;
     * xb_t is xb viewed as (n_in x B); dpre_b is dW's weights and dx's source), the
     * blocked weights of the forward (W) and dx (W^T) products, and the three products */
    dnnl_memory_t xb, xb_t, dpre_b;
    bf16_weights w_fwd, w_dx;
    dnnl_primitive_t fwd16, dw16, dx16;
} batch_slot;

typedef struct layer_state {
    int n_in, n_out;
    vae_act act;
    int avx512_bf16; /* the conversions may use AVX512-BF16's (checked when made) */
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

/* a (rows x cols) matrix of type dt with the given strides, on handle (DNNL_MEMORY_NONE:
 * wrapping no buffer yet; DNNL_MEMORY_ALLOCATE: oneDNN's own) */
static int make_memory_of(dnnl_memory_t *mem, dnnl_dim_t rows, dnnl_dim_t cols,
                          dnnl_dim_t row_stride, dnnl_dim_t col_stride, dnnl_data_type_t dt,
                          void *handle, vae_error *err)
{
    int rc = VAE_OK;
    dnnl_memory_desc_t md;
    const dnnl_dims_t dims = { rows, cols }, strides = { row_stride, col_stride };
    CHECK(dnnl_memory_desc_init_by_strides(&md, 2, dims, dt, strides), "memory descriptor");
    CHECK(dnnl_memory_create(mem, &md, engine, handle), "memory creation");
done:
    return rc;
}

/* a (rows x cols) f32 matrix with the given strides, wrapping no buffer yet */
static int make_memory(dnnl_memory_t *mem, dnnl_dim_t rows, dnnl_dim_t cols,
                       dnnl_dim_t row_stride, dnnl_dim_t col_stride, vae_error *err)
{
    return make_memory_of(mem, rows, cols, row_stride, col_stride, dnnl_f32, DNNL_MEMORY_NONE,
                          err);
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

/* the attribute of a matmul: the activation (fwd_act) as an eltwise post-op, or
 * dst += old dst (sum) */
static int matmul_attr(dnnl_primitive_attr_t *attr, const char *what, vae_act fwd_act, int sum,
                       vae_error *err)
{
    int rc = VAE_OK;
    dnnl_post_ops_t ops = NULL;
    float alpha;
    dnnl_alg_kind_t alg = fwd_alg(fwd_act, &alpha);

    *attr = NULL;
    CHECK_OP(dnnl_primitive_attr_create(attr), what, "attribute creation");
    if (sum || alg != dnnl_alg_kind_undef) {
        CHECK_OP(dnnl_post_ops_create(&ops), what, "post-op creation");
        if (sum) CHECK_OP(dnnl_post_ops_append_sum(ops, 1.0f), what, "sum post-op");
        if (alg != dnnl_alg_kind_undef)
            CHECK_OP(dnnl_post_ops_append_eltwise(ops, 1.0f, alg, alpha, 0.0f), what,
                     "eltwise post-op");
        CHECK_OP(dnnl_primitive_attr_set_post_ops(*attr, ops), what, "setting post-ops");
    }
done:
    if (ops) dnnl_post_ops_destroy(ops);
    if (rc != VAE_OK && *attr) {
        dnnl_primitive_attr_destroy(*attr);
        *attr = NULL;
    }
    return rc;
}

/* dst = src wei (+ bias), then the activation (fwd_act) or dst += old dst (sum);
 * prefer (or NULL) names the implementation to take where oneDNN has it */
static int make_matmul(dnnl_primitive_t *p, const char *what, const char *prefer,
                       dnnl_memory_t src, dnnl_memory_t wei, dnnl_memory_t bias,
                       dnnl_memory_t dst, vae_act fwd_act, int sum, vae_error *err)
{
    int rc = VAE_OK;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_matmul_desc_t desc;

    CHECK_OP(dnnl_matmul_desc_init(&desc, md_of(src), md_of(wei), bias ? md_of(bias) : NULL,
                                   md_of(dst)), what, "descriptor");
    if ((rc = matmul_attr(&attr, what, fwd_act, sum, err)) != VAE_OK) goto done;
    if (prefer) pd = find_impl(&desc, attr, prefer);
    if (!pd)
        CHECK_OP(dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL), what,
                 "primitive descriptor creation");
    rc = prim_make(p, what, pd, err);
done:
    if (pd) dnnl_primitive_desc_destroy(pd);
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

static void bf16_weights_free(bf16_weights *w)
{
    prim_free(&w->reorder);
    memory_free(&w->mem);
    w->buf = NULL;
    w->nb = 0;
}

static void slot_free(batch_slot *s)
{
    prim_free(&s->fwd);
    prim_free(&s->act_bwd);
    prim_free(&s->dw);
    prim_free(&s->dxp);
    prim_free(&s->fwd16);
    prim_free(&s->dw16);
    prim_free(&s->dx16);
    bf16_weights_free(&s->w_fwd);
    bf16_weights_free(&s->w_dx);
    memory_free(&s->xb);
    memory_free(&s->xb_t);
    memory_free(&s->dpre_b);
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
    ls->avx512_bf16 = vae_cpu_avx512_bf16();
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

/* dpre (B x n_out) = dy * act'(y), in fp32 in both precisions */
static int act_grad(batch_slot *s, vae_act act, const float *y, const float *dy, float *dpre,
                    int B, int n_out, vae_error *err)
{
    const size_t n = (size_t)B * (size_t)n_out;
    float alpha;
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
    return VAE_OK;
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

    /* dpre = dy * act'(y) */
    if (act_grad(s, act, y, dy, dpre, B, n_out, err) != VAE_OK) return VAE_FAIL;

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

/* ---- precision bf16 ----
 *
 * The same three products as oneDNN matmuls over bf16 operands with f32 results: x and W
 * forward (bias and the activation fused as in fp32), x^T and dpre for dW (the sum
 * post-op accumulates), dpre and W^T for dx; dpre and db stay fp32. The operands are
 * converted on every call, since the harness keeps only the fp32 values and may change
 * them between calls. x and dpre are converted to plain bf16 (once each per call: dpre
 * is dW's weights and dx's source). W and W^T, the weights of the forward and dx
 * products, go straight into the blocked layout their brgemm matmul wants, so oneDNN
 * copies nothing itself. Measured on the 784x400 products at batch 128, 2 threads
 * (Zen 4): the forward matmul takes 95-120 us on blocked weights against 190 us on
 * plain bf16 ones (which it re-blocks on every call); blocking W with a reorder
 * primitive costs 90-100 us, the AVX512-BF16 loops below 11-15 us from cache (W^T,
 * transposed on the way, 20 us). dW takes oneDNN's gemm kernel on plain operands
 * instead: 107 us against brgemm's 143-157 us (which also wants dpre blocked). */

/* oneDNN's bf16 matmuls that run the bf16 instructions: brg:avx512_core_bf16
 * (AVX512-BF16) and brg:avx512_core_amx_bf16 (AMX), and gemm:jit, whose name does not say
 * which: its kernels emulate the instructions when oneDNN's ISA is below
 * avx512_core_bf16 (its JIT dump under ONEDNN_MAX_CPU_ISA=AVX512_CORE has no VDPBF16PS;
 * at avx512_core_bf16, 2400 per kernel), so it is taken only after bf16_available has
 * checked that ISA. ref:any (plain loops) never is. */
static int is_jit_bf16(const char *impl)
{
    return impl && ((strncmp(impl, "brg:", 4) == 0 && strstr(impl, "bf16") != NULL) ||
                    strcmp(impl, "gemm:jit") == 0);
}

static const char *isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "unknown";
    }
}

static int bf16_available(char *why, size_t why_len)
{
    if (available(why, why_len) != 0) return -1;
    if (!vae_cpu_avx512_bf16() && !vae_cpu_amx_bf16()) {
        snprintf(why, why_len, "this CPU lacks AVX512-BF16 and AMX-BF16");
        return -1;
    }
    /* the ISA values are sets of bits: avx2_vnni is numerically above avx512_core_bf16
     * but holds none of its AVX-512 */
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if ((isa & dnnl_cpu_isa_avx512_core_bf16) != dnnl_cpu_isa_avx512_core_bf16) {
        snprintf(why, why_len,
                 "oneDNN may use only %s here (is ONEDNN_MAX_CPU_ISA set?), not "
                 "avx512_core_bf16", isa_name(isa));
        return -1;
    }
    return 0;
}

/* ---- conversions to bf16 ----
 * Each value is rounded on its own, so the results do not depend on how the loops are
 * split between threads. The AVX512-BF16 instruction VCVTNE2PS2BF16 rounds as
 * vae_bf16_round does (to nearest even, subnormals to zero); on a CPU with AMX but
 * without it the scalar loops call vae_bf16_round. Work under PAR_MIN values stays on
 * the calling thread: waking the team costs more. */
enum { PAR_MIN = 1 << 12 };

#define TARGET_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

static uint16_t bf16_bits(float f)
{
    const float r = vae_bf16_round(f);
    uint32_t u;
    memcpy(&u, &r, sizeof u);
    return (uint16_t)(u >> 16);
}

/* the mask of the first m of 16 lanes (m may be out of [0, 16]) */
static __mmask16 lanes(int m)
{
    return m >= 16 ? (__mmask16)0xffff : m <= 0 ? 0 : (__mmask16)((1u << m) - 1u);
}

TARGET_BF16 static void to_bf16_avx512(uint16_t *restrict dst, const float *restrict src,
                                       size_t n)
{
    const size_t chunks = (n + 31) / 32;
#pragma omp parallel for if (n >= PAR_MIN)
    for (size_t c = 0; c < chunks; c++) {
        const size_t i = 32 * c;
        const int m = n - i < 32 ? (int)(n - i) : 32;
        const __m512 lo = _mm512_maskz_loadu_ps(lanes(m), src + i);
        const __m512 hi = _mm512_maskz_loadu_ps(lanes(m - 16), src + i + 16);
        const __m512i v = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
        _mm512_mask_storeu_epi16(dst + i, m >= 32 ? ~(__mmask32)0 : ((__mmask32)1 << m) - 1, v);
    }
}

/* dst (n values, plain) = bf16(src) */
static void to_bf16(uint16_t *restrict dst, const float *restrict src, size_t n, int avx512)
{
    if (avx512) {
        to_bf16_avx512(dst, src, n);
        return;
    }
#pragma omp parallel for if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) dst[i] = bf16_bits(src[i]);
}

/* BA16a<nb>b2a: element (k, n) of a (K x N) operand */
static size_t blocked_offset(const bf16_weights *w, int k, int n)
{
    return (size_t)(n / w->nb) * (size_t)w->nstride + (size_t)(k / 32) * (size_t)w->kstride +
           (size_t)(k % 32 / 2) * 2u * (size_t)w->nb + (size_t)(n % w->nb) * 2u + (size_t)(k % 2);
}

/* rows contiguous (element (k, n) at src[k rs + n]): rows k and k + 1 become 16 pairs
 * at a time, interleaved by one permutation; each thread reads whole rows in order
 * (faster than a block of columns at a time: 11 against 15 us on W 784x400) */
TARGET_BF16 static void pack_rows_avx512(const bf16_weights *w, const float *src, int K, int N,
                                         size_t rs)
{
    const int nb = w->nb, col_blocks = (N + nb - 1) / nb, pairs = (K + 1) / 2;
    const __m512i interleave =
        _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7,
                         22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
#pragma omp parallel for collapse(2) if ((size_t)K * (size_t)N >= PAR_MIN)
    for (int p = 0; p < pairs; p++)
        for (int j = 0; j < col_blocks; j++) {
            const int k = 2 * p;
            uint16_t *d = w->buf + blocked_offset(w, k, j * nb);
            const float *r0 = src + (size_t)k * rs, *r1 = k + 1 < K ? r0 + rs : NULL;
            for (int c = 0; c < nb && j * nb + c < N; c += 16) {
                const int n = j * nb + c;
                const __mmask16 m = lanes(N - n);
                const __m512 a = _mm512_maskz_loadu_ps(m, r0 + n);
                const __m512 b = r1 ? _mm512_maskz_loadu_ps(m, r1 + n) : _mm512_setzero_ps();
                const __m512i ab = (__m512i)_mm512_cvtne2ps_pbh(b, a);
                _mm512_storeu_si512(d + 2 * c, _mm512_permutexvar_epi16(interleave, ab));
            }
        }
}

/* r[i] (16 lanes of 32 bits each) becomes column i of the 16 x 16 matrix they form */
TARGET_BF16 static void transpose16(__m512i r[16])
{
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int i = 0; i < 16; i += 8)
        for (int j = 0; j < 4; j++) {
            t[i + j] = _mm512_shuffle_i32x4(r[i + j], r[i + j + 4], 0x88);
            t[i + j + 4] = _mm512_shuffle_i32x4(r[i + j], r[i + j + 4], 0xdd);
        }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_i32x4(t[j], t[j + 8], 0x88);
        r[j + 8] = _mm512_shuffle_i32x4(t[j], t[j + 8], 0xdd);
    }
}

/* columns contiguous (element (k, n) at src[k + n cs], as W^T is): a pair of rows k,
 * k + 1 of one column is two neighbouring floats, and one 32-bit unit where it goes, so
 * tiles of 16 columns by 16 pairs are converted and transposed as 32-bit values */
TARGET_BF16 static void pack_cols_avx512(const bf16_weights *w, const float *src, int K, int N,
                                         size_t cs)
{
    const int col_tiles = (N + 15) / 16, row_tiles = (K + 31) / 32;
#pragma omp parallel for collapse(2) if ((size_t)K * (size_t)N >= PAR_MIN)
    for (int tn = 0; tn < col_tiles; tn++)
        for (int tk = 0; tk < row_tiles; tk++) {
            const int k = 32 * tk, n0 = 16 * tn;
            const __mmask16 m0 = lanes(K - k), m1 = lanes(K - k - 16);
            __m512i r[16];
            for (int i = 0; i < 16; i++) {
                if (n0 + i >= N) {
                    r[i] = _mm512_setzero_si512();
                    continue;
                }
                const float *p = src + (size_t)(n0 + i) * cs + k;
                r[i] = (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, p + 16),
                                                    _mm512_maskz_loadu_ps(m0, p));
            }
            transpose16(r); /* r[j]: pair j of the tile's 16 columns */
            uint16_t *d = w->buf + blocked_offset(w, k, n0);
            for (int j = 0; j < 16; j++) _mm512_storeu_si512(d + 2 * j * w->nb, r[j]);
        }
}

/* w = bf16 of the (K x N) operand at src, element (k, n) at src[k rs + n cs]; f32 is the
 * memory object with that layout, for the reorder */
static int convert_weights(const bf16_weights *w, dnnl_memory_t f32, const float *src, int K,
                           int N, size_t rs, size_t cs, int avx512, vae_error *err)
{
    if (!w->nb) {
        if (wrap(f32, src, err) != VAE_OK) return VAE_FAIL;
        const dnnl_exec_arg_t args[] = { { DNNL_ARG_FROM, f32 }, { DNNL_ARG_TO, w->mem } };
        return prim_run(w->reorder, "bf16 reorder", args, 2, err);
    }
    if (avx512 && cs == 1) {
        pack_rows_avx512(w, src, K, N, rs);
    } else if (avx512 && rs == 1) {
        pack_cols_avx512(w, src, K, N, cs);
    } else {
#pragma omp parallel for if ((size_t)K * (size_t)N >= PAR_MIN)
        for (int k = 0; k < K; k++)
            for (int n = 0; n < N; n++)
                w->buf[blocked_offset(w, k, n)] = bf16_bits(src[(size_t)k * rs + (size_t)n * cs]);
    }
    return VAE_OK;
}

/* w for the weights layout md a matmul picked, converted from the f32 memory f32 */
static int make_bf16_weights(bf16_weights *w, const dnnl_memory_desc_t *md, dnnl_memory_t f32,
                             vae_error *err)
{
    int rc = VAE_OK;
    dnnl_primitive_desc_t pd = NULL;
    void *buf = NULL;
    static const struct { int nb; dnnl_format_tag_t tag; } known[] = {
        { 64, dnnl_BA16a64b2a }, { 48, dnnl_BA16a48b2a }, { 32, dnnl_BA16a32b2a },
        { 16, dnnl_BA16a16b2a },
    };

    bf16_weights_free(w);
    CHECK(dnnl_memory_create(&w->mem, md, engine, DNNL_MEMORY_ALLOCATE), "bf16 weights memory");
    CHECK(dnnl_memory_get_data_handle(w->mem, &buf), "bf16 weights memory");
    memset(buf, 0, dnnl_memory_desc_get_size(md)); /* the padding */
    w->buf = buf;
    for (size_t i = 0; i < sizeof known / sizeof known[0] && !w->nb; i++) {
        dnnl_memory_desc_t k;
        if (dnnl_memory_desc_init_by_tag(&k, md->ndims, md->dims, dnnl_bf16, known[i].tag) ==
                dnnl_success && dnnl_memory_desc_equal(&k, md)) {
            w->nb = known[i].nb;
            w->kstride = md->format_desc.blocking.strides[0];
            w->nstride = md->format_desc.blocking.strides[1];
        }
    }
    if (!w->nb) {
        CHECK(dnnl_reorder_primitive_desc_create(&pd, md_of(f32), engine, md, engine, NULL),
              "bf16 reorder primitive descriptor creation");
        rc = prim_make(&w->reorder, "bf16 reorder", pd, err);
    }
done:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (rc != VAE_OK) bf16_weights_free(w);
    return rc;
}

/* dst = src wei (+ bias), then the activation or the sum, over bf16 src and weights: src
 * (bf16) as given; with w, the weights (the dims of the f32 memory wei) in the layout
 * oneDNN picks, made into w; without, wei itself (bf16). prefer names the implementation
 * to take where oneDNN has it; only a jit bf16 kernel is taken, never an emulation. */
static int make_matmul_bf16(dnnl_primitive_t *p, bf16_weights *w, const char *what,
                            const char *prefer, dnnl_memory_t src, dnnl_memory_t wei,
                            dnnl_memory_t bias, dnnl_memory_t dst, vae_act fwd_act, int sum,
                            vae_error *err)
{
    int rc = VAE_OK;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_matmul_desc_t desc;
    dnnl_memory_desc_t any;
    const char *impl = NULL;
    char why[160];

    if (bf16_available(why, sizeof why) != 0) {
        rc = vae_fail(err, "onednn: %s: no bf16 products here: %s", what, why);
        goto done;
    }
    if (w)
        CHECK_OP(dnnl_memory_desc_init_by_tag(&any, 2, md_of(wei)->dims, dnnl_bf16,
                                              dnnl_format_tag_any), what, "weights descriptor");
    CHECK_OP(dnnl_matmul_desc_init(&desc, md_of(src), w ? &any : md_of(wei),
                                   bias ? md_of(bias) : NULL, md_of(dst)), what, "descriptor");
    if ((rc = matmul_attr(&attr, what, fwd_act, sum, err)) != VAE_OK) goto done;
    pd = find_impl(&desc, attr, prefer);
    if (!pd)
        CHECK_OP(dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL), what,
                 "primitive descriptor creation");
    CHECK_OP(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl), what,
             "implementation query");
    if (!is_jit_bf16(impl)) {
        rc = vae_fail(err, "onednn: %s: oneDNN offers '%s', not a jit bf16 kernel "
                           "(brg:...bf16 or gemm:jit); bf16 is not run emulated", what,
                      impl ? impl : "?");
        goto done;
    }
    if ((rc = prim_make(p, what, pd, err)) != VAE_OK || !w) goto done;
    rc = make_bf16_weights(w, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), wei,
                           err);
    if (rc != VAE_OK) prim_free(p);
done:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return rc;
}

/* the slot's bf16 copy of x (and its transposed view), made on first use */
static int ensure_xb(batch_slot *s, int n_in, vae_error *err)
{
    if (s->xb) return VAE_OK;
    void *buf = NULL;
    const int B = s->B;
    int rc = make_memory_of(&s->xb, B, n_in, n_in, 1, dnnl_bf16, DNNL_MEMORY_ALLOCATE, err);
    if (rc == VAE_OK)
        rc = make_memory_of(&s->xb_t, n_in, B, 1, n_in, dnnl_bf16, DNNL_MEMORY_NONE, err);
    if (rc == VAE_OK && dnnl_memory_get_data_handle(s->xb, &buf) != dnnl_success)
        rc = vae_fail(err, "onednn: reading a data handle failed");
    if (rc == VAE_OK) rc = wrap(s->xb_t, buf, err);
    if (rc != VAE_OK) {
        memory_free(&s->xb);
        memory_free(&s->xb_t);
    }
    return rc;
}

static uint16_t *handle_of(dnnl_memory_t mem)
{
    void *p = NULL;
    return dnnl_memory_get_data_handle(mem, &p) == dnnl_success ? p : NULL;
}

/* The bf16 slots decline only what would cost more here than in the reference: its
 * loops round every operand in the innermost loop, so oneDNN is faster from about 1K
 * multiply-adds forward and 2K backward (32x2x100: 4.9 against 16.7 us forward, 14.7
 * against 39.7 backward; 8x8x8: 2.0 against 1.7 and 9.7 against 3.4; 2 threads). */
enum { BF16_SMALL_MACS = 1 << 11 };

static int declined_bf16(int B, int n_in, int n_out, vae_act act)
{
    return n_in <= 0 || n_out <= 0 || (unsigned)act >= VAE_ACT_COUNT ||
           (double)B * n_in * n_out < BF16_SMALL_MACS;
}

static int dense_forward_bf16(void **state, const float *x, const float *W, const float *b,
                              float *y, int B, int n_in, int n_out, vae_act act, vae_error *err)
{
    if (declined_bf16(B, n_in, n_out, act)) return VAE_DECLINED;
    layer_state *ls = get_layer(state, n_in, n_out, act, err);
    if (!ls) return VAE_FAIL;
    batch_slot *s = get_slot(ls, B, err);
    if (!s) return VAE_FAIL;
    if (ensure_xb(s, n_in, err) != VAE_OK) return VAE_FAIL;
    if (!s->fwd16 && make_matmul_bf16(&s->fwd16, &s->w_fwd, "bf16 forward matmul", "brg:",
                                      s->xb, ls->W, ls->b, s->y, act, 0, err) != VAE_OK)
        return VAE_FAIL;

    to_bf16(handle_of(s->xb), x, (size_t)B * (size_t)n_in, ls->avx512_bf16);
    if (convert_weights(&s->w_fwd, ls->W, W, n_in, n_out, (size_t)n_out, 1, ls->avx512_bf16,
                        err) != VAE_OK ||
        wrap(ls->b, b, err) || wrap(s->y, y, err))
        return VAE_FAIL;
    const dnnl_exec_arg_t args[] = {
        { DNNL_ARG_SRC, s->xb }, { DNNL_ARG_WEIGHTS, s->w_fwd.mem }, { DNNL_ARG_BIAS, ls->b },
        { DNNL_ARG_DST, s->y },
    };
    if (prim_run(s->fwd16, "bf16 forward matmul", args, 4, err) != VAE_OK) return VAE_FAIL;
    return wait_stream(err);
}

static int dense_backward_bf16(void **state, const float *x, const float *W, const float *y,
                               const float *dy, float *dpre, float *dx, float *dW, float *db,
                               int B, int n_in, int n_out, vae_act act, vae_error *err)
{
    if (declined_bf16(B, n_in, n_out, act)) return VAE_DECLINED;
    layer_state *ls = get_layer(state, n_in, n_out, act, err);
    if (!ls) return VAE_FAIL;
    batch_slot *s = get_slot(ls, B, err);
    if (!s) return VAE_FAIL;
    const int fast = ls->avx512_bf16;

    if (act_grad(s, act, y, dy, dpre, B, n_out, err) != VAE_OK) return VAE_FAIL;

    /* dW += x^T dpre */
    if (ensure_xb(s, n_in, err) != VAE_OK) return VAE_FAIL;
    if (!s->dpre_b && make_memory_of(&s->dpre_b, B, n_out, n_out, 1, dnnl_bf16,
                                     DNNL_MEMORY_ALLOCATE, err) != VAE_OK)
        return VAE_FAIL;
    if (!s->dw16 && make_matmul_bf16(&s->dw16, NULL, "bf16 dW matmul", "gemm:jit", s->xb_t,
                                     s->dpre_b, NULL, ls->dW, VAE_ACT_LINEAR, 1, err) != VAE_OK)
        return VAE_FAIL;
    to_bf16(handle_of(s->xb), x, (size_t)B * (size_t)n_in, fast);
    to_bf16(handle_of(s->dpre_b), dpre, (size_t)B * (size_t)n_out, fast);
    if (wrap(ls->dW, dW, err) != VAE_OK) return VAE_FAIL;
    const dnnl_exec_arg_t dw_args[] = {
        { DNNL_ARG_SRC, s->xb_t }, { DNNL_ARG_WEIGHTS, s->dpre_b }, { DNNL_ARG_DST, ls->dW },
    };
    if (prim_run(s->dw16, "bf16 dW matmul", dw_args, 3, err) != VAE_OK) return VAE_FAIL;

    /* dx = dpre W^T: W^T (n_out x n_in) is the weights operand */
    if (dx) {
        if (!s->dx16 && make_matmul_bf16(&s->dx16, &s->w_dx, "bf16 dx matmul", "brg:",
                                         s->dpre_b, ls->W_t, NULL, s->dx, VAE_ACT_LINEAR, 0,
                                         err) != VAE_OK)
            return VAE_FAIL;
        if (convert_weights(&s->w_dx, ls->W_t, W, n_out, n_in, 1, (size_t)n_out, fast, err) ||
            wrap(s->dx, dx, err))
            return VAE_FAIL;
        const dnnl_exec_arg_t dx_args[] = {
            { DNNL_ARG_SRC, s->dpre_b }, { DNNL_ARG_WEIGHTS, s->w_dx.mem }, { DNNL_ARG_DST, s->dx },
        };
        if (prim_run(s->dx16, "bf16 dx matmul", dx_args, 3, err) != VAE_OK) return VAE_FAIL;
    }
    if (wait_stream(err) != VAE_OK) return VAE_FAIL;

    add_column_sums(db, dpre, B, n_out);
    return VAE_OK;
}

/* For tests/test_backends.c (which declares it): the implementation oneDNN runs for one
 * bf16 product of a layer's state at batch B and the current thread count (product 0:
 * forward, 1: dW, 2: dx), or NULL where that primitive is not made. */
const char *vae_onednn_bf16_impl(const void *state, int B, int product);

const char *vae_onednn_bf16_impl(const void *state, int B, int product)
{
    const layer_state *ls = state;
    const int threads = omp_get_max_threads();
    for (int i = 0; ls && i < CACHE_SLOTS; i++) {
        const batch_slot *s = &ls->slot[i];
        if (s->B != B || s->threads != threads) continue;
        const_dnnl_primitive_t p = product == 0 ? s->fwd16 : product == 1 ? s->dw16 : s->dx16;
        const_dnnl_primitive_desc_t pd = NULL;
        const char *impl = NULL;
        if (p && dnnl_primitive_get_primitive_desc(p, &pd) == dnnl_success &&
            dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success)
            return impl;
    }
    return NULL;
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
/* against the bf16 matmul (the same layer, best of 15, medians of 9 interleaved
 * pairs, the CSR build included): sparse / dense 0.91 at 4%, 1.08 at 7%, 1.36 at
 * 10%, 2.19 at 19% (MNIST's) */
#define SPARSE_DENSITY_BF16 0.05f

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
    .sparse_density_bf16 = SPARSE_DENSITY_BF16,
    .bf16_available = bf16_available,
    .dense_forward_bf16 = dense_forward_bf16,
    .dense_backward_bf16 = dense_backward_bf16,
    .raw_sgemm = raw_sgemm,
};
