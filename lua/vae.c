/* The module: `local vae = require "vae"` (luaopen_vae), the userdata handle
 * every class uses, and the functions about the process rather than one object:
 * backends, threads, the clock. Each class has one metatable (methods in
 * __index, __gc = __close = the same idempotent close); lua/binding.h lists the
 * files and what each binds. */
#include <string.h>
#include <unistd.h>

#include "../harness/backend.h"
#include "../harness/clock.h"
#include "binding.h"

/* ---------- userdata handles ---------- */

handle *push_handle(lua_State *L, const char *mt, void *ptr)
{
    handle *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->ptr = ptr;
    u->busy = 0;
    u->in_step = 0;
    luaL_setmetatable(L, mt);
    return u;
}

void *check_handle(lua_State *L, int idx, const char *mt, const char *closed)
{
    handle *u = luaL_checkudata(L, idx, mt);
    if (!u->ptr) luaL_argerror(L, idx, closed);
    return u->ptr;
}

void *take_handle(lua_State *L, int idx, const char *mt, const char *busy_msg)
{
    handle *u = luaL_checkudata(L, idx, mt);
    if (u->busy) luaL_error(L, "%s", busy_msg);
    void *p = u->ptr;
    u->ptr = NULL;
    return p;
}

void new_class(lua_State *L, const char *mt, const luaL_Reg *methods, lua_CFunction close,
               lua_CFunction tostring)
{
    luaL_newmetatable(L, mt);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
}

/* ---------- backends, threads, clock ---------- */

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

/* vae.backend_usable(name [, precision]) -> true, or false, why: whether the
 * backend runs here (in that precision, "fp32" by default); an unknown name or
 * precision raises, listing the known ones */
static int l_backend_usable(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const vae_backend *be = vae_backend_named(name);
    if (!be) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (int i = 0; i < vae_backend_count(); i++) {
            if (i) luaL_addstring(&b, ", ");
            luaL_addstring(&b, vae_backend_at(i)->name);
        }
        luaL_pushresult(&b);
        return luaL_error(L, "vae.backend_usable: unknown backend '%s' (built: %s)", name,
                          lua_tostring(L, -1));
    }
    const char *prec = luaL_optstring(L, 2, "fp32");
    int p = 0;
    while (p < VAE_PREC_COUNT && strcmp(vae_precision_names[p], prec)) p++;
    if (p == VAE_PREC_COUNT)
        return luaL_error(L, "vae.backend_usable: unknown precision '%s' (fp32, bf16)", prec);
    char why[160] = "";
    int ok = vae_backend_precision_usable(be, (vae_precision)p, why, sizeof why);
    lua_pushboolean(L, ok);
    if (ok) return 1;
    lua_pushstring(L, why);
    return 2;
}

/* vae.set_threads(n): threads for every backend that has them, 0 = all cores.
 * Process-level: the backends keep one pool each. */
static int l_set_threads(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    if (n < 0 || n > 4096)
        return luaL_argerror(L, 1, "thread count must be in [0, 4096] (0 = all cores)");
    vae_set_threads((int)n);
    return 0;
}

/* vae.threads() -> the count last set with vae.set_threads (0 = all cores) */
static int l_threads(lua_State *L)
{
    lua_pushinteger(L, vae_threads());
    return 1;
}

/* vae.clock() -> monotonic seconds (harness/clock.c) */
static int l_clock(lua_State *L)
{
    lua_pushnumber(L, vae_now_seconds());
    return 1;
}

/* vae.isatty(fd) -> whether the descriptor (1 stdout, 2 stderr) is a terminal:
 * experiments draw a progress bar only there. */
static int l_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
    return 1;
}

int luaopen_vae(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "backends", l_backends }, { "backend_usable", l_backend_usable },
        { "set_threads", l_set_threads }, { "threads", l_threads }, { "clock", l_clock },
        { "isatty", l_isatty }, { NULL, NULL }
    };
    luaL_newlib(L, fns);
    open_data(L);
    open_model(L);
    open_config(L);
    open_bench(L);
    lua_pushliteral(L, "0.1");
    lua_setfield(L, -2, "version");
    return 1;
}
