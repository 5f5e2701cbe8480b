/* Matrices, byte images and data sets: vae.matrix, vae.data.* (the s-curve and
 * uniform generators, the idx loaders, the float table reader) and how fit and friends read a data set. */
#include <stdlib.h>
#include <string.h>

#include "../harness/data.h"
#include "../harness/table.h"
#include "binding.h"

/* ---------- matrices ---------- */

vae_mat *push_matrix(lua_State *L, int rows, int cols)
{
    handle *u = push_handle(L, MATRIX_MT, NULL);
    if (!(u->ptr = vae_mat_new(rows, cols)))
        luaL_error(L, "out of memory for a %d x %d matrix", rows, cols);
    return u->ptr;
}

vae_mat *check_matrix(lua_State *L, int idx)
{
    return check_handle(L, idx, MATRIX_MT, "matrix is closed");
}

static vae_images *check_images(lua_State *L, int idx)
{
    return check_handle(L, idx, IMAGES_MT, "images are closed");
}

/* ---------- data sets ---------- */

/* Field `name` of the table at idx, without metamethods: a data set's fields are
 * read raw, so that reading one twice (check, then pin) gives the same object. */
static int raw_field(lua_State *L, int idx, const char *name)
{
    lua_pushstring(L, name);
    return lua_rawget(L, idx);
}

ldata check_data(lua_State *L, int idx)
{
    ldata r = { { 0, 0, NULL, NULL, VAE_BINARIZE_NONE }, NULL };
    idx = lua_absindex(L, idx);
    int holder = idx;
    if (lua_istable(L, idx)) {
        raw_field(L, idx, "x");
        holder = lua_gettop(L);
    }
    handle *um = luaL_testudata(L, holder, MATRIX_MT);
    handle *ui = um ? NULL : luaL_testudata(L, holder, IMAGES_MT);
    if (um && um->ptr) {
        r.d = vae_dataset_floats(um->ptr);
        r.busy = &um->busy;
    } else if (ui && ui->ptr) {
        const vae_images *im = ui->ptr;
        r.d = vae_dataset_bytes(im->px, im->n, im->height * im->width);
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

void pin_data(lua_State *L, int idx, int slot)
{
    if (lua_istable(L, idx)) raw_field(L, idx, "x");
    else lua_pushvalue(L, idx);
    lua_replace(L, slot);
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

/* Arguments 2 and 3: rows first..last of n (1-based, inclusive; first defaults
 * to 1, last to n); raises naming what and the range. `noun` names the rows. */
static void check_range(lua_State *L, int n, lua_Integer *a, lua_Integer *b, const char *what,
                        const char *noun)
{
    *a = luaL_optinteger(L, 2, 1);
    *b = luaL_optinteger(L, 3, n);
    if (*a < 1 || *b > n || *a > *b)
        luaL_error(L, "%s: bad range %I..%I of %d %s", what, *a, *b, n, noun);
}

/* m:subset(first [, last]) -> a new matrix of rows first..last (a copy) */
static int m_subset(lua_State *L)
{
    vae_mat *m = check_matrix(L, 1);
    lua_Integer a, b;
    check_range(L, m->rows, &a, &b, "subset", "rows");
    vae_mat *r = push_matrix(L, (int)(b - a + 1), m->cols);
    memcpy(r->v, m->v + (size_t)(a - 1) * m->cols, (size_t)r->rows * m->cols * sizeof(float));
    return 1;
}

static int m_close(lua_State *L)
{
    vae_mat_free(take_handle(L, 1, MATRIX_MT,
                             "cannot close a matrix while fit or log_likelihood is reading it"));
    return 0;
}

static int m_tostring(lua_State *L)
{
    const vae_mat *m = ((handle *)luaL_checkudata(L, 1, MATRIX_MT))->ptr;
    if (m) lua_pushfstring(L, "vae.matrix(%d x %d)", m->rows, m->cols);
    else lua_pushliteral(L, "vae.matrix(closed)");
    return 1;
}

/* ---------- byte images (idx files) ---------- */

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

/* im:subset(first [, last]) -> new images first..last (a copy) */
static int i_subset(lua_State *L)
{
    vae_images *im = check_images(L, 1);
    lua_Integer a, b;
    check_range(L, im->n, &a, &b, "subset", "images");
    size_t D = (size_t)im->height * im->width, n = (size_t)(b - a + 1);
    handle *u = push_handle(L, IMAGES_MT, NULL); /* first: cannot leak what follows */
    vae_images *r = malloc(sizeof *r);
    uint8_t *px = malloc(n * D);
    if (!r || !px) {
        free(r);
        free(px);
        return luaL_error(L, "subset: out of memory for %d images", (int)n);
    }
    memcpy(px, im->px + (size_t)(a - 1) * D, n * D);
    *r = (vae_images){ (int)n, im->height, im->width, px };
    u->ptr = r;
    return 1;
}

/* im:tomatrix([first [, last]]) -> a float matrix of those images, values in [0, 1] */
static int i_tomatrix(lua_State *L)
{
    vae_images *im = check_images(L, 1);
    lua_Integer a, b;
    check_range(L, im->n, &a, &b, "tomatrix", "images");
    int D = im->height * im->width;
    vae_mat *m = push_matrix(L, (int)(b - a + 1), D);
    vae_dataset d = vae_dataset_bytes(im->px, im->n, D);
    vae_dataset_read(&d, NULL, (int)(a - 1), m->rows, m->v, NULL);
    return 1;
}

static int i_close(lua_State *L)
{
    vae_images_free(take_handle(L, 1, IMAGES_MT,
                                "cannot close images while fit or log_likelihood is reading them"));
    return 0;
}

static int i_tostring(lua_State *L)
{
    const vae_images *im = ((handle *)luaL_checkudata(L, 1, IMAGES_MT))->ptr;
    if (im) lua_pushfstring(L, "vae.images(%d x %dx%d)", im->n, im->height, im->width);
    else lua_pushliteral(L, "vae.images(closed)");
    return 1;
}

/* ---------- generators and idx files ---------- */

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
    push_handle(L, MATRIX_MT, X); /* owns the matrix from now on */
    lua_setfield(L, -2, "x");
    push_handle(L, MATRIX_MT, T);
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
    push_handle(L, MATRIX_MT, X);
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
    handle *u = push_handle(L, IMAGES_MT, NULL); /* first: cannot leak the images */
    if (!(u->ptr = vae_idx_images(path, &err))) {
        lua_pushnil(L);
        lua_pushstring(L, err.msg);
        return 2;
    }
    return 1;
}

/* vae.data.table(path) -> a matrix of the whitespace-separated float table, or
 * nil, message naming the file, line and column of the first fault */
static int l_table(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    vae_error err;
    handle *u = push_handle(L, MATRIX_MT, NULL); /* first: cannot leak the matrix */
    if (!(u->ptr = vae_table_read(path, &err))) {
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

/* ---------- the nonlinear one-factor model (harness/data.h has the family) ---------- */

#define FACTOR_TRUTH_MT "vae.factor_truth"

static int ft_gc(lua_State *L)
{
    vae_factor_truth **t = luaL_checkudata(L, 1, FACTOR_TRUTH_MT);
    vae_factor_truth_free(*t);
    *t = NULL;
    return 0;
}

/* g(j, z): the noise-free g_j(z) of feature j (1-based); the truth is upvalue 1. */
static int ft_g(lua_State *L)
{
    vae_factor_truth *t = *(vae_factor_truth **)lua_touserdata(L, lua_upvalueindex(1));
    lua_Integer j = luaL_checkinteger(L, 1);
    double z = luaL_checknumber(L, 2);
    if (j < 1 || j > t->p) return luaL_argerror(L, 1, "feature index out of range");
    lua_pushnumber(L, vae_factor_g(t, (int)j - 1, z));
    return 1;
}

static const char *const factor_keys[] = { "n", "p", "seed", NULL };

/* vae.data.factor{n = 200, p = 100, seed = 1} -> {x = matrix n x p, z = matrix n x 1,
 * sigma = matrix 1 x p (the true noise sd), g = function(j, z) (j 1-based), name = "factor"} */
static int l_factor(lua_State *L)
{
    const char *W = "vae.data.factor";
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    check_keys(L, 1, W, factor_keys);
    int n = (int)opt_int(L, 1, W, "n", 200, 1, 100000000);
    int p = (int)opt_int(L, 1, W, "p", 100, 1, 1000000);
    uint64_t seed = (uint64_t)opt_int(L, 1, W, "seed", 1, 0, LUA_MAXINTEGER);
    vae_factor_truth **slot = lua_newuserdatauv(L, sizeof *slot, 0); /* 2 */
    *slot = NULL;
    if (luaL_newmetatable(L, FACTOR_TRUTH_MT)) {
        lua_pushcfunction(L, ft_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, 2);
    vae_mat *X, *Z;
    vae_error err;
    if (vae_factor(n, p, seed, &X, &Z, slot, &err)) return luaL_error(L, "%s", err.msg);
    lua_createtable(L, 0, 5);
    push_handle(L, MATRIX_MT, X);
    lua_setfield(L, -2, "x");
    push_handle(L, MATRIX_MT, Z);
    lua_setfield(L, -2, "z");
    vae_mat *S = push_matrix(L, 1, p);
    memcpy(S->v, (*slot)->sigma, (size_t)p * sizeof(float));
    lua_setfield(L, -2, "sigma");
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, ft_g, 1);
    lua_setfield(L, -2, "g");
    lua_pushliteral(L, "factor");
    lua_setfield(L, -2, "name");
    return 1;
}

static const luaL_Reg matrix_methods[] = {
    { "get", m_get }, { "set", m_set }, { "rows", m_rows }, { "cols", m_cols },
    { "totable", m_totable }, { "col", m_col }, { "subset", m_subset },
    { "close", m_close }, { NULL, NULL }
};

static const luaL_Reg images_methods[] = {
    { "rows", i_rows }, { "cols", i_cols }, { "height", i_height }, { "width", i_width },
    { "get", i_get }, { "subset", i_subset }, { "tomatrix", i_tomatrix }, { "close", i_close },
    { NULL, NULL }
};

void open_data(lua_State *L)
{
    new_class(L, MATRIX_MT, matrix_methods, m_close, m_tostring);
    new_class(L, IMAGES_MT, images_methods, i_close, i_tostring);
    lua_pushcfunction(L, l_matrix);
    lua_setfield(L, -2, "matrix");
    static const luaL_Reg data[] = {
        { "scurve", l_scurve }, { "uniform", l_uniform }, { "idx_images", l_idx_images },
        { "idx_labels", l_idx_labels }, { "table", l_table }, { NULL, NULL }
    };
    luaL_newlib(L, data);
    lua_pushcfunction(L, l_factor);
    lua_setfield(L, -2, "factor");
    lua_setfield(L, -2, "data");
}
