/* The Lua 5.4 binding: `local vae = require "vae"`.
 * Models and matrices are userdata with one metatable each (methods in __index,
 * __gc = the same idempotent close). Config tables are checked strictly: an
 * unknown key, a wrong type or a bad value raises an error naming the key.
 * Misuse raises; operational failures (an unusable backend, training that
 * diverged) return nil, message. */
#define _POSIX_C_SOURCE 200809L
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "clock.h"
#include "data.h"
#include "model.h"

#define MATRIX_MT "vae.matrix"
#define MODEL_MT "vae.model"
#define IMAGES_MT "vae.images"

/* ---------- matrices ---------- */

/* `busy` counts the fit and log_likelihood calls running over the object, so that
 * their callbacks cannot close what the C loop is reading (close raises instead). */
typedef struct lmatrix {
    vae_mat *m;
    int busy;
} lmatrix;

static vae_mat *push_matrix(lua_State *L, int rows, int cols)
{
    lmatrix *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->m = NULL;
    u->busy = 0;
    luaL_setmetatable(L, MATRIX_MT);
    if (!(u->m = vae_mat_new(rows, cols))) luaL_error(L, "out of memory for a %d x %d matrix", rows, cols);
    return u->m;
}

/* Wraps a matrix the C core made; the userdata owns it from now on. */
static void push_owned(lua_State *L, vae_mat *m)
{
    lmatrix *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->m = m;
    u->busy = 0;
    luaL_setmetatable(L, MATRIX_MT);
}

static vae_mat *check_matrix(lua_State *L, int idx)
{
    lmatrix *u = luaL_checkudata(L, idx, MATRIX_MT);
    if (!u->m) luaL_argerror(L, idx, "matrix is closed");
    return u->m;
}

/* ---------- byte images (idx files) ---------- */

typedef struct limages {
    vae_images *im;
    int busy;
} limages;

static vae_images *check_images(lua_State *L, int idx)
{
    limages *u = luaL_checkudata(L, idx, IMAGES_MT);
    if (!u->im) luaL_argerror(L, idx, "images are closed");
    return u->im;
}

/* An empty images userdata to fill in: created before the images, so that a
 * memory error in creating it cannot leak them. */
static limages *push_images(lua_State *L)
{
    limages *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->im = NULL;
    u->busy = 0;
    luaL_setmetatable(L, IMAGES_MT);
    return u;
}

/* ---------- data sets ---------- */

/* Field `name` of the table at idx, without metamethods: a data set's fields are
 * read raw, so that reading one twice (check, then pin) gives the same object. */
static int raw_field(lua_State *L, int idx, const char *name)
{
    lua_pushstring(L, name);
    return lua_rawget(L, idx);
}

/* What the model reads: a matrix, an images set, or a data set table with one
 * of them in field x and an optional binarize = "none" | "static" | "dynamic"
 * (read raw: no __index). busy points at the holder's flag. */
typedef struct ldata {
    vae_dataset d;
    int *busy;
} ldata;

static ldata check_data(lua_State *L, int idx)
{
    ldata r = { { 0, 0, NULL, NULL, VAE_BINARIZE_NONE }, NULL };
    idx = lua_absindex(L, idx);
    int holder = idx;
    if (lua_istable(L, idx)) {
        raw_field(L, idx, "x");
        holder = lua_gettop(L);
    }
    lmatrix *um = luaL_testudata(L, holder, MATRIX_MT);
    limages *ui = um ? NULL : luaL_testudata(L, holder, IMAGES_MT);
    if (um && um->m) {
        r.d = vae_dataset_floats(um->m);
        r.busy = &um->busy;
    } else if (ui && ui->im) {
        r.d = vae_dataset_bytes(ui->im->px, ui->im->n, ui->im->height * ui->im->width);
        r.busy = &ui->busy;
    } else if (holder != idx) {
        luaL_argerror(L, idx, um || ui ? "the data in field 'x' is closed"
                                       : "data set table without a matrix or images in field 'x'");
    } else {
        luaL_argerror(L, idx, um || ui ? "the data is closed"
                                       : lua_pushfstring(L, "matrix, images or data set expected, got %s",
                                                         luaL_typename(L, idx)));
    }
    if (holder != idx) {
        lua_pop(L, 1); /* the table keeps it alive */
        int t = raw_field(L, idx, "binarize");
        if (t != LUA_TNIL) {
            const char *s = lua_tostring(L, -1);
            int b = t == LUA_TSTRING ? vae_binarize_parse(s) : -1;
            if (b < 0)
                luaL_error(L, "data set: key 'binarize' must be none, static or dynamic (got %s)",
                           t == LUA_TSTRING ? s : luaL_typename(L, -1));
            r.d.binarize = (vae_binarize)b;
        }
        lua_pop(L, 1);
    }
    return r;
}

/* vae.matrix(rows, cols [, fill]) or vae.matrix{{...}, {...}} */
static int l_matrix(lua_State *L)
{
    if (lua_istable(L, 1)) {
        int rows = (int)luaL_len(L, 1), cols = 0;
        if (rows < 1) return luaL_argerror(L, 1, "table of rows is empty");
        lua_geti(L, 1, 1);
        if (!lua_istable(L, -1)) return luaL_argerror(L, 1, "row 1 is not a table");
        cols = (int)luaL_len(L, -1);
        lua_pop(L, 1);
        if (cols < 1) return luaL_argerror(L, 1, "row 1 is empty");
        vae_mat *m = push_matrix(L, rows, cols);
        for (int i = 1; i <= rows; i++) {
            if (lua_geti(L, 1, i) != LUA_TTABLE || luaL_len(L, -1) != cols)
                return luaL_error(L, "vae.matrix: row %d is not a table of %d numbers", i, cols);
            for (int j = 1; j <= cols; j++) {
                lua_geti(L, -1, j);
                int isnum;
                lua_Number v = lua_tonumberx(L, -1, &isnum);
                if (!isnum) return luaL_error(L, "vae.matrix: row %d, column %d is not a number", i, j);
                m->v[(size_t)(i - 1) * cols + (j - 1)] = (float)v;
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        return 1;
    }
    lua_Integer rows = luaL_checkinteger(L, 1), cols = luaL_checkinteger(L, 2);
    if (rows < 0 || cols < 0 || rows > 100000000 || cols > 100000000)
        return luaL_error(L, "vae.matrix: bad shape %I x %I", rows, cols);
    float fill = (float)luaL_optnumber(L, 3, 0.0);
    vae_mat *m = push_matrix(L, (int)rows, (int)cols);
    for (size_t i = 0; i < (size_t)rows * cols; i++) m->v[i] = fill;
    return 1;
}

static size_t check_index(lua_State *L, vae_mat *m, int ai, int aj)
{
    lua_Integer i = luaL_checkinteger(L, ai), j = luaL_checkinteger(L, aj);
    if (i < 1 || i > m->rows) luaL_argerror(L, ai, "row out of range");
    if (j < 1 || j > m->cols) luaL_argerror(L, aj, "column out of range");
    return (size_t)(i - 1) * m->cols + (size_t)(j - 1);
}

static int m_get(lua_State *L)
{
    vae_mat *m = check_matrix(L, 1);
    lua_pushnumber(L, m->v[check_index(L, m, 2, 3)]);
    return 1;
}

static int m_set(lua_State *L)
{
    vae_mat *m = check_matrix(L, 1);
    size_t k = check_index(L, m, 2, 3);
    m->v[k] = (float)luaL_checknumber(L, 4);
    return 0;
}

static int m_rows(lua_State *L) { lua_pushinteger(L, check_matrix(L, 1)->rows); return 1; }
static int m_cols(lua_State *L) { lua_pushinteger(L, check_matrix(L, 1)->cols); return 1; }

/* m:totable() -> {{...}, ...} */
static int m_totable(lua_State *L)
{
    vae_mat *m = check_matrix(L, 1);
    lua_createtable(L, m->rows, 0);
    for (int i = 0; i < m->rows; i++) {
        lua_createtable(L, m->cols, 0);
        for (int j = 0; j < m->cols; j++) {
            lua_pushnumber(L, m->v[(size_t)i * m->cols + j]);
            lua_rawseti(L, -2, j + 1);
        }
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* m:col(j) -> {...} */
static int m_col(lua_State *L)
{
    vae_mat *m = check_matrix(L, 1);
    lua_Integer j = luaL_checkinteger(L, 2);
    if (j < 1 || j > m->cols) return luaL_argerror(L, 2, "column out of range");
    lua_createtable(L, m->rows, 0);
    for (int i = 0; i < m->rows; i++) {
        lua_pushnumber(L, m->v[(size_t)i * m->cols + (j - 1)]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* m:rowslice(first, last) -> a new matrix with rows first..last */
static int m_rowslice(lua_State *L)
{
    vae_mat *m = check_matrix(L, 1);
    lua_Integer a = luaL_checkinteger(L, 2), b = luaL_optinteger(L, 3, m->rows);
    if (a < 1 || b > m->rows || a > b) return luaL_error(L, "rowslice: bad range %I..%I of %d rows", a, b, m->rows);
    vae_mat *r = push_matrix(L, (int)(b - a + 1), m->cols);
    memcpy(r->v, m->v + (size_t)(a - 1) * m->cols, (size_t)r->rows * m->cols * sizeof(float));
    return 1;
}

static int m_close(lua_State *L)
{
    lmatrix *u = luaL_checkudata(L, 1, MATRIX_MT);
    if (u->busy) return luaL_error(L, "cannot close a matrix while fit or log_likelihood is reading it");
    vae_mat_free(u->m);
    u->m = NULL;
    return 0;
}

static int m_tostring(lua_State *L)
{
    lmatrix *u = luaL_checkudata(L, 1, MATRIX_MT);
    if (u->m) lua_pushfstring(L, "vae.matrix(%d x %d)", u->m->rows, u->m->cols);
    else lua_pushliteral(L, "vae.matrix(closed)");
    return 1;
}

/* ---------- images methods ---------- */

static int i_rows(lua_State *L) { lua_pushinteger(L, check_images(L, 1)->n); return 1; }
static int i_height(lua_State *L) { lua_pushinteger(L, check_images(L, 1)->height); return 1; }
static int i_width(lua_State *L) { lua_pushinteger(L, check_images(L, 1)->width); return 1; }
static int i_cols(lua_State *L)
{
    vae_images *im = check_images(L, 1);
    lua_pushinteger(L, (lua_Integer)im->height * im->width);
    return 1;
}

/* im:get(i, j) -> pixel j of image i as a value in [0, 1] */
static int i_get(lua_State *L)
{
    vae_images *im = check_images(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2), j = luaL_checkinteger(L, 3);
    lua_Integer D = (lua_Integer)im->height * im->width;
    if (i < 1 || i > im->n) return luaL_argerror(L, 2, "image out of range");
    if (j < 1 || j > D) return luaL_argerror(L, 3, "pixel out of range");
    lua_pushnumber(L, im->px[(size_t)(i - 1) * D + (size_t)(j - 1)] / 255.0);
    return 1;
}

static void check_range(lua_State *L, int n, lua_Integer *a, lua_Integer *b, const char *what)
{
    *a = luaL_optinteger(L, 2, 1);
    *b = luaL_optinteger(L, 3, n);
    if (*a < 1 || *b > n || *a > *b)
        luaL_error(L, "%s: bad range %I..%I of %d images", what, *a, *b, n);
}

/* im:subset(first [, last]) -> new images first..last (a copy) */
static int i_subset(lua_State *L)
{
    vae_images *im = check_images(L, 1);
    lua_Integer a, b;
    check_range(L, im->n, &a, &b, "subset");
    size_t D = (size_t)im->height * im->width, n = (size_t)(b - a + 1);
    limages *u = push_images(L);
    vae_images *r = malloc(sizeof *r);
    uint8_t *px = malloc(n * D);
    if (!r || !px) {
        free(r);
        free(px);
        return luaL_error(L, "subset: out of memory for %d images", (int)n);
    }
    memcpy(px, im->px + (size_t)(a - 1) * D, n * D);
    *r = (vae_images){ (int)n, im->height, im->width, px };
    u->im = r;
    return 1;
}

/* im:tomatrix([first [, last]]) -> a float matrix of those images, values in [0, 1] */
static int i_tomatrix(lua_State *L)
{
    vae_images *im = check_images(L, 1);
    lua_Integer a, b;
    check_range(L, im->n, &a, &b, "tomatrix");
    int D = im->height * im->width;
    vae_mat *m = push_matrix(L, (int)(b - a + 1), D);
    vae_dataset d = vae_dataset_bytes(im->px, im->n, D);
    vae_dataset_read(&d, NULL, (int)(a - 1), m->rows, m->v, NULL);
    return 1;
}

static int i_close(lua_State *L)
{
    limages *u = luaL_checkudata(L, 1, IMAGES_MT);
    if (u->busy) return luaL_error(L, "cannot close images while fit or log_likelihood is reading them");
    vae_images_free(u->im);
    u->im = NULL;
    return 0;
}

static int i_tostring(lua_State *L)
{
    limages *u = luaL_checkudata(L, 1, IMAGES_MT);
    if (u->im) lua_pushfstring(L, "vae.images(%d x %dx%d)", u->im->n, u->im->height, u->im->width);
    else lua_pushliteral(L, "vae.images(closed)");
    return 1;
}

/* ---------- strict option tables ---------- */

/* Raises unless every key of the table at idx is in allowed (NULL-terminated). */
static void check_keys(lua_State *L, int idx, const char *what, const char *const *allowed)
{
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: keys must be names (got a %s key)", what, luaL_typename(L, -1));
        const char *k = lua_tostring(L, -1);
        int ok = 0;
        for (int i = 0; allowed[i]; i++) ok = ok || strcmp(k, allowed[i]) == 0;
        if (!ok) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (int i = 0; allowed[i]; i++) {
                if (i) luaL_addstring(&b, ", ");
                luaL_addstring(&b, allowed[i]);
            }
            luaL_pushresult(&b);
            luaL_error(L, "%s: unknown key '%s' (allowed: %s)", what, k, lua_tostring(L, -1));
        }
    }
}

static lua_Integer opt_int(lua_State *L, int idx, const char *what, const char *key,
                           lua_Integer def, lua_Integer lo, lua_Integer hi)
{
    int t = lua_getfield(L, idx, key);
    lua_Integer v = def;
    if (t != LUA_TNIL) {
        int isint;
        v = lua_tointegerx(L, -1, &isint);
        if (!isint)
            luaL_error(L, "%s: key '%s' must be an integer (got %s)", what, key,
                       t == LUA_TNUMBER ? "a fraction" : luaL_typename(L, -1));
        if (v < lo || v > hi)
            luaL_error(L, "%s: key '%s' must be in [%I, %I] (got %I)", what, key, lo, hi, v);
    }
    lua_pop(L, 1);
    return v;
}

/* lo_open/hi_open make the bound exclusive. */
static double opt_num(lua_State *L, int idx, const char *what, const char *key, double def,
                      double lo, int lo_open, double hi, int hi_open)
{
    int t = lua_getfield(L, idx, key);
    double v = def;
    if (t != LUA_TNIL) {
        if (t != LUA_TNUMBER)
            luaL_error(L, "%s: key '%s' must be a number (got %s)", what, key, luaL_typename(L, -1));
        v = lua_tonumber(L, -1);
        if (!isfinite(v) || (lo_open ? v <= lo : v < lo) || (hi_open ? v >= hi : v > hi)) {
            char msg[256]; /* luaL_error has no %g */
            snprintf(msg, sizeof msg, "%s: key '%s' must be in %s%g, %g%s (got %g)", what, key,
                     lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]", v);
            luaL_error(L, "%s", msg);
        }
    }
    lua_pop(L, 1);
    return v;
}

static int opt_bool(lua_State *L, int idx, const char *what, const char *key, int def)
{
    int t = lua_getfield(L, idx, key), v = def;
    if (t != LUA_TNIL) {
        if (t != LUA_TBOOLEAN)
            luaL_error(L, "%s: key '%s' must be true or false (got %s)", what, key, luaL_typename(L, -1));
        v = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* Parses a name against names[count]; raises naming the allowed values. */
static int check_name(lua_State *L, const char *what, const char *key, const char *name,
                      const char *const *names, int count, int parsed)
{
    if (parsed >= 0) return parsed;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 0; i < count; i++) {
        if (i) luaL_addstring(&b, ", ");
        luaL_addstring(&b, names[i]);
    }
    luaL_pushresult(&b);
    return luaL_error(L, "%s: key '%s' has unknown value '%s' (allowed: %s)", what, key, name,
                      lua_tostring(L, -1));
}

static const char *opt_str(lua_State *L, int idx, const char *what, const char *key,
                           const char *def)
{
    int t = lua_getfield(L, idx, key);
    const char *v = def;
    if (t != LUA_TNIL) {
        if (t != LUA_TSTRING)
            luaL_error(L, "%s: key '%s' must be a string (got %s)", what, key, luaL_typename(L, -1));
        v = lua_tostring(L, -1);
    }
    lua_pop(L, 1); /* the string stays alive in the config table */
    return v;
}

static int parse_act(lua_State *L, const char *what, const char *key, const char *name)
{
    return check_name(L, what, key, name, vae_act_names, VAE_ACT_COUNT, vae_act_parse(name));
}

/* key = {w1, w2, ...}; returns the count or -1 when absent. */
static int opt_widths(lua_State *L, int idx, const char *what, const char *key, int *w)
{
    int t = lua_getfield(L, idx, key);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return -1;
    }
    if (t != LUA_TTABLE)
        luaL_error(L, "%s: key '%s' must be a list of widths (got %s)", what, key, luaL_typename(L, -1));
    lua_Integer n = luaL_len(L, -1);
    if (n > VAE_MAX_HIDDEN) luaL_error(L, "%s: key '%s' has %I layers (at most %d)", what, key, n, VAE_MAX_HIDDEN);
    for (int i = 0; i < n; i++) {
        lua_geti(L, -1, i + 1);
        int isint;
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (!isint || v < 1 || v > 1000000)
            luaL_error(L, "%s: key '%s'[%d] must be a width >= 1 (got %s)", what, key, i + 1,
                       luaL_tolstring(L, -1, NULL));
        w[i] = (int)v;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return (int)n;
}

/* key = "relu" (every layer) or {"elu", "tanh"} (one per layer). */
static int opt_acts(lua_State *L, int idx, const char *what, const char *key, int n,
                    vae_act *acts)
{
    int t = lua_getfield(L, idx, key);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (t == LUA_TSTRING) {
        int a = parse_act(L, what, key, lua_tostring(L, -1));
        for (int i = 0; i < n; i++) acts[i] = (vae_act)a;
    } else if (t == LUA_TTABLE) {
        if (luaL_len(L, -1) != n)
            luaL_error(L, "%s: key '%s' lists %I activations for %d hidden layers", what, key,
                       luaL_len(L, -1), n);
        for (int i = 0; i < n; i++) {
            lua_geti(L, -1, i + 1);
            if (!lua_isstring(L, -1)) luaL_error(L, "%s: key '%s'[%d] must be a name", what, key, i + 1);
            acts[i] = (vae_act)parse_act(L, what, key, lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    } else {
        luaL_error(L, "%s: key '%s' must be a name or a list of names (got %s)", what, key,
                   luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return 1;
}

/* ---------- models ---------- */

typedef struct lmodel {
    vae_model *m;
    int busy; /* fit or log_likelihood is running: close raises */
} lmodel;

static vae_model *check_model(lua_State *L, int idx)
{
    lmodel *u = luaL_checkudata(L, idx, MODEL_MT);
    if (!u->m) luaL_argerror(L, idx, "model is closed");
    return u->m;
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
    lmodel *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->m = NULL;
    u->busy = 0;
    luaL_setmetatable(L, MODEL_MT);
    if (!(u->m = vae_model_new(&c, &err))) return luaL_error(L, "%s: %s", W, err.msg);
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

/* Pins the object that holds a data set's values (the matrix or images, found
 * directly or in field x of the table at idx) into stack slot `slot`, so that a
 * callback that reassigns the field cannot let the collector free it. */
static void pin_data(lua_State *L, int idx, int slot)
{
    if (lua_istable(L, idx)) raw_field(L, idx, "x");
    else lua_pushvalue(L, idx);
    lua_replace(L, slot);
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
    ((lmodel *)lua_touserdata(L, 1))->busy += delta;
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
    if (lua_pcall(L, 8, 1, 0) != LUA_OK) {
        h->status = 1;
        return 1;
    }
    int stop = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (stop) h->status = 2;
    return stop;
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
    if (((lmodel *)lua_touserdata(L, 1))->busy)
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
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        h->status = 1;
        return 1;
    }
    int stop = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (stop) h->status = 2;
    return stop;
}

/* model:log_likelihood(data [, k=1000 [, on_progress]]) -> mean importance-weighted
 * log p(x) in nats. on_progress(done, rows) is called after every chunk of rows
 * (return false to stop: nil, message); the model and data cannot be closed
 * meanwhile. */
static int mo_log_likelihood(lua_State *L)
{
    vae_model *m = check_model(L, 1);
    if (((lmodel *)lua_touserdata(L, 1))->busy)
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
    ((lmodel *)lua_touserdata(L, 1))->busy++;
    (*d.busy)++;
    int rc = vae_log_likelihood(m, &d.d, (int)k, &v, has_cb ? call_on_progress : NULL, &hook,
                                &err);
    ((lmodel *)lua_touserdata(L, 1))->busy--;
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
    lmodel *u = luaL_checkudata(L, 1, MODEL_MT);
    if (u->busy) return luaL_error(L, "cannot close a model while fit or log_likelihood is running on it");
    vae_model_free(u->m);
    u->m = NULL;
    return 0;
}

static int mo_tostring(lua_State *L)
{
    lmodel *u = luaL_checkudata(L, 1, MODEL_MT);
    if (!u->m) {
        lua_pushliteral(L, "vae.model(closed)");
        return 1;
    }
    const vae_config *c = vae_model_config(u->m);
    lua_pushfstring(L, "vae.model(%d -> %d, %s, %s)", c->input, c->latent,
                    vae_likelihood_names[c->likelihood], c->backend->name);
    return 1;
}

/* ---------- module functions ---------- */

static const char *const scurve_keys[] = { "n", "seed", NULL };

/* vae.data.scurve{n = 300, seed = 1} -> {x = matrix n x 2, t = matrix n x 1, name = "scurve"} */
static int l_scurve(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    check_keys(L, 1, "vae.data.scurve", scurve_keys);
    int n = (int)opt_int(L, 1, "vae.data.scurve", "n", 300, 1, 100000000);
    uint64_t seed = (uint64_t)opt_int(L, 1, "vae.data.scurve", "seed", 1, 0, LUA_MAXINTEGER);
    vae_mat *X, *T;
    vae_error err;
    if (vae_scurve(n, seed, &X, &T, &err)) return luaL_error(L, "%s", err.msg);
    lua_createtable(L, 0, 3);
    push_owned(L, X);
    lua_setfield(L, -2, "x");
    push_owned(L, T);
    lua_setfield(L, -2, "t");
    lua_pushliteral(L, "scurve");
    lua_setfield(L, -2, "name");
    return 1;
}

static const char *const uniform_keys[] = { "rows", "cols", "seed", NULL };

/* vae.data.uniform{rows=, cols=, seed=} -> {x = matrix, name = "uniform"} */
static int l_uniform(lua_State *L)
{
    const char *W = "vae.data.uniform";
    luaL_checktype(L, 1, LUA_TTABLE);
    check_keys(L, 1, W, uniform_keys);
    const int rows = (int)opt_int(L, 1, W, "rows", 0, 1, 100000000);
    const int cols = (int)opt_int(L, 1, W, "cols", 0, 1, 100000000);
    if (!rows || !cols) return luaL_error(L, "%s: keys 'rows' and 'cols' are required", W);
    const uint64_t seed = (uint64_t)opt_int(L, 1, W, "seed", 1, 0, LUA_MAXINTEGER);
    vae_mat *X;
    vae_error err;
    if (vae_uniform(rows, cols, seed, &X, &err)) return luaL_error(L, "%s", err.msg);
    lua_createtable(L, 0, 2);
    push_owned(L, X);
    lua_setfield(L, -2, "x");
    lua_pushliteral(L, "uniform");
    lua_setfield(L, -2, "name");
    return 1;
}

/* A userdata owning one malloc'd block, freed by its __gc: C code that must
 * allocate Lua values after a malloc puts the block here first. */
#define BOX_MT "vae.malloc_box"
static int box_gc(lua_State *L)
{
    void **box = luaL_checkudata(L, 1, BOX_MT);
    free(*box);
    *box = NULL;
    return 0;
}

static void **push_malloc_box(lua_State *L)
{
    void **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    if (luaL_newmetatable(L, BOX_MT)) {
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return box;
}

/* vae.data.idx_images(path) -> images (bytes; values read as byte / 255), or
 * nil, message naming the file and what is wrong with it */
static int l_idx_images(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    vae_error err;
    limages *u = push_images(L);
    if (!(u->im = vae_idx_images(path, &err))) {
        lua_pushnil(L);
        lua_pushstring(L, err.msg);
        return 2;
    }
    return 1;
}

/* vae.data.idx_labels(path) -> {label, ...} (integers), or nil, message */
static int l_idx_labels(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    vae_error err;
    int n;
    uint8_t *lab;
    void **box = push_malloc_box(L); /* frees the labels even if the table raises */
    if (vae_idx_labels(path, &lab, &n, &err)) {
        lua_pushnil(L);
        lua_pushstring(L, err.msg);
        return 2;
    }
    *box = lab;
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushinteger(L, lab[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* vae.isatty(fd) -> whether the descriptor (1 stdout, 2 stderr) is a terminal:
 * experiments draw a progress bar only there. */
static int l_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
    return 1;
}

/* vae.backends() -> {{name=, description=}, ...}: those usable on this machine, in
 * the registry's order of preference (fastest first, naive last) */
static int l_backends(lua_State *L)
{
    lua_newtable(L);
    int k = 0;
    for (int i = 0; i < vae_backend_count(); i++) {
        const vae_backend *be = vae_backend_at(i);
        char why[128];
        if (!vae_backend_usable(be, why, sizeof why)) continue;
        lua_createtable(L, 0, 2);
        lua_pushstring(L, be->name); lua_setfield(L, -2, "name");
        lua_pushstring(L, be->description); lua_setfield(L, -2, "description");
        lua_rawseti(L, -2, ++k);
    }
    return 1;
}

/* ---------- benchmarks (experiments/bench.lua) ---------- */

static void push_timing(lua_State *L, const char *name, vae_timing t)
{
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, t.median); lua_setfield(L, -2, "median");
    lua_pushnumber(L, t.min); lua_setfield(L, -2, "min");
    lua_pushnumber(L, t.max); lua_setfield(L, -2, "max");
    lua_setfield(L, -2, name);
}

/* Looks a backend up by name: raises for an unknown one, nil + message when unusable. */
static const vae_backend *find_backend(lua_State *L, const char *what, const char *name)
{
    vae_error err;
    int known = 0;
    for (int i = 0; i < vae_backend_count(); i++)
        known = known || strcmp(vae_backend_at(i)->name, name) == 0;
    const vae_backend *be = vae_backend_find(name, &err);
    if (!known) luaL_error(L, "%s: key 'backend': %s", what, err.msg);
    if (!be) {
        lua_pushnil(L);
        lua_pushstring(L, err.msg);
    }
    return be;
}

static const char *const dense_bench_keys[] = {
    "backend", "batch", "n_in", "n_out", "activation", "threads", "check", "warmup", "repeats",
    "min_seconds", NULL
};

/* vae.bench.dense{backend=, batch=, n_in=, n_out=, activation=, threads=, warmup=,
 * check=, repeats=, min_seconds=} -> {ok=, max_error=, forward=, weights=, data=} with
 * each timing {median=, min=, max=} in seconds per call (absent when the check
 * against naive failed; check = false skips it, for shapes too big for naive) */
static int l_bench_dense(lua_State *L)
{
    const char *W = "vae.bench.dense";
    luaL_checktype(L, 1, LUA_TTABLE);
    check_keys(L, 1, W, dense_bench_keys);
    const vae_backend *be = find_backend(L, W, opt_str(L, 1, W, "backend", "naive"));
    if (!be) return 2;
    const int B = (int)opt_int(L, 1, W, "batch", 128, 1, 1 << 20);
    const int n_in = (int)opt_int(L, 1, W, "n_in", 0, 1, 1 << 20);
    const int n_out = (int)opt_int(L, 1, W, "n_out", 0, 1, 1 << 20);
    if (!n_in || !n_out) return luaL_error(L, "%s: keys 'n_in' and 'n_out' are required", W);
    const int act = parse_act(L, W, "activation", opt_str(L, 1, W, "activation", "linear"));
    const int threads = (int)opt_int(L, 1, W, "threads", 0, 0, 4096);
    const int check = opt_bool(L, 1, W, "check", 1);
    const int warmup = (int)opt_int(L, 1, W, "warmup", 3, 0, 1000000);
    const int repeats = (int)opt_int(L, 1, W, "repeats", 7, 1, 100000);
    const double min_s = opt_num(L, 1, W, "min_seconds", 0.01, 0, 0, 60, 0);
    if (be->set_threads) be->set_threads(threads);
    vae_dense_bench r;
    vae_error err;
    if (vae_bench_dense(be, B, n_in, n_out, (vae_act)act, check, warmup, repeats, min_s, &r,
                        &err)) {
        lua_pushnil(L);
        lua_pushstring(L, err.msg);
        return 2;
    }
    lua_createtable(L, 0, 5);
    lua_pushboolean(L, r.ok); lua_setfield(L, -2, "ok");
    lua_pushnumber(L, r.max_error); lua_setfield(L, -2, "max_error");
    if (r.ok) {
        push_timing(L, "forward", r.forward);
        push_timing(L, "weights", r.weights);
        push_timing(L, "data", r.data);
    }
    return 1;
}

static const char *const step_keys[] = { "backend", "batch", "layers", "threads", "repeats", NULL };

/* vae.bench.step{backend=, batch=, layers = {{n_in, n_out, act}, ...}, threads=, repeats=}
 * -> {seconds=, raw_seconds= (when the backend has a raw sgemm), flops=}: the dense
 * products of one training step through the layers, and through raw library calls */
static int l_bench_step(lua_State *L)
{
    const char *W = "vae.bench.step";
    luaL_checktype(L, 1, LUA_TTABLE);
    check_keys(L, 1, W, step_keys);
    const vae_backend *be = find_backend(L, W, opt_str(L, 1, W, "backend", "naive"));
    if (!be) return 2;
    const int B = (int)opt_int(L, 1, W, "batch", 128, 1, 1 << 20);
    const int threads = (int)opt_int(L, 1, W, "threads", 0, 0, 4096);
    const int repeats = (int)opt_int(L, 1, W, "repeats", 11, 1, 100000);
    enum { MAXL = 16 };
    int in[MAXL], out[MAXL];
    vae_act act[MAXL];
    if (lua_getfield(L, 1, "layers") != LUA_TTABLE) return luaL_error(L, "%s: key 'layers' must be a table", W);
    const int n = (int)luaL_len(L, -1);
    if (n < 1 || n > MAXL) return luaL_error(L, "%s: key 'layers': 1 to %d layers", W, MAXL);
    for (int i = 0; i < n; i++) {
        if (lua_geti(L, -1, i + 1) != LUA_TTABLE)
            return luaL_error(L, "%s: key 'layers'[%d] must be a table {n_in, n_out, act}", W, i + 1);
        lua_geti(L, -1, 1);
        lua_geti(L, -2, 2);
        lua_geti(L, -3, 3);
        int ok_in, ok_out;
        const lua_Integer a = lua_tointegerx(L, -3, &ok_in), b = lua_tointegerx(L, -2, &ok_out);
        if (!ok_in || !ok_out || a < 1 || b < 1 || a > (1 << 20) || b > (1 << 20))
            return luaL_error(L, "%s: key 'layers'[%d]: widths must be integers in [1, %d]", W,
                              i + 1, 1 << 20);
        in[i] = (int)a;
        out[i] = (int)b;
        if (!lua_isnil(L, -1) && !lua_isstring(L, -1))
            return luaL_error(L, "%s: key 'layers'[%d]: the activation must be a string", W, i + 1);
        act[i] = (vae_act)parse_act(L, W, "layers", lua_isnil(L, -1) ? "linear" : lua_tostring(L, -1));
        lua_pop(L, 4);
    }
    lua_pop(L, 1);
    if (be->set_threads) be->set_threads(threads);
    double secs = 0, raw = 0, flops = 0;
    vae_error err;
    int rc = vae_bench_step(be, n, in, out, act, B, repeats, &secs, &raw, &flops, &err);
    if (rc == VAE_FAIL) {
        lua_pushnil(L);
        lua_pushstring(L, err.msg);
        return 2;
    }
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, secs); lua_setfield(L, -2, "seconds");
    if (rc == VAE_OK) { lua_pushnumber(L, raw); lua_setfield(L, -2, "raw_seconds"); }
    lua_pushnumber(L, flops); lua_setfield(L, -2, "flops");
    return 1;
}

static const char *const peak_keys[] = { "bits", "threads", "seconds", NULL };

/* vae.bench.peak{bits = 256 | 512, threads=, seconds=} -> GFLOP/s of a register-only
 * FMA loop, or nil, message when the CPU lacks the instructions */
static int l_bench_peak(lua_State *L)
{
    const char *W = "vae.bench.peak";
    luaL_checktype(L, 1, LUA_TTABLE);
    check_keys(L, 1, W, peak_keys);
    const int bits = (int)opt_int(L, 1, W, "bits", 256, 256, 512);
    if (bits != 256 && bits != 512) return luaL_error(L, "%s: key 'bits': 256 or 512", W);
    const int threads = (int)opt_int(L, 1, W, "threads", 1, 1, 1024);
    const double seconds = opt_num(L, 1, W, "seconds", 0.2, 0, 1, 60, 0);
    double gflops = 0;
    vae_error err;
    int rc = vae_bench_fma_peak(bits, threads, seconds, &gflops, &err);
    if (rc) {
        lua_pushnil(L);
        lua_pushstring(L, rc == VAE_DECLINED ? "this CPU lacks these instructions" : err.msg);
        return 2;
    }
    lua_pushnumber(L, gflops);
    return 1;
}

static int l_clock(lua_State *L)
{
    lua_pushnumber(L, vae_now_seconds());
    return 1;
}

static const luaL_Reg matrix_methods[] = {
    { "get", m_get }, { "set", m_set }, { "rows", m_rows }, { "cols", m_cols },
    { "totable", m_totable }, { "col", m_col }, { "rowslice", m_rowslice },
    { "close", m_close }, { NULL, NULL }
};

static const luaL_Reg images_methods[] = {
    { "rows", i_rows }, { "cols", i_cols }, { "height", i_height }, { "width", i_width },
    { "get", i_get }, { "subset", i_subset }, { "tomatrix", i_tomatrix }, { "close", i_close },
    { NULL, NULL }
};

static const luaL_Reg model_methods[] = {
    { "fit", mo_fit }, { "evaluate", mo_evaluate }, { "encode", mo_encode },
    { "decode", mo_decode }, { "reconstruct", mo_reconstruct }, { "sample", mo_sample },
    { "log_likelihood", mo_log_likelihood }, { "info", mo_info }, { "close", mo_close },
    { NULL, NULL }
};

static void new_class(lua_State *L, const char *name, const luaL_Reg *methods,
                      lua_CFunction gc, lua_CFunction tostring)
{
    luaL_newmetatable(L, name);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
}

int luaopen_vae(lua_State *L)
{
    new_class(L, MATRIX_MT, matrix_methods, m_close, m_tostring);
    new_class(L, MODEL_MT, model_methods, mo_close, mo_tostring);
    new_class(L, IMAGES_MT, images_methods, i_close, i_tostring);
    static const luaL_Reg fns[] = {
        { "model", l_model }, { "matrix", l_matrix }, { "backends", l_backends },
        { "clock", l_clock }, { "isatty", l_isatty }, { NULL, NULL }
    };
    luaL_newlib(L, fns);
    lua_newtable(L);
    lua_pushcfunction(L, l_scurve);
    lua_setfield(L, -2, "scurve");
    lua_pushcfunction(L, l_uniform);
    lua_setfield(L, -2, "uniform");
    lua_pushcfunction(L, l_idx_images);
    lua_setfield(L, -2, "idx_images");
    lua_pushcfunction(L, l_idx_labels);
    lua_setfield(L, -2, "idx_labels");
    lua_setfield(L, -2, "data");
    static const luaL_Reg bench[] = {
        { "dense", l_bench_dense }, { "step", l_bench_step }, { "peak", l_bench_peak },
        { NULL, NULL }
    };
    luaL_newlib(L, bench);
    lua_setfield(L, -2, "bench");
    lua_pushliteral(L, "0.1");
    lua_setfield(L, -2, "version");
    return 1;
}
