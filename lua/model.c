/* Models: vae.model{...} and the methods over it. fit and log_likelihood call
 * back into Lua while the C loop runs: every callback runs under lua_pcall (no
 * error jumps over C), the objects it reads are marked busy (close raises) and
 * pinned on the stack (the collector cannot free them). */
#include <math.h>
#include <string.h>

#include "../harness/clock.h"
#include "../harness/model.h"
#include "binding.h"

static vae_model *check_model(lua_State *L, int idx)
{
    return check_handle(L, idx, MODEL_MT, "model is closed");
}

static const char *const model_keys[] = {
    "input", "latent", "hidden", "activation", "decoder_hidden", "decoder_activation",
    "output", "head", "likelihood", "noise_var", "posterior_var", "clamp", "kl", "beta",
    "warmup", "dropout", "decoder_dropout", "samples", "init", "init_magnitude", "backend",
    "threads", "seed", NULL
};

/* vae.model{...} -> model, or nil, message when the backend is not usable here */
static int l_model(lua_State *L)
{
    const char *W = "vae.model";
    luaL_checktype(L, 1, LUA_TTABLE);
    check_keys(L, 1, W, model_keys);
    vae_config c;
    vae_config_default(&c);
    c.input = (int)opt_int(L, 1, W, "input", 0, 1, 100000000);
    c.latent = (int)opt_int(L, 1, W, "latent", 0, 1, 100000);
    if (c.input == 0) return luaL_error(L, "%s: key 'input' is required (the data width)", W);
    if (c.latent == 0) return luaL_error(L, "%s: key 'latent' is required (the latent width)", W);
    int n = opt_widths(L, 1, W, "hidden", c.enc_width);
    c.n_enc = n < 0 ? 1 : n;
    for (int i = 0; i < c.n_enc; i++) c.enc_act[i] = VAE_ACT_RELU;
    opt_acts(L, 1, W, "activation", c.n_enc, c.enc_act);
    /* the decoder mirrors the encoder unless told otherwise; given widths take the
     * encoder's first activation */
    n = opt_widths(L, 1, W, "decoder_hidden", c.dec_width);
    c.n_dec = n < 0 ? c.n_enc : n;
    vae_act first = c.n_enc ? c.enc_act[0] : VAE_ACT_RELU;
    for (int i = 0; i < c.n_dec; i++) {
        if (n < 0) c.dec_width[i] = c.enc_width[c.n_enc - 1 - i];
        c.dec_act[i] = n < 0 ? c.enc_act[c.n_enc - 1 - i] : first;
    }
    opt_acts(L, 1, W, "decoder_activation", c.n_dec, c.dec_act);
    const char *s = opt_str(L, 1, W, "output", "sigmoid");
    c.output_act = (vae_act)parse_act(L, W, "output", s);
    s = opt_str(L, 1, W, "head", "logvar");
    c.head = (vae_head)check_name(L, W, "head", s, vae_head_names, VAE_HEAD_COUNT, vae_head_parse(s));
    s = opt_str(L, 1, W, "likelihood", "bernoulli");
    c.likelihood = (vae_likelihood)check_name(L, W, "likelihood", s, vae_likelihood_names,
                                              VAE_LIK_COUNT, vae_likelihood_parse(s));
    c.noise_var = (float)opt_num(L, 1, W, "noise_var", 1.0, 0, 1, 1e6, 0);
    c.posterior_var = (float)opt_num(L, 1, W, "posterior_var", 1e-6, 0, 1, 1e6, 0);
    c.clamp_eps = (float)opt_num(L, 1, W, "clamp", 1e-7, 0, 1, 0.5, 1);
    c.kl = opt_bool(L, 1, W, "kl", 1);
    c.beta = (float)opt_num(L, 1, W, "beta", 1.0, 0, 0, 1e6, 0);
    c.warmup = (int)opt_int(L, 1, W, "warmup", 0, 0, 1000000);
    c.enc_dropout = (float)opt_num(L, 1, W, "dropout", 0.0, 0, 0, 1, 1);
    c.dec_dropout = (float)opt_num(L, 1, W, "decoder_dropout", c.enc_dropout, 0, 0, 1, 1);
    c.samples = (int)opt_int(L, 1, W, "samples", 1, 1, 100000);
    s = opt_str(L, 1, W, "init", "xavier");
    int init = -1;
    for (int i = 0; i < VAE_INIT_COUNT; i++) if (strcmp(s, vae_init_names[i]) == 0) init = i;
    c.init = (vae_init)check_name(L, W, "init", s, vae_init_names, VAE_INIT_COUNT, init);
    c.init_magnitude = (float)opt_num(L, 1, W, "init_magnitude", 3.0, 0, 1, 1e6, 0);
    c.threads = (int)opt_int(L, 1, W, "threads", 0, 0, 4096);
    c.seed = (uint64_t)opt_int(L, 1, W, "seed", 1, 0, LUA_MAXINTEGER);
    s = opt_str(L, 1, W, "backend", "naive");
    vae_error err;
    int known = 0;
    for (int i = 0; i < vae_backend_count(); i++) known = known || strcmp(vae_backend_at(i)->name, s) == 0;
    if (!known) {
        vae_backend_find(s, &err);
        return luaL_error(L, "%s: key 'backend': %s", W, err.msg);
    }
    if (!(c.backend = vae_backend_find(s, &err))) {
        lua_pushnil(L);
        lua_pushstring(L, err.msg);
        return 2;
    }
    if (vae_config_check(&c, &err)) return luaL_error(L, "%s: %s", W, err.msg);
    handle *u = push_handle(L, MODEL_MT, NULL);
    if (!(u->ptr = vae_model_new(&c, &err))) return luaL_error(L, "%s: %s", W, err.msg);
    return 1;
}

static int push_losses(lua_State *L, const vae_losses *l)
{
    lua_createtable(L, 0, 4);
    lua_pushnumber(L, l->loss); lua_setfield(L, -2, "loss");
    lua_pushnumber(L, l->recon); lua_setfield(L, -2, "recon");
    lua_pushnumber(L, l->kl); lua_setfield(L, -2, "kl");
    lua_pushnumber(L, l->kl_weight); lua_setfield(L, -2, "kl_weight");
    return 1;
}

/* fit's model, training data and validation data (val.busy NULL if none), looked
 * up afresh every epoch: a callback may have closed or replaced them. Raises if
 * closed. The objects holding the values are pinned in slots 7 and 8. */
static vae_model *fit_inputs(lua_State *L, ldata *data, ldata *val)
{
    vae_model *m = check_model(L, 1);
    *data = check_data(L, 2);
    pin_data(L, 2, 7);
    val->busy = NULL;
    if (lua_getfield(L, 3, "validation") != LUA_TNIL) {
        *val = check_data(L, -1);
        pin_data(L, lua_gettop(L), 8);
    } else {
        lua_pushnil(L);
        lua_replace(L, 8);
    }
    lua_pop(L, 1);
    return m;
}

/* Marks (or unmarks) what one epoch reads as busy, so callbacks cannot close it.
 * Counters: two fits reading the same data do not clear each other's mark. */
static void set_busy(lua_State *L, ldata *data, ldata *val, int delta)
{
    ((handle *)lua_touserdata(L, 1))->busy += delta;
    *data->busy += delta;
    if (val->busy) *val->busy += delta;
}

/* The on_batch bridge: calls the Lua function at stack index fn with
 * {epoch, step, steps, rows, loss, recon, kl}. An error stays on the stack
 * (status 1) to be re-raised once training has unwound; false stops (status 2).
 * Everything that may allocate (the record table) runs inside lua_pcall, so no
 * error can jump over the C training loop; fit reserved the stack slots. */
typedef struct batch_hook {
    lua_State *L;
    int fn, epoch, status;
} batch_hook;

static const char *const batch_fields[] = { "epoch", "step", "steps", "rows", "loss", "recon", "kl" };

/* (fn, 7 values) -> fn{epoch=, ...} */
static int on_batch_trampoline(lua_State *L)
{
    lua_createtable(L, 0, 7);
    for (int i = 0; i < 7; i++) {
        lua_pushvalue(L, i + 2);
        lua_setfield(L, -2, batch_fields[i]);
    }
    lua_pushvalue(L, 1);
    lua_insert(L, -2);
    lua_call(L, 1, 1);
    return 1;
}

/* Calls what the hook pushed (a function and nargs values) under lua_pcall: an
 * error stays on the stack (status 1); a false result stops (status 2). Returns
 * nonzero to stop the C loop. */
static int hook_pcall(batch_hook *h, int nargs)
{
    lua_State *L = h->L;
    if (lua_pcall(L, nargs, 1, 0) != LUA_OK) {
        h->status = 1;
        return 1;
    }
    int stop = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (stop) h->status = 2;
    return stop;
}

static int call_on_batch(void *ctx, int step, int steps, int rows, const vae_losses *run)
{
    batch_hook *h = ctx;
    lua_State *L = h->L;
    lua_pushcfunction(L, on_batch_trampoline); /* none of these pushes allocates */
    lua_pushvalue(L, h->fn);
    lua_pushinteger(L, h->epoch);
    lua_pushinteger(L, step);
    lua_pushinteger(L, steps);
    lua_pushinteger(L, rows);
    lua_pushnumber(L, run->loss);
    lua_pushnumber(L, run->recon);
    lua_pushnumber(L, run->kl);
    return hook_pcall(h, 8);
}

static const char *const fit_keys[] = {
    "epochs", "batch", "lr", "beta1", "beta2", "eps", "shuffle", "validation",
    "validate_every", "on_epoch", "on_batch", NULL
};

/* Ends fit early: nil, message, the history so far (at index 6). */
static int fit_failed(lua_State *L, const char *msg)
{
    lua_pushnil(L);
    lua_pushstring(L, msg);
    lua_pushvalue(L, 6);
    return 3;
}

/* model:fit(data, {epochs=, batch=, lr=, ..., validation=, on_epoch=function(rec),
 * on_batch=function(b)}) -> history (a list of per-epoch records), or nil,
 * message, partial history. on_epoch may return false to stop early (the
 * history is returned); on_batch returning false stops with nil, message. */
static int mo_fit(lua_State *L)
{
    const char *W = "fit";
    check_model(L, 1);
    if (((handle *)lua_touserdata(L, 1))->busy)
        return luaL_error(L, "fit: the model is busy (fit called from a callback)");
    check_data(L, 2);
    if (lua_isnoneornil(L, 3)) {
        lua_settop(L, 2);
        lua_newtable(L);
    }
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    check_keys(L, 3, W, fit_keys);
    vae_train_opts o;
    vae_train_opts_default(&o);
    int epochs = (int)opt_int(L, 3, W, "epochs", 1, 1, 100000000);
    int t = lua_getfield(L, 3, "batch");
    if (t == LUA_TSTRING && strcmp(lua_tostring(L, -1), "full") == 0) o.batch = 0;
    else if (t != LUA_TNIL) o.batch = (int)opt_int(L, 3, W, "batch", 32, 1, 100000000);
    lua_pop(L, 1);
    o.lr = (float)opt_num(L, 3, W, "lr", o.lr, 0, 1, 10, 0);
    o.beta1 = (float)opt_num(L, 3, W, "beta1", o.beta1, 0, 0, 1, 1);
    o.beta2 = (float)opt_num(L, 3, W, "beta2", o.beta2, 0, 0, 1, 1);
    o.eps = (float)opt_num(L, 3, W, "eps", o.eps, 0, 1, 1, 0);
    o.shuffle = opt_bool(L, 3, W, "shuffle", 1);
    int every = (int)opt_int(L, 3, W, "validate_every", 1, 1, 100000000);
    /* slots: 4 on_epoch, 5 on_batch, 6 history, 7 and 8 the pinned data holders,
     * then the on_batch call's 9 values */
    luaL_checkstack(L, 24, "fit");
    lua_settop(L, 3);
    int has_cb = lua_getfield(L, 3, "on_epoch") != LUA_TNIL; /* index 4 */
    if (has_cb && !lua_isfunction(L, 4))
        return luaL_error(L, "%s: key 'on_epoch' must be a function (got %s)", W, luaL_typename(L, 4));
    int has_batch_cb = lua_getfield(L, 3, "on_batch") != LUA_TNIL; /* index 5 */
    if (has_batch_cb && !lua_isfunction(L, 5))
        return luaL_error(L, "%s: key 'on_batch' must be a function (got %s)", W, luaL_typename(L, 5));
    batch_hook hook = { L, 5, 0, 0 };
    if (has_batch_cb) {
        o.on_step = call_on_batch;
        o.ctx = &hook;
    }
    lua_newtable(L); /* history, index 6 */
    lua_settop(L, 8);
    ldata data, val;
    vae_model *m = fit_inputs(L, &data, &val);
    vae_error err; /* bad data is misuse: it raises; divergence returns nil, message */
    if (vae_check_data(m, &data.d, "fit: training data", &err) ||
        (val.busy && vae_check_data(m, &val.d, "fit: validation data", &err)))
        return luaL_error(L, "%s", err.msg);
    for (int e = 0; e < epochs; e++) {
        if (e > 0) m = fit_inputs(L, &data, &val);
        double t0 = vae_now_seconds();
        vae_losses tr, va;
        hook.epoch = e + 1;
        set_busy(L, &data, &val, 1);
        int rc = vae_train_epoch(m, &data.d, &o, e, &tr, &err);
        set_busy(L, &data, &val, -1);
        if (rc) {
            if (hook.status == 1) return lua_error(L); /* on_batch raised: its error is on top */
            return fit_failed(L, err.msg);
        }
        double secs = vae_now_seconds() - t0;
        push_losses(L, &tr);
        lua_pushinteger(L, e + 1); lua_setfield(L, -2, "epoch");
        lua_pushnumber(L, secs); lua_setfield(L, -2, "seconds");
        if (val.busy && ((e + 1) % every == 0 || e + 1 == epochs)) {
            double v0 = vae_now_seconds();
            if (vae_evaluate(m, &val.d, e, &va, &err)) return fit_failed(L, err.msg);
            lua_pushnumber(L, va.loss); lua_setfield(L, -2, "val_loss");
            lua_pushnumber(L, va.recon); lua_setfield(L, -2, "val_recon");
            lua_pushnumber(L, va.kl); lua_setfield(L, -2, "val_kl");
            lua_pushnumber(L, vae_now_seconds() - v0); lua_setfield(L, -2, "val_seconds");
        }
        lua_pushvalue(L, -1);
        lua_rawseti(L, 6, e + 1);
        if (has_cb) {
            lua_pushvalue(L, 4);
            lua_insert(L, -2);
            lua_call(L, 1, 1);
            int stop = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
            lua_pop(L, 1);
            if (stop) break;
        } else {
            lua_pop(L, 1);
        }
    }
    lua_settop(L, 6);
    return 1;
}

/* model:evaluate(data [, epoch]) -> {loss=, recon=, kl=, kl_weight=} (per example) */
static int mo_evaluate(lua_State *L)
{
    vae_model *m = check_model(L, 1);
    ldata d = check_data(L, 2);
    int epoch = (int)luaL_optinteger(L, 3, 0) - 1; /* 1-based epoch; none = final weight */
    vae_losses l;
    vae_error err;
    if (vae_evaluate(m, &d.d, epoch, &l, &err)) return luaL_error(L, "evaluate: %s", err.msg);
    return push_losses(L, &l);
}

/* model:encode(x) -> mu, sigma (matrices n x latent) */
static int mo_encode(lua_State *L)
{
    vae_model *m = check_model(L, 1);
    ldata x = check_data(L, 2);
    int Lw = vae_model_config(m)->latent;
    vae_mat *mu = push_matrix(L, x.d.rows, Lw), *sg = push_matrix(L, x.d.rows, Lw);
    vae_error err;
    if (vae_encode(m, &x.d, mu, sg, &err)) return luaL_error(L, "encode: %s", err.msg);
    return 2;
}

static int mo_decode(lua_State *L)
{
    vae_model *m = check_model(L, 1);
    vae_mat *z = check_matrix(L, 2);
    vae_mat *out = push_matrix(L, z->rows, vae_model_config(m)->input);
    vae_error err;
    if (vae_decode(m, z, out, &err)) return luaL_error(L, "decode: %s", err.msg);
    return 1;
}

static int mo_reconstruct(lua_State *L)
{
    vae_model *m = check_model(L, 1);
    ldata x = check_data(L, 2);
    vae_mat *out = push_matrix(L, x.d.rows, vae_model_config(m)->input);
    vae_error err;
    if (vae_reconstruct(m, &x.d, out, &err)) return luaL_error(L, "reconstruct: %s", err.msg);
    return 1;
}

static int mo_sample(lua_State *L)
{
    vae_model *m = check_model(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2);
    if (n < 1 || n > 10000000) return luaL_argerror(L, 2, "sample count must be >= 1");
    vae_mat *out = push_matrix(L, (int)n, vae_model_config(m)->input);
    vae_error err;
    if (vae_sample(m, out, &err)) return luaL_error(L, "sample: %s", err.msg);
    return 1;
}

/* The on_progress bridge of log_likelihood: calls the function at stack index
 * fn with (rows done, rows); as call_on_batch, an error stays on the stack
 * (status 1) and false stops (status 2). */
static int call_on_progress(void *ctx, int done, int rows)
{
    batch_hook *h = ctx;
    lua_State *L = h->L;
    lua_pushvalue(L, h->fn); /* no allocation: fit-like slots were reserved */
    lua_pushinteger(L, done);
    lua_pushinteger(L, rows);
    return hook_pcall(h, 2);
}

/* model:log_likelihood(data [, k=1000 [, on_progress]]) -> mean importance-weighted
 * log p(x) in nats. on_progress(done, rows) is called after every chunk of rows
 * (return false to stop: nil, message); the model and data cannot be closed
 * meanwhile. */
static int mo_log_likelihood(lua_State *L)
{
    vae_model *m = check_model(L, 1);
    if (((handle *)lua_touserdata(L, 1))->busy)
        return luaL_error(L, "log_likelihood: the model is busy (called from a callback)");
    ldata d = check_data(L, 2);
    lua_Integer k = luaL_optinteger(L, 3, 1000);
    if (k < 1 || k > 10000000) return luaL_argerror(L, 3, "k must be >= 1");
    int has_cb = !lua_isnoneornil(L, 4);
    if (has_cb) luaL_checktype(L, 4, LUA_TFUNCTION);
    luaL_checkstack(L, 8, "log_likelihood");
    lua_settop(L, 5);
    pin_data(L, 2, 5);
    batch_hook hook = { L, 4, 0, 0 };
    double v;
    vae_error err;
    ((handle *)lua_touserdata(L, 1))->busy++;
    (*d.busy)++;
    int rc = vae_log_likelihood(m, &d.d, (int)k, &v, has_cb ? call_on_progress : NULL, &hook,
                                &err);
    ((handle *)lua_touserdata(L, 1))->busy--;
    (*d.busy)--;
    if (rc) {
        if (hook.status == 1) return lua_error(L);
        if (hook.status == 2) {
            lua_pushnil(L);
            lua_pushstring(L, err.msg);
            return 2;
        }
        return luaL_error(L, "log_likelihood: %s", err.msg);
    }
    lua_pushnumber(L, v);
    return 1;
}

static int mo_info(lua_State *L)
{
    vae_model *m = check_model(L, 1);
    const vae_config *c = vae_model_config(m);
    size_t n;
    vae_model_params(m, &n);
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, (lua_Integer)n); lua_setfield(L, -2, "params");
    lua_pushstring(L, c->backend->name); lua_setfield(L, -2, "backend");
    lua_pushstring(L, vae_likelihood_names[c->likelihood]); lua_setfield(L, -2, "likelihood");
    lua_pushboolean(L, vae_likelihood_normalised(c->likelihood)); lua_setfield(L, -2, "normalised");
    float pv = vae_model_posterior_var(m), nv = vae_model_noise_var(m);
    if (!isnan(pv)) { lua_pushnumber(L, pv); lua_setfield(L, -2, "posterior_var"); }
    if (!isnan(nv)) { lua_pushnumber(L, nv); lua_setfield(L, -2, "noise_var"); }
    return 1;
}

static int mo_close(lua_State *L)
{
    vae_model_free(take_handle(L, 1, MODEL_MT,
                               "cannot close a model while fit or log_likelihood is running on it"));
    return 0;
}

static int mo_tostring(lua_State *L)
{
    const vae_model *mo = ((handle *)luaL_checkudata(L, 1, MODEL_MT))->ptr;
    if (!mo) {
        lua_pushliteral(L, "vae.model(closed)");
        return 1;
    }
    const vae_config *c = vae_model_config(mo);
    lua_pushfstring(L, "vae.model(%d -> %d, %s, %s)", c->input, c->latent,
                    vae_likelihood_names[c->likelihood], c->backend->name);
    return 1;
}

static const luaL_Reg model_methods[] = {
    { "fit", mo_fit }, { "evaluate", mo_evaluate }, { "encode", mo_encode },
    { "decode", mo_decode }, { "reconstruct", mo_reconstruct }, { "sample", mo_sample },
    { "log_likelihood", mo_log_likelihood }, { "info", mo_info }, { "close", mo_close },
    { NULL, NULL }
};

void open_model(lua_State *L)
{
    new_class(L, MODEL_MT, model_methods, mo_close, mo_tostring);
    lua_pushcfunction(L, l_model);
    lua_setfield(L, -2, "model");
}
