/* Strict option tables: an unknown key, a wrong type or a bad value raises an
 * error naming the caller, the key and what is allowed (never a warning). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../harness/model.h"
#include "binding.h"

void check_keys(lua_State *L, int idx, const char *what, const char *const *allowed)
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

lua_Integer opt_int(lua_State *L, int idx, const char *what, const char *key, lua_Integer def,
                    lua_Integer lo, lua_Integer hi)
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

double opt_num(lua_State *L, int idx, const char *what, const char *key, double def, double lo,
               int lo_open, double hi, int hi_open)
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

int opt_bool(lua_State *L, int idx, const char *what, const char *key, int def)
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

int check_name(lua_State *L, const char *what, const char *key, const char *name,
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

const char *opt_str(lua_State *L, int idx, const char *what, const char *key, const char *def)
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

int parse_act(lua_State *L, const char *what, const char *key, const char *name)
{
    return check_name(L, what, key, name, vae_act_names, VAE_ACT_COUNT, vae_act_parse(name));
}
