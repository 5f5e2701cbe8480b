/* vae.bench.*: the backends' dense ops checked against naive and timed, one
 * training step's products against raw library calls, and the FMA peak
 * (experiments/bench.lua, `make bench`). */
#include <unistd.h>

#include "../harness/bench.h"
#include "../harness/clock.h"
#include "binding.h"

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
    const vae_backend *be = vae_backend_find(name, &err);
    if (!vae_backend_named(name)) luaL_error(L, "%s: key 'backend': %s", what, err.msg);
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
 * FMA loop and the threads used (capped at the cores online), or nil, message
 * when the CPU lacks the instructions */
static int l_bench_peak(lua_State *L)
{
    const char *W = "vae.bench.peak";
    luaL_checktype(L, 1, LUA_TTABLE);
    check_keys(L, 1, W, peak_keys);
    const int bits = (int)opt_int(L, 1, W, "bits", 256, 256, 512);
    if (bits != 256 && bits != 512) return luaL_error(L, "%s: key 'bits': 256 or 512", W);
    int threads = (int)opt_int(L, 1, W, "threads", 1, 1, 1024);
    /* more threads than cores would time-share and overstate the peak: capped,
     * and the threads used are the second result */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores >= 1 && threads > cores) threads = (int)cores;
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
    lua_pushinteger(L, threads);
    return 2;
}

/* vae.bench.profile(true) zeroes and starts the step-phase profile (harness/clock.h);
 * vae.bench.profile(false) stops it; either returns the counters so far:
 * {dense_forward =, dense_backward =, adam = seconds, dense_calls =, adam_calls =} */
static int l_bench_profile(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TBOOLEAN);
    const vae_profile before = vae_profile_read();
    vae_profile_set(lua_toboolean(L, 1));
    lua_createtable(L, 0, 5);
    lua_pushnumber(L, before.dense_forward); lua_setfield(L, -2, "dense_forward");
    lua_pushnumber(L, before.dense_backward); lua_setfield(L, -2, "dense_backward");
    lua_pushnumber(L, before.adam); lua_setfield(L, -2, "adam");
    lua_pushinteger(L, before.dense_calls); lua_setfield(L, -2, "dense_calls");
    lua_pushinteger(L, before.adam_calls); lua_setfield(L, -2, "adam_calls");
    return 1;
}

void open_bench(lua_State *L)
{
    static const luaL_Reg bench[] = {
        { "dense", l_bench_dense }, { "step", l_bench_step }, { "peak", l_bench_peak },
        { "profile", l_bench_profile },
        { NULL, NULL }
    };
    luaL_newlib(L, bench);
    lua_setfield(L, -2, "bench");
}
