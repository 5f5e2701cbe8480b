/* Shared declarations of the Lua 5.4 binding (`local vae = require "vae"`), split
 * by what it binds: vae.c (the module, backends, threads, clock), options.c (strict
 * option tables), data.c (matrices, images, data sets, generators, idx files),
 * model.c (models, fit and its callbacks), bench.c (vae.bench.*). Only lua/
 * includes Lua headers; harness/ knows nothing of Lua.
 * Misuse raises; operational failures (an unusable backend, training that
 * diverged) return nil, message. */
#ifndef VAE_LUA_BINDING_H
#define VAE_LUA_BINDING_H

#include <lauxlib.h>
#include <lua.h>

#include "../harness/activation.h"
#include "../harness/dataset.h"
#include "../harness/mat.h"

#define MATRIX_MT "vae.matrix"
#define IMAGES_MT "vae.images"
#define MODEL_MT "vae.model"

/* ---------- userdata handles (vae.c) ---------- */

/* Every class's userdata: the C object it owns (NULL once closed) and `busy`, a
 * count of the fit and log_likelihood calls running over it, so that their
 * callbacks cannot close what the C loop is reading (close raises instead). */
typedef struct handle {
    void *ptr;
    int busy;
    int in_step; /* a model's on_batch or on_progress callback is running: the C loop
                    holds its buffers, so methods that compute refuse (lua/model.c) */
} handle;

/* A new userdata of class mt owning ptr (may be NULL, to be filled in after:
 * creating the userdata first means a memory error cannot leak the object). */
handle *push_handle(lua_State *L, const char *mt, void *ptr);
/* The object of the mt userdata at idx; raises `closed` (an argument error) once closed. */
void *check_handle(lua_State *L, int idx, const char *mt, const char *closed);
/* For close and __gc: takes the object out of the handle (NULL when already
 * closed) for the caller to free; raises `busy_msg` while it is busy. */
void *take_handle(lua_State *L, int idx, const char *mt, const char *busy_msg);
/* Metatable mt: methods in __index; __gc and __close are `close` (idempotent). */
void new_class(lua_State *L, const char *mt, const luaL_Reg *methods, lua_CFunction close,
               lua_CFunction tostring);

/* Each file adds its functions and classes to the module table on top of the stack. */
void open_data(lua_State *L);  /* vae.matrix, vae.data.*, matrices and images */
void open_model(lua_State *L); /* vae.model and models */
void open_bench(lua_State *L); /* vae.bench.* */
void open_config(lua_State *L); /* vae.config_keys, vae.config_set */

/* ---------- config tables (config.c) ---------- */

/* Sets every key of the table at idx into base (a vae_config or vae_train_opts,
 * as sec says) through the C key table; keys in extra (NULL-terminated, may be
 * NULL) are left to the caller. Raises naming the key: unknown, wrong Lua type,
 * bad value. */
void config_from_table(lua_State *L, int idx, int sec, void *base, const char *what,
                       const char *const *extra);

/* ---------- strict option tables (options.c) ----------
 * `what` names the caller in messages ("vae.model: key 'beta' must be ..."). */

/* Raises unless every key of the table at idx is in allowed (NULL-terminated). */
void check_keys(lua_State *L, int idx, const char *what, const char *const *allowed);
/* Field key of the table at idx, or def when absent; raises on a wrong type or range. */
lua_Integer opt_int(lua_State *L, int idx, const char *what, const char *key, lua_Integer def,
                    lua_Integer lo, lua_Integer hi);
/* lo_open/hi_open make the bound exclusive. */
double opt_num(lua_State *L, int idx, const char *what, const char *key, double def, double lo,
               int lo_open, double hi, int hi_open);
int opt_bool(lua_State *L, int idx, const char *what, const char *key, int def);
/* The string stays alive in the option table. */
const char *opt_str(lua_State *L, int idx, const char *what, const char *key, const char *def);
/* Returns parsed when >= 0, else raises naming the allowed values names[count]. */
int check_name(lua_State *L, const char *what, const char *key, const char *name,
               const char *const *names, int count, int parsed);
/* An activation name, or raises listing the allowed ones. */
int parse_act(lua_State *L, const char *what, const char *key, const char *name);

/* ---------- matrices and data sets (data.c) ---------- */

/* A new rows x cols matrix userdata (values uninitialised); raises when out of memory. */
vae_mat *push_matrix(lua_State *L, int rows, int cols);
vae_mat *check_matrix(lua_State *L, int idx);

/* What the model reads: a matrix, an images set, or a data set table with one
 * of them in field x and an optional binarize = "none" | "static" | "dynamic"
 * (read raw: no __index). busy points at the holder's flag. */
typedef struct ldata {
    vae_dataset d;
    int *busy;
} ldata;

ldata check_data(lua_State *L, int idx);
/* Pins the object that holds a data set's values (the matrix or images, found
 * directly or in field x of the table at idx) into stack slot `slot`, so that a
 * callback that reassigns the field cannot let the collector free it. */
void pin_data(lua_State *L, int idx, int slot);

#endif
