/* Config tables through the C key table (harness/config.h): vae.model{...} and
 * fit's options are read key by key into the C structs, so defaults, ranges and
 * messages live in one place; vae.config_keys() lists the keys and
 * vae.config_set(t, "key=value") parses a --set override into a Lua table. */
#include <stdio.h>
#include <string.h>

#include "../harness/config.h"
#include "binding.h"

/* The Lua value at idx as the key's text form (what vae_key_set reads), into buf;
 * raises naming the key when its Lua type is wrong. */
static void value_text(lua_State *L, int idx, const vae_key *k, const char *what, char *buf,
                       size_t len)
{
    const int t = lua_type(L, idx);
    const char *want = NULL;
    switch (k->type) {
    case VAE_KEY_INT:
    case VAE_KEY_SEED:
        if (t == LUA_TSTRING && k->zero_name && strcmp(lua_tostring(L, idx), k->zero_name) == 0) {
            snprintf(buf, len, "%s", k->zero_name);
        } else if (t == LUA_TNUMBER && lua_isinteger(L, idx)) {
            snprintf(buf, len, "%lld", (long long)lua_tointeger(L, idx));
        } else if (t == LUA_TNUMBER) {
            lua_Integer v = 0; /* an integral float (3.0) is the integer */
            if (!lua_numbertointeger(lua_tonumber(L, idx), &v) || (lua_Number)v != lua_tonumber(L, idx))
                luaL_error(L, "%s: key '%s' must be an integer (got a fraction)", what, k->name);
            snprintf(buf, len, "%lld", (long long)v);
        } else {
            want = k->zero_name ? "an integer or 'full'" : "an integer";
        }
        break;
    case VAE_KEY_NUM:
        if (t == LUA_TNUMBER) snprintf(buf, len, "%.17g", (double)lua_tonumber(L, idx));
        else want = "a number";
        break;
    case VAE_KEY_BOOL:
        if (t == LUA_TBOOLEAN) snprintf(buf, len, "%s", lua_toboolean(L, idx) ? "true" : "false");
        else want = "true or false";
        break;
    case VAE_KEY_NAME:
    case VAE_KEY_BACKEND:
        if (t == LUA_TSTRING) snprintf(buf, len, "%s", lua_tostring(L, idx));
        else want = "a name";
        break;
    case VAE_KEY_ACTS:
        if (t == LUA_TSTRING) {
            snprintf(buf, len, "%s", lua_tostring(L, idx));
            break;
        }
        __attribute__((fallthrough)); /* a list of names */
    case VAE_KEY_WIDTHS: {
        if (t != LUA_TTABLE) {
            want = k->type == VAE_KEY_WIDTHS ? "a list of widths" : "a name or a list of names";
            break;
        }
        lua_Integer n = luaL_len(L, idx);
        if (n > VAE_MAX_HIDDEN)
            luaL_error(L, "%s: key '%s' has %d layers (at most %d)", what, k->name, (int)n,
                       VAE_MAX_HIDDEN);
        size_t used = 0;
        buf[0] = 0;
        for (lua_Integer i = 1; i <= n; i++) {
            int it = lua_geti(L, idx, i), ok = 0;
            if (k->type == VAE_KEY_WIDTHS && it == LUA_TNUMBER && lua_isinteger(L, -1)) {
                used += (size_t)snprintf(buf + used, len - used, "%s%lld", i > 1 ? "," : "",
                                         (long long)lua_tointeger(L, -1));
                ok = 1;
            } else if (k->type == VAE_KEY_ACTS && it == LUA_TSTRING) {
                used += (size_t)snprintf(buf + used, len - used, "%s%s", i > 1 ? "," : "",
                                         lua_tostring(L, -1));
                ok = 1;
            }
            if (!ok)
                luaL_error(L, "%s: key '%s'[%d] must be %s (got %s)", what, k->name, (int)i,
                           k->type == VAE_KEY_WIDTHS ? "an integer width" : "a name",
                           luaL_typename(L, -1));
            lua_pop(L, 1);
            if (used >= len) luaL_error(L, "%s: key '%s' is too long", what, k->name);
        }
        break;
    }
    }
    if (want) luaL_error(L, "%s: key '%s' must be %s (got %s)", what, k->name, want, luaL_typename(L, idx));
}

/* Raises "what: unknown key 'k' (allowed: ...)" listing the section's keys and extra. */
static int unknown_key(lua_State *L, const char *what, const char *key, int sec,
                       const char *const *extra)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int n = 0;
    for (int i = 0; i < vae_key_count(); i++) {
        if ((int)vae_key_at(i)->section != sec) continue;
        if (n++) luaL_addstring(&b, ", ");
        luaL_addstring(&b, vae_key_at(i)->name);
    }
    for (int i = 0; extra && extra[i]; i++) {
        luaL_addstring(&b, ", ");
        luaL_addstring(&b, extra[i]);
    }
    luaL_pushresult(&b);
    return luaL_error(L, "%s: unknown key '%s' (allowed: %s)", what, key, lua_tostring(L, -1));
}

void config_from_table(lua_State *L, int idx, int sec, void *base, const char *what,
                       const char *const *extra)
{
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "%s: keys must be names (got a %s key)", what, luaL_typename(L, -2));
        const char *name = lua_tostring(L, -2);
        int is_extra = 0;
        for (int i = 0; extra && extra[i]; i++) is_extra = is_extra || strcmp(name, extra[i]) == 0;
        if (!is_extra) {
            const vae_key *k = vae_key_find(name);
            if (!k || (int)k->section != sec) unknown_key(L, what, name, sec, extra);
            char text[1024];
            vae_error err;
            value_text(L, -1, k, what, text, sizeof text);
            if (vae_key_set(k, base, text, &err)) luaL_error(L, "%s: %s", what, err.msg);
        }
        lua_pop(L, 1);
    }
}

/* vae.config_keys() -> {{name=, section=, type=, default=, help=, values=}, ...} */
static int l_config_keys(lua_State *L)
{
    lua_createtable(L, vae_key_count(), 0);
    for (int i = 0; i < vae_key_count(); i++) {
        const vae_key *k = vae_key_at(i);
        lua_createtable(L, 0, 6);
        lua_pushstring(L, k->name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, k->section == VAE_SECTION_MODEL ? "model" : "train");
        lua_setfield(L, -2, "section");
        lua_pushstring(L, vae_key_type_names[k->type]);
        lua_setfield(L, -2, "type");
        if (k->def) {
            lua_pushstring(L, k->def);
            lua_setfield(L, -2, "default");
        }
        lua_pushstring(L, k->help);
        lua_setfield(L, -2, "help");
        const char *const *names = k->type == VAE_KEY_ACTS ? vae_act_names : k->names;
        int n = k->type == VAE_KEY_ACTS ? VAE_ACT_COUNT : k->n_names;
        if (names) {
            lua_createtable(L, n, 0);
            for (int j = 0; j < n; j++) {
                lua_pushstring(L, names[j]);
                lua_rawseti(L, -2, j + 1);
            }
            lua_setfield(L, -2, "values");
        }
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* vae.config_set(t, "key=value") -> key, section: the text parsed with the key's
 * type and stored in t[key] as the Lua value vae.model or fit takes. */
static int l_config_set(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *text = luaL_checkstring(L, 2);
    vae_config c;
    vae_train_opts o;
    vae_config_default(&c);
    vae_train_opts_default(&o);
    vae_error err;
    if (vae_config_assign(&c, &o, text, &err)) return luaL_error(L, "%s", err.msg);
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(strchr(text, '=') - text), text);
    const vae_key *k = vae_key_find(name);
    const void *f = (const char *)(k->section == VAE_SECTION_MODEL ? (void *)&c : (void *)&o) + k->offset;
    switch (k->type) {
    case VAE_KEY_INT:
        if (k->zero_name && *(const int *)f == 0) lua_pushstring(L, k->zero_name);
        else lua_pushinteger(L, *(const int *)f);
        break;
    case VAE_KEY_SEED: lua_pushinteger(L, (lua_Integer) * (const uint64_t *)f); break;
    case VAE_KEY_NUM: lua_pushnumber(L, *(const float *)f); break;
    case VAE_KEY_BOOL: lua_pushboolean(L, *(const int *)f); break;
    case VAE_KEY_NAME: lua_pushstring(L, k->names[*(const int *)f]); break;
    case VAE_KEY_BACKEND: lua_pushstring(L, (*(const vae_backend *const *)f)->name); break;
    case VAE_KEY_WIDTHS:
    case VAE_KEY_ACTS: {
        const vae_stack *s = f;
        int n = k->type == VAE_KEY_WIDTHS ? s->n : s->n_act;
        lua_createtable(L, n, 0);
        for (int i = 0; i < n; i++) {
            if (k->type == VAE_KEY_WIDTHS) lua_pushinteger(L, s->width[i]);
            else lua_pushstring(L, vae_act_names[s->act[i]]);
            lua_rawseti(L, -2, i + 1);
        }
        break;
    }
    }
    lua_setfield(L, 1, k->name);
    lua_pushstring(L, k->name);
    lua_pushstring(L, k->section == VAE_SECTION_MODEL ? "model" : "train");
    return 2;
}

void open_config(lua_State *L)
{
    lua_pushcfunction(L, l_config_keys);
    lua_setfield(L, -2, "config_keys");
    lua_pushcfunction(L, l_config_set);
    lua_setfield(L, -2, "config_set");
}
