/* Models: vae.model{...} and the methods over it. fit and log_likelihood call
 * back into Lua while the C loop runs: every callback runs under lua_pcall (no
 * error jumps over C), the objects it reads are marked busy (close raises) and
 * pinned on the stack (the collector cannot free them). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../harness/checkpoint.h"
#include "../harness/clock.h"
#include "../harness/model.h"
#include "../harness/train.h"
#include "binding.h"

/* The model at idx for a method that computes with its buffers: refused from
 * inside fit's on_batch or log_likelihood's on_progress, where the C loop still
 * holds them (a reallocation would leave it writing into freed memory). */
static vae_model *check_idle_model(lua_State *L, int idx, const char *what)
{
    handle *u = luaL_checkudata(L, idx, MODEL_MT);
    if (u->ptr && u->in_step)
        luaL_error(L, "%s: the model is mid-step (called from on_batch or on_progress; "
                      "on_epoch may)", what);
    return check_handle(L, idx, MODEL_MT, "model is closed");
}

static vae_model *check_model(lua_State *L, int idx)
{
    return check_handle(L, idx, MODEL_MT, "model is closed");
}

/* vae.model{...} -> model, or nil, message when the backend is not usable here.
 * Every key goes through the C key table (harness/config.c). */
static int l_model(lua_State *L)
{
    const char *W = "vae.model";
    luaL_checktype(L, 1, LUA_TTABLE);
    vae_config c;
    vae_config_default(&c);
    config_from_table(L, 1, VAE_SECTION_MODEL, &c, W, NULL);
    vae_error err;
    if (vae_config_finish(&c, &err)) return luaL_error(L, "%s: %s", W, err.msg);
    if (!vae_backend_find(c.backend->name, &err)) {
        lua_pushnil(L);
        lua_pushstring(L, err.msg);
        return 2;
    }
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

/* Marks (or unmarks) what fit reads as busy, so callbacks cannot close it.
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
    int fn, status;
    /* fit{checkpoint=}: where, how often, the fit's last epoch, the training text */
    vae_model *m;
    const char *ckpt;
    int every, last_epoch;
    char train_text[1024];
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

/* hook_pcall for a callback made in the middle of a computation (the model at
 * stack index 1 is marked in_step meanwhile). */
static int mid_step_pcall(batch_hook *h, int nargs)
{
    handle *u = lua_touserdata(h->L, 1);
    u->in_step++;
    int stop = hook_pcall(h, nargs);
    u->in_step--;
    return stop;
}

static int call_on_batch(void *ctx, int epoch, int step, int steps, int rows,
                         const vae_losses *run)
{
    batch_hook *h = ctx;
    lua_State *L = h->L;
    lua_pushcfunction(L, on_batch_trampoline); /* none of these pushes allocates */
    lua_pushvalue(L, h->fn);
    lua_pushinteger(L, epoch);
    lua_pushinteger(L, step);
    lua_pushinteger(L, steps);
    lua_pushinteger(L, rows);
    lua_pushnumber(L, run->loss);
    lua_pushnumber(L, run->recon);
    lua_pushnumber(L, run->kl);
    return mid_step_pcall(h, 8);
}

static const char *const record_fields[] = {
    "epoch", "loss", "recon", "kl", "kl_weight", "seconds", "val_loss", "val_recon", "val_kl",
    "val_seconds"
};

/* (on_epoch or nil, history, 6 or 10 record values) -> the record appended to the
 * history, then on_epoch(record)'s result. */
static int on_epoch_trampoline(lua_State *L)
{
    const int n = lua_gettop(L) - 2;
    lua_createtable(L, 0, n);
    for (int i = 0; i < n; i++) {
        lua_pushvalue(L, i + 3);
        lua_setfield(L, -2, record_fields[i]);
    }
    lua_pushvalue(L, -1);
    lua_rawseti(L, 2, (lua_Integer)lua_rawlen(L, 2) + 1);
    if (lua_isnil(L, 1)) return 0;
    lua_pushvalue(L, 1);
    lua_insert(L, -2);
    lua_call(L, 1, 1);
    return 1;
}

/* fit's history as text, a line per record: the fields of record_fields
 * present in it, %.17g (exact for doubles), so a resume restores it. Pushes
 * the text. (The lines go through a table first: a luaL_Buffer allows no other
 * stack use while it is open.) */
static void push_history_text(lua_State *L, int hist)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, hist);
    lua_createtable(L, (int)n, 0);
    int lines = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        char line[10 * 40 + 2];
        size_t len = 0;
        lua_rawgeti(L, hist, i);
        for (int f = 0; f < 10; f++) {
            if (lua_getfield(L, -1, record_fields[f]) != LUA_TNIL)
                len += (size_t)snprintf(line + len, sizeof line - len, f ? " %.17g" : "%.17g",
                                        lua_tonumber(L, -1));
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        line[len++] = '\n';
        lua_pushlstring(L, line, len);
        lua_rawseti(L, lines, i);
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, lines, i);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    lua_remove(L, lines);
}

/* (hook, history) -> saves the model with its state and the history; raises
 * with the message on failure (called under lua_pcall). */
static int checkpoint_trampoline(lua_State *L)
{
    batch_hook *h = lua_touserdata(L, 1);
    push_history_text(L, 2);
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);
    vae_checkpoint_extra ex = { h->train_text, text, len };
    vae_error err;
    if (vae_model_save(h->m, h->ckpt, 1, &ex, &err)) return luaL_error(L, "fit: %s", err.msg);
    return 0;
}

/* Restores a history saved by checkpoint_trampoline into the table at hist. */
static void history_restore(lua_State *L, int hist, const char *text)
{
    while (*text) {
        double v[10];
        int k = 0;
        char *end;
        while (k < 10 && *text && *text != '\n') {
            v[k] = strtod(text, &end);
            if (end == text) break;
            k++;
            text = end;
        }
        text += strcspn(text, "\n");
        if (*text) text++;
        if (k != 6 && k != 10) continue;
        lua_createtable(L, 0, k);
        for (int f = 0; f < k; f++) {
            if (f == 0) lua_pushinteger(L, (lua_Integer)v[0]);
            else lua_pushnumber(L, v[f]);
            lua_setfield(L, -2, record_fields[f]);
        }
        lua_rawseti(L, hist, (lua_Integer)lua_rawlen(L, hist) + 1);
    }
}

/* The on_epoch bridge: the record goes into the history (slot 6) and to the Lua
 * on_epoch (slot 4, or nil) under lua_pcall, like on_batch's; false ends fit. */
static int call_on_epoch(void *ctx, const vae_epoch_record *r)
{
    batch_hook *h = ctx;
    lua_State *L = h->L;
    lua_pushcfunction(L, on_epoch_trampoline);
    lua_pushvalue(L, 4);
    lua_pushvalue(L, 6);
    lua_pushinteger(L, r->epoch);
    lua_pushnumber(L, r->train.loss);
    lua_pushnumber(L, r->train.recon);
    lua_pushnumber(L, r->train.kl);
    lua_pushnumber(L, r->train.kl_weight);
    lua_pushnumber(L, r->seconds);
    if (r->validated) {
        lua_pushnumber(L, r->val.loss);
        lua_pushnumber(L, r->val.recon);
        lua_pushnumber(L, r->val.kl);
        lua_pushnumber(L, r->val_seconds);
    }
    if (hook_pcall(h, r->validated ? 12 : 8) && h->status == 1) return 1;
    int stopping = h->status == 2;
    if (h->ckpt && (r->epoch % h->every == 0 || r->epoch >= h->last_epoch || stopping)) {
        lua_pushcfunction(L, checkpoint_trampoline);
        lua_pushlightuserdata(L, h);
        lua_pushvalue(L, 6);
        if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
            h->status = 3; /* the message stays on top */
            return 1;
        }
    }
    return stopping;
}

/* fit's keys besides the training options of the config table. */
static const char *const fit_extra[] = { "validation", "on_epoch", "on_batch", "checkpoint",
                                          "checkpoint_every", "resume", NULL };

/* Ends fit early: nil, message, the history so far (at index 6). */
static int fit_failed(lua_State *L, const char *msg)
{
    lua_pushnil(L);
    lua_pushstring(L, msg);
    lua_pushvalue(L, 6);
    return 3;
}

/* Whether two finished configs have the same canonical text. */
static int config_equal(const vae_config *a, const vae_config *b)
{
    size_t na = vae_config_text(a, NULL, 0), nb = vae_config_text(b, NULL, 0);
    if (na != nb) return 0;
    char *ta = malloc(na + 1), *tb = malloc(nb + 1);
    int eq = ta && tb;
    if (eq) {
        vae_config_text(a, ta, na + 1);
        vae_config_text(b, tb, nb + 1);
        eq = !strcmp(ta, tb);
    }
    free(ta);
    free(tb);
    return eq;
}

/* model:fit(data, {epochs=, batch=, lr=, ..., validation=, on_epoch=function(rec),
 * on_batch=function(b)}) -> history (a list of per-epoch records), or nil,
 * message, partial history. The loop is vae_fit's (harness/train.c); epochs
 * are counted over the model's life, so a second fit continues the first.
 * on_epoch may return false to stop early (the history is returned); on_batch
 * returning false stops with nil, message. The model and data are busy for the
 * whole fit: callbacks cannot close them. */
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
    vae_train_opts o;
    vae_train_opts_default(&o);
    config_from_table(L, 3, VAE_SECTION_TRAIN, &o, W, fit_extra);
    /* slots: 4 on_epoch, 5 on_batch, 6 history, 7 and 8 the pinned data holders,
     * 9 the checkpoint path, then a callback's 13 values */
    luaL_checkstack(L, 24, "fit");
    int has_cb = lua_getfield(L, 3, "on_epoch") != LUA_TNIL; /* index 4 */
    if (has_cb && !lua_isfunction(L, 4))
        return luaL_error(L, "%s: key 'on_epoch' must be a function (got %s)", W, luaL_typename(L, 4));
    int has_batch_cb = lua_getfield(L, 3, "on_batch") != LUA_TNIL; /* index 5 */
    if (has_batch_cb && !lua_isfunction(L, 5))
        return luaL_error(L, "%s: key 'on_batch' must be a function (got %s)", W, luaL_typename(L, 5));
    lua_newtable(L); /* history, index 6 */
    lua_settop(L, 8);
    ldata data = check_data(L, 2), val = { .busy = NULL };
    pin_data(L, 2, 7);
    if (lua_getfield(L, 3, "validation") != LUA_TNIL) {
        if (!lua_istable(L, -1) && !luaL_testudata(L, -1, MATRIX_MT) && !luaL_testudata(L, -1, IMAGES_MT))
            return luaL_error(L, "%s: key 'validation' must be a matrix, images or data set (got %s)",
                              W, luaL_typename(L, -1));
        val = check_data(L, -1);
        pin_data(L, lua_gettop(L), 8);
    }
    lua_pop(L, 1);
    vae_model *m = check_model(L, 1);
    vae_error err; /* bad data or options are misuse: they raise; divergence returns nil, message */
    if (vae_check_data(m, &data.d, "fit: training data", &err) ||
        (val.busy && vae_check_data(m, &val.d, "fit: validation data", &err)) ||
        vae_train_opts_check(&o, &err))
        return luaL_error(L, "%s", err.msg);
    batch_hook hook = { L, 5, 0, m, NULL, 1, 0, "" };
    /* checkpoint = path: the model, its state and the history every
     * checkpoint_every epochs and at the end; resume = true: continue from that
     * file when it exists (the epochs it holds count against `epochs`) */
    lua_settop(L, 8);
    lua_getfield(L, 3, "checkpoint"); /* slot 9 */
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, "%s: key 'checkpoint' must be a path (got %s)", W, luaL_typename(L, -1));
    hook.ckpt = lua_tostring(L, -1); /* kept in slot 9: a callback may change the table */
    hook.every = (int)opt_int(L, 3, W, "checkpoint_every", 1, 1, 1000000000);
    int resume = opt_bool(L, 3, W, "resume", 0);
    int has_every = lua_getfield(L, 3, "checkpoint_every") != LUA_TNIL;
    lua_pop(L, 1);
    if ((resume || has_every) && !hook.ckpt)
        return luaL_error(L, "%s: keys 'resume' and 'checkpoint_every' need key 'checkpoint'", W);
    vae_train_state *st = vae_model_state(m);
    {
        vae_train_opts t = o;
        t.epochs = 1; /* the run's length may change on resume; nothing else may */
        vae_train_opts_text(&t, hook.train_text, sizeof hook.train_text);
    }
    int start_epoch = st->epoch, remaining = o.epochs;
    if (resume && access(hook.ckpt, F_OK) == 0) {
        vae_checkpoint_info info;
        vae_model *peek = vae_model_load(hook.ckpt, &info, &err); /* checked before m changes */
        if (!peek) return fit_failed(L, err.msg);
        int same = config_equal(vae_model_config(peek), vae_model_config(m));
        vae_model_free(peek);
        if (!same) { /* the config first: load_into names the key (and changes nothing) */
            vae_checkpoint_info_free(&info);
            if (vae_model_load_into(m, hook.ckpt, NULL, &err)) return fit_failed(L, err.msg);
            return fit_failed(L, "fit: checkpoint config mismatch");
        }
        if (!info.has_state || strcmp(info.train_text, hook.train_text) ||
            vae_model_load_into(m, hook.ckpt, NULL, &err)) {
            if (info.has_state && !strcmp(info.train_text, hook.train_text)) {
                vae_checkpoint_info_free(&info);
                return fit_failed(L, err.msg);
            }
            char diff[512];
            vae_text_difference(info.train_text, hook.train_text, "in the file", "now", diff,
                                sizeof diff);
            snprintf(err.msg, sizeof err.msg, "fit: checkpoint '%s': %s", hook.ckpt,
                     info.has_state ? "written with other training options: " : "has no training state");
            if (info.has_state) strncat(err.msg, diff, sizeof err.msg - strlen(err.msg) - 1);
            vae_checkpoint_info_free(&info);
            return fit_failed(L, err.msg);
        }
        lua_pushstring(L, info.user);
        vae_checkpoint_info_free(&info);
        history_restore(L, 6, lua_tostring(L, -1));
        lua_pop(L, 1);
        remaining = o.epochs - (st->epoch - start_epoch);
    }
    hook.last_epoch = st->epoch + remaining;
    vae_train_hooks hooks = { has_batch_cb ? call_on_batch : NULL, call_on_epoch, NULL, &hook };
    int rc = VAE_OK;
    if (remaining > 0) {
        o.epochs = remaining;
        set_busy(L, &data, &val, 1);
        rc = vae_fit(m, &data.d, val.busy ? &val.d : NULL, &o, &hooks, &err);
        set_busy(L, &data, &val, -1);
    }
    if (hook.status == 1) return lua_error(L); /* a callback raised: its error is on top */
    if (hook.status == 3) return fit_failed(L, lua_tostring(L, -1)); /* a checkpoint failed */
    if (rc) return fit_failed(L, err.msg);
    lua_settop(L, 6);
    return 1;
}

/* model:save(path [, {state = true}]) -> true, or nil, message. The file is
 * written atomically (harness/checkpoint.c); state = false keeps only the
 * parameters. */
static int mo_save(lua_State *L)
{
    vae_model *m = check_idle_model(L, 1, "save");
    const char *path = luaL_checkstring(L, 2);
    int state = 1;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        static const char *const keys[] = { "state", NULL };
        check_keys(L, 3, "save", keys);
        state = opt_bool(L, 3, "save", "state", 1);
    }
    vae_error err;
    if (vae_model_save(m, path, state, NULL, &err)) {
        lua_pushnil(L);
        lua_pushstring(L, err.msg);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* vae.load(path) -> model, {state = bool, epoch = n} or nil, message: a new
 * model built from the checkpoint's config. */
static int l_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    handle *u = push_handle(L, MODEL_MT, NULL);
    vae_checkpoint_info info;
    vae_error err;
    if (!(u->ptr = vae_model_load(path, &info, &err))) {
        lua_pushnil(L);
        lua_pushstring(L, err.msg);
        return 2;
    }
    int has_state = info.has_state;
    vae_checkpoint_info_free(&info);
    lua_createtable(L, 0, 2);
    lua_pushboolean(L, has_state);
    lua_setfield(L, -2, "state");
    lua_pushinteger(L, vae_model_state(u->ptr)->epoch);
    lua_setfield(L, -2, "epoch");
    return 2;
}

/* model:config_text() -> the canonical one-line text of the model's config */
static int mo_config_text(lua_State *L)
{
    const vae_config *c = vae_model_config(check_model(L, 1));
    size_t n = vae_config_text(c, NULL, 0);
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, n + 1);
    vae_config_text(c, p, n + 1);
    luaL_pushresultsize(&b, n);
    return 1;
}

/* model:evaluate(data [, epoch]) -> {loss=, recon=, kl=, kl_weight=} (per example) */
static int mo_evaluate(lua_State *L)
{
    vae_model *m = check_idle_model(L, 1, "evaluate");
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
    vae_model *m = check_idle_model(L, 1, "encode");
    ldata x = check_data(L, 2);
    int Lw = vae_model_config(m)->latent;
    vae_mat *mu = push_matrix(L, x.d.rows, Lw), *sg = push_matrix(L, x.d.rows, Lw);
    vae_error err;
    if (vae_encode(m, &x.d, mu, sg, &err)) return luaL_error(L, "encode: %s", err.msg);
    return 2;
}

static int mo_decode(lua_State *L)
{
    vae_model *m = check_idle_model(L, 1, "decode");
    vae_mat *z = check_matrix(L, 2);
    vae_mat *out = push_matrix(L, z->rows, vae_model_config(m)->input);
    vae_error err;
    if (vae_decode(m, z, out, &err)) return luaL_error(L, "decode: %s", err.msg);
    return 1;
}

/* model:decode_logvar(z) -> the decoder's log-variances (n x input) */
static int mo_decode_logvar(lua_State *L)
{
    vae_model *m = check_idle_model(L, 1, "decode_logvar");
    vae_mat *z = check_matrix(L, 2);
    vae_mat *out = push_matrix(L, z->rows, vae_model_config(m)->input);
    vae_error err;
    if (vae_decode_logvar(m, z, out, &err)) return luaL_error(L, "decode_logvar: %s", err.msg);
    return 1;
}

static int mo_reconstruct(lua_State *L)
{
    vae_model *m = check_idle_model(L, 1, "reconstruct");
    ldata x = check_data(L, 2);
    vae_mat *out = push_matrix(L, x.d.rows, vae_model_config(m)->input);
    vae_error err;
    if (vae_reconstruct(m, &x.d, out, &err)) return luaL_error(L, "reconstruct: %s", err.msg);
    return 1;
}

static int mo_sample(lua_State *L)
{
    vae_model *m = check_idle_model(L, 1, "sample");
    lua_Integer n = luaL_checkinteger(L, 2);
    if (n < 1 || n > 10000000) return luaL_argerror(L, 2, "sample count must be in [1, 10000000]");
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
    return mid_step_pcall(h, 2);
}

/* model:log_likelihood(data [, k=1000 [, on_progress]]) -> mean importance-weighted
 * log p(x) in nats. on_progress(done, rows) is called after every chunk of rows
 * and every 256 samples within one (return false to stop: nil, message); the
 * model and data cannot be closed
 * meanwhile. */
static int mo_log_likelihood(lua_State *L)
{
    vae_model *m = check_model(L, 1);
    if (((handle *)lua_touserdata(L, 1))->busy)
        return luaL_error(L, "log_likelihood: the model is busy (called from a callback)");
    ldata d = check_data(L, 2);
    lua_Integer k = luaL_optinteger(L, 3, 1000);
    if (k < 1 || k > 10000000) return luaL_argerror(L, 3, "k must be in [1, 10000000]");
    int has_cb = !lua_isnoneornil(L, 4);
    if (has_cb) luaL_checktype(L, 4, LUA_TFUNCTION);
    luaL_checkstack(L, 8, "log_likelihood");
    lua_settop(L, 5);
    pin_data(L, 2, 5);
    batch_hook hook = { .L = L, .fn = 4 };
    double v;
    vae_error err;
    ((handle *)lua_touserdata(L, 1))->busy++;
    (*d.busy)++;
    int rc = vae_log_likelihood(m, &d.d, (int)k, &v, has_cb ? call_on_progress : NULL, &hook,
                                &err);
    ((handle *)lua_touserdata(L, 1))->busy--;
    (*d.busy)--;
    if (hook.status == 1) return lua_error(L); /* on_progress raised, on any call */
    if (rc) {
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
    int n_noise = vae_model_noise_vars(m, NULL);
    if (n_noise > 1) { /* noise_per_feature: the list of learned variances */
        float *v = malloc((size_t)n_noise * sizeof *v);
        if (!v) return luaL_error(L, "info: out of memory");
        vae_model_noise_vars(m, v);
        lua_createtable(L, n_noise, 0);
        for (int j = 0; j < n_noise; j++) {
            lua_pushnumber(L, v[j]);
            lua_rawseti(L, -2, j + 1);
        }
        free(v);
        lua_setfield(L, -2, "noise_vars");
    }
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
    { "decode", mo_decode }, { "decode_logvar", mo_decode_logvar },
    { "reconstruct", mo_reconstruct }, { "sample", mo_sample },
    { "log_likelihood", mo_log_likelihood }, { "info", mo_info },
    { "config_text", mo_config_text }, { "save", mo_save }, { "close", mo_close },
    { NULL, NULL }
};

void open_model(lua_State *L)
{
    new_class(L, MODEL_MT, model_methods, mo_close, mo_tostring);
    lua_pushcfunction(L, l_model);
    lua_setfield(L, -2, "model");
    lua_pushcfunction(L, l_load);
    lua_setfield(L, -2, "load");
}
