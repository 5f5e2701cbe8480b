-- Lua tests of the binding: the API, and bad configs that must raise clear
-- errors (naming the key and the allowed values) without crashing.
-- usage: lua tests/test_lua.lua [path/to/vae.so]
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local tap = require "tap"
local test, raises = tap.test, tap.raises
local so = arg[1] or "./vae.so"
local loader = assert(package.loadlib(so, "luaopen_vae"))
local vae = loader()

local base = { input = 2, latent = 1, hidden = { 8 } }
local function with(changes)
  local c = {}
  for k, v in pairs(base) do c[k] = v end
  for k, v in pairs(changes) do c[k] = v end
  return c
end

test("module surface", function()
  assert(type(vae.model) == "function" and type(vae.matrix) == "function")
  assert(type(vae.data.scurve) == "function")
  local bs = vae.backends()
  assert(#bs >= 1 and bs[#bs].name == "naive" and #bs[1].description > 0)
  assert(type(vae.clock()) == "number")
end)

test("matrices", function()
  local m = vae.matrix { { 1, 2, 3 }, { 4, 5, 6 } }
  assert(m:rows() == 2 and m:cols() == 3 and m:get(2, 3) == 6)
  m:set(1, 1, 9)
  assert(m:totable()[1][1] == 9 and m:col(2)[2] == 5)
  local s = m:subset(2, 2)
  assert(s:rows() == 1 and s:cols() == 3 and s:get(1, 1) == 4)
  s:set(1, 1, 7)
  assert(m:get(2, 1) == 4, "subset is a copy")
  assert(m:subset(2):rows() == 1 and m:subset():rows() == 2, "last defaults to the last row")
  raises(function() m:subset(0, 1) end, { "subset", "bad range 0..1 of 2 rows" })
  raises(function() m:subset(2, 3) end, { "bad range 2..3 of 2 rows" })
  raises(function() m:subset(2, 1) end, { "bad range 2..1" })
  raises(function() m:subset(1.5) end, { "number has no integer representation" })
  raises(function() m:get(3, 1) end, { "row out of range" })
  raises(function() vae.matrix { { 1, 2 }, { 3 } } end, { "row 2" })
  raises(function() vae.matrix { { 1, "x" } } end, { "row 1, column 2" })
  m:close()
  m:close() -- idempotent
  raises(function() m:rows() end, { "closed" })
  assert(tostring(vae.matrix(2, 2, 1.5)):find("2 x 2"))
end)

test("backends: preference order and usability", function()
  local bs = vae.backends()
  local rank = { avx2 = 1, onednn = 2, openblas = 3, naive = 4 }
  for i, b in ipairs(bs) do
    assert(rank[b.name], "a known backend: " .. b.name)
    if i > 1 then assert(rank[b.name] > rank[bs[i - 1].name], b.name .. " after " .. bs[i - 1].name) end
    local ok, why = vae.backend_usable(b.name)
    assert(ok == true and why == nil, b.name .. " listed, so usable")
  end
  assert(bs[#bs].name == "naive", "naive last")
  -- a built backend left out of the list is unusable, with a reason
  for name in pairs(rank) do
    local listed = false
    for _, b in ipairs(bs) do listed = listed or b.name == name end
    local ok, okv = pcall(vae.backend_usable, name)
    if ok and not listed then
      local usable, why = vae.backend_usable(name)
      assert(usable == false and type(why) == "string" and #why > 0, name .. ": false, why")
    end
    if not ok then assert(not listed and okv:find("unknown backend '" .. name .. "'"), okv) end
  end
  raises(function() vae.backend_usable("cuda") end, { "unknown backend 'cuda'", "naive" })
  raises(function() vae.backend_usable() end, { "string expected" })
end)

test("threads: process-level set and read back", function()
  local before = vae.threads()
  assert(math.type(before) == "integer" and before >= 0)
  vae.set_threads(2)
  assert(vae.threads() == 2)
  local m = assert(vae.model(with { backend = vae.backends()[1].name }))
  assert(m:fit(vae.data.scurve { n = 40 }, { epochs = 1, batch = 8 }), "trains after set_threads")
  m:close()
  vae.set_threads(0)
  assert(vae.threads() == 0, "0 = all cores")
  raises(function() vae.set_threads(-1) end, { "thread count", "0 = all cores" })
  raises(function() vae.set_threads(1.5) end, { "number has no integer representation" })
  assert(vae.threads() == 0, "a refused count changes nothing")
  vae.set_threads(before)
end)

test("s-curve data", function()
  local d = vae.data.scurve { n = 50, seed = 3 }
  assert(d.x:rows() == 50 and d.x:cols() == 2 and d.t:cols() == 1)
  local d2 = vae.data.scurve { n = 50, seed = 3 }
  assert(d.x:get(7, 2) == d2.x:get(7, 2), "same seed, same data")
  raises(function() vae.data.scurve { n = 0 } end, { "'n'" })
  raises(function() vae.data.scurve { size = 10 } end, { "unknown key 'size'", "allowed: n, seed" })
end)

test("fit, evaluate, encode, decode, sample, log_likelihood", function()
  local d = vae.data.scurve { n = 120, seed = 1 }
  local m = assert(vae.model(with { hidden = { 16 }, activation = "tanh", likelihood = "cbernoulli" }))
  local seen = 0
  local h = assert(m:fit(d, { epochs = 5, batch = 32, validation = d,
    on_epoch = function(rec) seen = seen + 1; assert(rec.epoch == seen) end }))
  assert(#h == 5 and seen == 5)
  for _, rec in ipairs(h) do
    assert(rec.loss and rec.val_loss and rec.recon and rec.kl and rec.seconds >= 0)
  end
  local ev = m:evaluate(d)
  assert(math.abs(ev.loss - (ev.recon + ev.kl)) < 1e-9)
  assert(m:evaluate(d).loss == ev.loss, "evaluation is repeatable")
  local mu, sigma = m:encode(d)
  assert(mu:rows() == 120 and mu:cols() == 1 and sigma:get(1, 1) > 0)
  assert(m:decode(mu):cols() == 2 and m:reconstruct(d):rows() == 120)
  local s = m:sample(7)
  assert(s:rows() == 7 and s:get(1, 1) > 0 and s:get(1, 1) < 1)
  local lp = m:log_likelihood(d, 8)
  assert(lp > -ev.loss - 1, "IWAE k=8 is near or above the ELBO")
  assert(m:info().params > 0 and m:info().normalised)
  -- on_epoch returning false stops early; epochs are counted over the model's
  -- life (a second fit continues the first)
  local calls = 0
  h = m:fit(d, { epochs = 10, on_epoch = function() calls = calls + 1; return calls < 3 end })
  assert(#h == 3 and h[1].epoch == 6 and h[3].epoch == 8, tostring(h[1].epoch))
  -- full batch
  assert(m:fit(d, { epochs = 1, batch = "full" }))
  m:close()
  raises(function() m:fit(d) end, { "closed" })
end)

test("nil options and closing inside on_epoch", function()
  local d = vae.data.scurve(nil)
  local m = vae.model(base)
  assert(m:fit(d, nil))
  -- the model and the data are busy for the whole fit: closing them is refused
  raises(function()
    m:fit(d, { epochs = 3, on_epoch = function() m:close() end })
  end, { "cannot close a model" })
  local m2 = vae.model(base)
  raises(function()
    m2:fit(d, { epochs = 3, validation = d, on_epoch = function() d.x:close() end })
  end, { "cannot close a matrix" })
  raises(function() m2:fit(d, { on_epoch = function() error("epoch boom") end }) end, { "epoch boom" })
  assert(m2:fit(d, { epochs = 1 }), "not left busy after a callback raised")
end)

test("same seed gives the same numbers", function()
  local d = vae.data.scurve { n = 64, seed = 2 }
  local a = vae.model(with { seed = 5, dropout = 0.1 }):fit(d, { epochs = 3 })
  local b = vae.model(with { seed = 5, dropout = 0.1 }):fit(d, { epochs = 3 })
  assert(a[3].loss == b[3].loss)
end)

test("shared variance and learned noise expose their values", function()
  local m = assert(vae.model(with { head = "shared", posterior_var = 1e-6,
    likelihood = "gaussian_learned", noise_var = 0.01, output = "none", samples = 3 }))
  local info = m:info()
  assert(math.abs(info.posterior_var - 1e-6) < 1e-9 and math.abs(info.noise_var - 0.01) < 1e-6)
  assert(m:fit(vae.data.scurve { n = 100 }, { epochs = 2, batch = "full", lr = 1e-2 }))
end)

test("mse is not a normalised likelihood", function()
  local m = vae.model(with { likelihood = "mse", output = "none" })
  assert(m:info().normalised == false)
  raises(function() m:log_likelihood(vae.data.scurve { n = 10 }, 4) end, { "not a normalised" })
end)

test("data errors", function()
  local m = vae.model(base)
  local bad = vae.matrix { { 0.5, 0 / 0 } }
  raises(function() m:evaluate(bad) end, { "row 1, column 2", "not finite" })
  raises(function() m:fit(vae.matrix(4, 3)) end, { "3 columns", "input is 2" })
  raises(function() m:fit("data") end, { "matrix, images or data set expected" })
  raises(function() m:decode(vae.matrix(3, 5)) end, { "latent" })
end)

-- Each bad config must raise an error naming the key (and, for names, the allowed values).
local bad_configs = {
  { "unknown key", { input = 2, latent = 1, hiden = { 3 } }, { "unknown key 'hiden'", "allowed:" } },
  { "missing input", { latent = 1 }, { "'input' is required" } },
  { "missing latent", { input = 2 }, { "'latent' is required" } },
  { "negative width", with { hidden = { 8, -3 } }, { "key 'hidden'", "item 2", "[1, 1000000]" } },
  { "width not a number", with { hidden = { "wide" } }, { "'hidden'[1]" } },
  { "hidden not a list", with { hidden = 8 }, { "'hidden'", "list of widths" } },
  { "fractional latent", with { latent = 1.5 }, { "'latent'", "integer" } },
  { "dropout 1", with { dropout = 1 }, { "'dropout'", "[0, 1)" } },
  { "dropout negative", with { dropout = -0.1 }, { "'dropout'" } },
  { "unknown activation", with { activation = "swish" }, { "'activation'", "'swish'", "relu", "softplus" } },
  { "activation count", with { hidden = { 4, 4 }, activation = { "relu", "tanh", "elu" } }, { "'activation'", "3 activations for 2 hidden layers" } },
  { "head stack width zero", with { mean_hidden = { 0 } }, { "key 'mean_hidden'", "item 1" } },
  { "shared head with layers", with { head = "shared", var_hidden = { 4 } }, { "key 'var_hidden'", "shared" } },
  { "threads is process-level", with { threads = 2 }, { "unknown key 'threads'" } },
  { "width as a string", with { latent = "2" }, { "'latent'", "must be an integer", "got string" } },
  { "unknown likelihood", with { likelihood = "poisson" }, { "'likelihood'", "bernoulli", "gaussian_logvar" } },
  { "unknown backend", with { backend = "cuda" }, { "'backend'", "cuda", "naive" } },
  { "unknown head", with { head = "diag" }, { "'head'", "logvar", "shared" } },
  { "unknown output", with { output = "softmax" }, { "'output'", "sigmoid" } },
  { "bernoulli without sigmoid", with { output = "tanh" }, { "output", "sigmoid" } },
  { "kl not boolean", with { kl = "yes" }, { "'kl'", "true or false" } },
  { "beta negative", with { beta = -1 }, { "'beta'" } },
  { "samples zero", with { samples = 0 }, { "'samples'" } },
  { "noise_var zero", with { likelihood = "gaussian", output = "none", noise_var = 0 }, { "'noise_var'" } },
  { "NaN beta", with { beta = 0 / 0 }, { "'beta'" } },
  { "unknown init", with { init = "he" }, { "'init'", "xavier", "pytorch" } },
  { "seed not a number", with { seed = "one" }, { "'seed'" } },
  { "config not a table", "input=2", { "table expected" } },
}
for _, case in ipairs(bad_configs) do
  test("bad config: " .. case[1], function()
    raises(function() vae.model(case[2]) end, case[3])
  end)
end

test("config as data: config_keys, config_set, config_text", function()
  local keys, byname = vae.config_keys(), {}
  for _, k in ipairs(keys) do
    assert(type(k.name) == "string" and #k.help > 5 and (k.section == "model" or k.section == "train"), k.name)
    byname[k.name] = k
  end
  assert(byname.latent.type == "integer" and byname.lr.section == "train" and byname.lr.default == "0.001")
  assert(byname.likelihood.values[1] == "bernoulli" and byname.activation.values)
  local t = {}
  assert(select(2, vae.config_set(t, "hidden=20,20")) == "model" and t.hidden[2] == 20)
  vae.config_set(t, "activation=tanh")
  vae.config_set(t, "kl=false")
  vae.config_set(t, "beta=0.5")
  local f = {}
  assert(select(2, vae.config_set(f, "batch=full")) == "train" and f.batch == "full")
  vae.config_set(f, "epochs=2")
  raises(function() vae.config_set(t, "hiden=3") end, { "unknown key 'hiden'", "allowed:" })
  raises(function() vae.config_set(t, "beta=lots") end, { "key 'beta'", "'lots'" })
  raises(function() vae.config_set(t, "beta") end, { "key=value" })
  t.input, t.latent = 2, 1
  t.output, t.likelihood = "linear", "mse"
  local m = assert(vae.model(t))
  local text = m:config_text()
  assert(text:find("^input=2 latent=1 hidden=20,20 activation=tanh,tanh ") and text:find(" kl=false "), text)
  assert(#assert(m:fit(vae.data.scurve { n = 30 }, f)) == 2)
  -- the text form builds the same model
  local u = {}
  for item in text:gmatch("%S+") do vae.config_set(u, item) end
  assert(vae.model(u):config_text() == text)
end)

local bad_fit = {
  { "unknown fit key", { epoch = 3 }, { "unknown key 'epoch'", "epochs" } },
  { "epochs zero", { epochs = 0 }, { "'epochs'" } },
  { "lr negative", { lr = -1 }, { "'lr'" } },
  { "batch word", { batch = "half" }, { "'batch'" } },
  { "on_epoch not a function", { on_epoch = 3 }, { "'on_epoch'", "function" } },
  { "model key in fit", { latent = 3 }, { "unknown key 'latent'", "validate_every" } },
  { "epochs as a string", { epochs = "3" }, { "'epochs'", "integer" } },
}
for _, case in ipairs(bad_fit) do
  test("bad fit option: " .. case[1], function()
    local m = vae.model(base)
    raises(function() m:fit(vae.data.scurve { n = 10 }, case[2]) end, case[3])
  end)
end

test("every backend listed, described and usable from a model", function()
  local names = {}
  for _, b in ipairs(vae.backends()) do
    assert(type(b.name) == "string" and #b.description > 10, "backend described")
    names[#names + 1] = b.name
    vae.set_threads(2)
    local m = assert(vae.model(with { backend = b.name }))
    local h = assert(m:fit(vae.data.scurve { n = 40 }, { epochs = 2, batch = 8 }))
    assert(#h == 2 and h[2].loss == h[2].loss, b.name .. " trains")
    assert(m:info().backend == b.name)
    m:close()
  end
  assert(names[#names] == "naive", "naive is listed last")
  raises(function() vae.model(with { backend = "cuda" }) end, { "backend", "cuda", "naive" })
  vae.set_threads(0)
end)

test("bench and uniform data bindings", function()
  local r = assert(vae.bench.dense { backend = "naive", batch = 4, n_in = 3, n_out = 5, activation = "tanh",
                                     repeats = 2, min_seconds = 0 })
  assert(r.ok and r.max_error == 0 and r.forward.median > 0 and r.data.min <= r.data.max)
  raises(function() vae.bench.dense { n_in = 3 } end, { "n_out" })
  raises(function() vae.bench.dense { n_in = 3, n_out = 2, activation = "gelu" } end, { "activation", "gelu" })
  raises(function() vae.bench.dense { n_in = 3, n_out = 2, repeat_count = 1 } end, { "repeat_count" })
  raises(function() vae.bench.peak { bits = 128 } end, { "bits" })
  local st = assert(vae.bench.step { layers = { { 4, 3, "tanh" }, { 3, 2 } }, repeats = 2 })
  assert(st.seconds > 0 and st.flops == 2 * 4 * 3 * 128 * 2 + 2 * 3 * 2 * 128 * 3)
  raises(function() vae.bench.step { layers = { { 4294967312, 16 } } } end, { "layers", "[1]", "widths" })
  raises(function() vae.bench.step { layers = { 5 } } end, { "layers", "[1]" })
  raises(function() vae.bench.step { layers = { { 4, 3, "swish" } } } end, { "layers", "swish" })
  local d = vae.data.uniform { rows = 5, cols = 3, seed = 2 }
  assert(d.x:rows() == 5 and d.x:cols() == 3 and d.x:get(5, 3) >= 0 and d.x:get(5, 3) < 1)
  raises(function() vae.data.uniform { rows = 0, cols = 3 } end, { "rows" })
end)

-- idx files crafted here: magic (0, 0, type, ndims), big-endian sizes, data.
local function idx_file(name, type_byte, dims, data_bytes)
  local path = tap.tmpdir() .. "/" .. name
  local f = assert(io.open(path, "wb"))
  f:write(string.char(0, 0, type_byte, #dims))
  for _, d in ipairs(dims) do f:write(string.pack(">I4", d)) end
  local bytes = {}
  for i = 1, data_bytes do bytes[i] = string.char((i - 1) % 256) end
  f:write(table.concat(bytes))
  f:close()
  return path
end

test("idx images and labels: loading, methods and clear errors", function()
  local p = idx_file("images", 8, { 6, 2, 3 }, 36)
  local im = assert(vae.data.idx_images(p))
  assert(im:rows() == 6 and im:cols() == 6 and im:height() == 2 and im:width() == 3)
  assert(im:get(2, 1) == 6 / 255 and im:get(6, 6) == 35 / 255)
  assert(tostring(im):find("6 x 2x3"))
  local sub = im:subset(2, 3)
  assert(sub:rows() == 2 and sub:get(1, 1) == 6 / 255)
  local m = im:tomatrix(6)
  assert(m:rows() == 1 and m:cols() == 6 and math.abs(m:get(1, 6) - 35 / 255) < 1e-7)
  raises(function() im:get(7, 1) end, { "image out of range" })
  raises(function() im:subset(4, 2) end, { "bad range" })
  local lp = idx_file("labels", 8, { 4 }, 4)
  local lab = assert(vae.data.idx_labels(lp))
  assert(#lab == 4 and lab[1] == 0 and lab[4] == 3)
  local cases = {
    { idx_file("trunc", 8, { 6, 2, 3 }, 35), "truncated" },
    { idx_file("over", 8, { 6, 2, 3 }, 40), "oversized" },
    { idx_file("count", 8, { 7, 2, 3 }, 36), "truncated" },
    { idx_file("zero", 8, { 0, 2, 3 }, 0), "zero images" },
    { idx_file("type", 13, { 6, 2, 3 }, 144), "32-bit float" },
    { lp, "1 dimension" },
    { "/nonexistent/x-idx3-ubyte", "cannot open" },
  }
  for _, c in ipairs(cases) do
    local v, err = vae.data.idx_images(c[1])
    assert(v == nil and err:find(c[2], 1, true) and err:find(c[1], 1, true),
      string.format("%s: got %s", c[2], tostring(err)))
  end
  local v, err = vae.data.idx_labels(p)
  assert(v == nil and err:find("3 dimensions"), tostring(err))
  for _, c in ipairs(cases) do os.remove(c[1]) end
  os.remove(p)
  os.remove(lp)
  im:close()
  im:close()
  raises(function() im:rows() end, { "closed" })
end)

test("byte images train and evaluate; binarize option; data set errors", function()
  local p = idx_file("train", 8, { 64, 4, 4 }, 64 * 16)
  local im = assert(vae.data.idx_images(p))
  os.remove(p)
  local m = assert(vae.model { input = 16, latent = 2, hidden = { 8 }, seed = 2 })
  local before = m:evaluate(im).loss
  for _, bin in ipairs { "none", "static", "dynamic" } do
    local h = assert(m:fit({ x = im, binarize = bin }, { epochs = 3, batch = 16, validation = im }))
    assert(#h == 3 and h[3].val_loss, bin)
  end
  assert(m:evaluate(im).loss < before)
  local mu = m:encode({ x = im, binarize = "static" })
  assert(mu:rows() == 64 and mu:cols() == 2)
  assert(m:reconstruct(im):cols() == 16)
  assert(m:log_likelihood({ x = im, binarize = "dynamic" }, 4) < 0)
  raises(function() m:fit({ x = im, binarize = "sometimes" }) end, { "binarize", "sometimes" })
  raises(function() m:fit({ x = "pixels" }) end, { "field 'x'" })
  -- fields are read raw: an __index that makes a new matrix on every read is not data
  local lazy = setmetatable({}, { __index = function() return vae.matrix(4, 16, 0.5) end })
  raises(function() m:fit(lazy) end, { "field 'x'" })
  local wide = vae.model { input = 17, latent = 2 }
  raises(function() wide:fit(im) end, { "16 columns", "17" })
  -- floats outside [0, 1] cannot be binarised
  raises(function() wide:fit({ x = vae.matrix(2, 17, 2.0), binarize = "static" }) end, { "[0, 1]" })
end)

test("on_batch: progress records, stopping, errors, no closing mid-epoch", function()
  local data = vae.data.scurve { n = 100 }
  local m = assert(vae.model(with { seed = 4 }))
  local seen = {}
  local h = assert(m:fit(data, { epochs = 2, batch = 32, on_batch = function(b) seen[#seen + 1] = b end }))
  assert(#h == 2 and #seen == 8, #seen)
  assert(seen[1].epoch == 1 and seen[1].step == 1 and seen[1].steps == 4 and seen[1].rows == 32)
  assert(seen[8].epoch == 2 and seen[8].rows == 100 and seen[8].loss == seen[8].loss)
  -- this model has trained 2 epochs: the next fit's second epoch is its fourth
  local r, err, partial = m:fit(data, { epochs = 3, batch = 32,
    on_batch = function(b) if b.epoch == 4 and b.step == 3 then return false end end })
  assert(r == nil and err:find("stopped at epoch 4, step 3") and #partial == 1, tostring(err))
  raises(function() m:fit(data, { on_batch = function() error("boom") end }) end, { "boom" })
  raises(function() m:fit(data, { on_batch = function() m:close() end }) end, { "cannot close a model" })
  raises(function() m:fit(data, { on_batch = function() data.x:close() end }) end, { "cannot close a matrix" })
  assert(m:fit(data, { epochs = 1 }), "the model still works after a callback raised")
  raises(function() m:fit(data, { on_batch = function() m:fit(data) end }) end, { "model is busy" })
  -- the data replaced and collected mid-epoch: fit keeps its own reference
  local tab = { x = vae.data.scurve { n = 100 }.x }
  assert(m:fit(tab, { epochs = 2, batch = 32, validation = { x = tab.x:subset(1, 50) },
    on_batch = function() tab.x = vae.matrix(100, 2, 0.5); collectgarbage(); collectgarbage() end }))
  assert(m:fit(data, { epochs = 1 }), "not left busy")
  raises(function() m:fit(data, { on_batch = 5 }) end, { "on_batch", "function" })
  -- log_likelihood's progress: every chunk, stopping, errors, no closing or nesting
  local big = vae.data.scurve { n = 1200 }
  local calls = {}
  local lp = m:log_likelihood(big, 3, function(done, rows) calls[#calls + 1] = { done, rows } end)
  assert(lp == lp and #calls == 3 and calls[1][1] == 500 and calls[3][1] == 1200 and calls[3][2] == 1200)
  assert(lp == m:log_likelihood(big, 3), "the same estimate without a callback")
  local none, msg = m:log_likelihood(big, 3, function() return false end)
  assert(none == nil and msg:find("stopped after 500 rows"), tostring(msg))
  raises(function() m:log_likelihood(big, 3, function() error("halt") end) end, { "halt" })
  raises(function() m:log_likelihood(big, 3, function() m:close() end) end, { "cannot close a model" })
  raises(function() m:log_likelihood(big, 3, function() m:fit(data) end) end, { "model is busy" })
  raises(function() m:log_likelihood(big, 3, 7) end, { "function expected" })
  m:close()
  assert(type(vae.isatty(1)) == "boolean")
end)

test("checkpoints: save, load, fit with checkpoint and resume", function()
  local dir = tap.tmpdir()
  local d = vae.data.scurve { n = 60, seed = 2 }
  local function mk() return vae.model { input = 2, latent = 1, hidden = { 6 }, dropout = 0.2, seed = 4 } end
  local a = mk()
  local ha = assert(a:fit(d, { epochs = 4, batch = 16, validation = d }))
  assert(a:save(dir .. "/a.ckpt"))
  local b, info = vae.load(dir .. "/a.ckpt")
  assert(b and info.state and info.epoch == 4, "loads with its state")
  assert(b:config_text() == a:config_text(), "the same config")
  assert(b:evaluate(d).loss == a:evaluate(d).loss, "the same parameters")
  -- 2 epochs with a checkpoint, then a resume to 4: the history and the model of an unbroken 4
  local path = dir .. "/fit.ckpt"
  local c = mk()
  assert(c:fit(d, { epochs = 2, batch = 16, validation = d, checkpoint = path }))
  local e = mk()
  local he = assert(e:fit(d, { epochs = 4, batch = 16, validation = d, checkpoint = path, resume = true }))
  assert(#he == 4, "the resumed history has every epoch (" .. #he .. ")")
  for i = 1, 4 do
    assert(he[i].epoch == i and he[i].loss == ha[i].loss and he[i].val_loss == ha[i].val_loss,
      "epoch " .. i .. " as in the unbroken run")
  end
  assert(e:evaluate(d).loss == a:evaluate(d).loss, "the same model at the end")
  -- failures are nil, message naming the file
  local m, err = vae.load(dir .. "/none.ckpt")
  assert(m == nil and err:find("none.ckpt", 1, true), err)
  local ok, serr = a:save(dir .. "/no/such/dir/x.ckpt")
  assert(ok == nil and serr:find("cannot create a temporary", 1, true), serr)
  local other = vae.model { input = 2, latent = 2, seed = 4 }
  local h, ferr = other:fit(d, { epochs = 1, checkpoint = path, resume = true })
  assert(h == nil and ferr:find("config mismatch", 1, true), ferr)
  raises(function() mk():fit(d, { checkpoint_every = 2 }) end, { "need key 'checkpoint'" })
  raises(function() mk():fit(d, { checkpoint = 5 }) end, { "key 'checkpoint'" })
end)

test("review fixes: mid-step calls refused, final progress errors kept, partial epochs, every noise model saves", function()
  local data = vae.data.scurve { n = 100 }
  local m = assert(vae.model(with { seed = 9 }))
  -- on_batch and on_progress run while C holds the model's buffers: computing refuses
  for _, call in ipairs {
    function() m:evaluate(data) end, function() m:encode(data) end,
    function() m:decode(vae.matrix(3, 1)) end, function() m:reconstruct(data) end,
    function() m:sample(2) end, function() m:save(tap.tmpdir() .. "/x.ckpt") end,
  } do
    raises(function() m:fit(data, { batch = 32, on_batch = call }) end, { "mid-step", "on_epoch may" })
  end
  raises(function() m:log_likelihood(vae.data.scurve { n = 600 }, 2, function() m:encode(data) end) end,
    { "encode", "mid-step" })
  -- ... and on_epoch may (between epochs nothing is held)
  local seen
  assert(m:fit(data, { epochs = 2, on_epoch = function() seen = m:evaluate(data).loss end }))
  assert(seen == seen, "evaluate from on_epoch")
  -- an error on log_likelihood's last progress call is raised, not lost
  raises(function()
    m:log_likelihood(data, 2, function(done, rows) if done == rows then error("last call") end end)
  end, { "last call" })
  -- an epoch stopped part-way leaves no exact resume point until an epoch completes
  local path = tap.tmpdir() .. "/partial.ckpt"
  local r = m:fit(data, { batch = 32, on_batch = function(b) if b.step == 2 then return false end end })
  assert(r == nil)
  raises(function() assert(m:save(path)) end, { "abandoned part-way" })
  assert(m:fit(data, { epochs = 1 }))
  assert(m:save(path))
  -- the factor model's noise models reload (their parameter counts agree with the loader's)
  for _, cfg in ipairs {
    { input = 5, latent = 1, hidden = { 4 }, output = "linear", likelihood = "gaussian_logvar_mean" },
    { input = 5, latent = 1, hidden = { 4 }, output = "linear", likelihood = "gaussian_learned", noise_per_feature = true },
    { input = 5, latent = 1, hidden = { 4 }, output = "linear", likelihood = "gaussian_logvar",
      decoder_var_hidden = { 3 }, mean_hidden = { 2 } },
  } do
    local a = assert(vae.model(cfg))
    assert(a:fit(vae.matrix(20, 5, 0.3), { epochs = 2, batch = 8 }))
    local p = tap.tmpdir() .. "/" .. cfg.likelihood .. ".ckpt"
    assert(a:save(p))
    local b = assert(vae.load(p))
    assert(b:config_text() == a:config_text() and b:info().params == a:info().params, cfg.likelihood)
  end
end)

tap.finish()
