-- Tests of the oil flow experiment: vae.data.table from Lua, the sha256 check,
-- the 1-NN error counter (a hand-made case, and the literature's figures on the
-- real files: raw 12-D 2, PCA 162), a short training run, and the script end to
-- end on the 100-point subset.
-- usage: lua tests/test_oilflow.lua [path/to/vae.so]
local root = (arg[0]:match("^(.*)/tests/[^/]*$") or ".")
package.path = root .. "/experiments/lib/?.lua;" .. root .. "/tests/?.lua;" .. package.path
local so = arg[1] or root .. "/vae.so"
package.loaded.vae = assert(package.loadlib(so, "luaopen_vae"))()
local vae = package.loaded.vae
local tap = require "tap"
local test, raises = tap.test, tap.raises
local experiment = require "experiment"
local stats = require "stats"
local oil = require "oilflow_data"

local lua = os.getenv("LUA") or "lua5.4"
local q = experiment.shell_quote
local tmp = tap.tmpdir()

local write, read, sh = tap.write, tap.read, tap.sh

test("vae.data.table: a matrix, or nil and a message naming file, line and column", function()
  local good = tmp .. "/good.txt"
  write(good, "1 2.5\r\n-3e-1 4\r\n\r\n")
  local m = assert(vae.data.table(good))
  assert(m:rows() == 2 and m:cols() == 2, tostring(m))
  assert(math.abs(m:get(2, 1) + 0.3) < 1e-7 and m:get(1, 2) == 2.5, m:get(2, 1))
  local bad = tmp .. "/bad.txt"
  write(bad, "1 2\n3 inf\n")
  local none, err = vae.data.table(bad)
  assert(none == nil and err:find(bad, 1, true) and err:find("line 2, column 3", 1, true), err)
  none, err = vae.data.table(tmp .. "/missing.txt")
  assert(none == nil and err:find("missing.txt", 1, true), err)
  raises(function() vae.data.table() end, { "string expected" })
end)

test("knn1_errors: a hand-made case, leave-one-out and against references", function()
  -- two tight pairs of class 1 and 2, and a class-2 point next to the class-1 pair
  local pts = { { 0, 0 }, { 0, 0.1 }, { 5, 5 }, { 5, 5.1 }, { 0.05, 0.3 } }
  local lab = { 1, 1, 2, 2, 2 }
  local n, wrong = stats.knn1_errors(pts, lab)
  -- point 5's nearest is point 2 (class 1): wrong; the others are right
  assert(n == 1 and wrong[1] == 5, n)
  -- against the references: (0.1, 0) is nearest (0, 0), right; (4, 4) nearest
  -- (5, 5) and (1, 1) nearest (0.05, 0.3), both class 2: wrong for class 1
  local m = stats.knn1_errors({ { 0.1, 0 }, { 4, 4 }, { 1, 1 } }, { 1, 1, 1 }, pts, lab)
  assert(m == 2, m)
  assert(stats.knn1_errors({ { 1 }, { 2 }, { 3 } }, { 1, 1, 1 }) == 0)
  assert(math.abs(stats.sd { 1, 2, 3, 4 } - math.sqrt(5 / 3)) < 1e-12)
end)

local train
test("the real files: sha256-checked; raw 12-D gives 2 errors and PCA to 2-D 162 (Lawrence's figures)", function()
  train = assert(oil.load(oil.dir(), "Trn", "all"))
  assert(train.x:rows() == 1000 and train.x:cols() == 12 and #train.labels == 1000)
  local counts = { 0, 0, 0 }
  for _, l in ipairs(train.labels) do counts[l] = counts[l] + 1 end
  assert(counts[1] == 343 and counts[2] == 316 and counts[3] == 341, table.concat(counts, " "))
  local X = train.x:totable()
  assert(stats.knn1_errors(X, train.labels) == 2)
  local pca = stats.pca2(X)
  assert(stats.knn1_errors(pca, train.labels) == 162)
  local sub = assert(oil.load(oil.dir(), "Trn", "100"))
  assert(sub.x:rows() == 100 and sub.x:get(1, 1) == train.x:get(808, 1)) -- oil_100 starts at row 807 (0-based)
end)

test("a changed file is refused naming it; --data reads another folder", function()
  local dir = tmp .. "/oil"
  experiment.mkdir(dir)
  for name in pairs(oil.sha256) do
    assert(os.execute("cp " .. q(oil.dir() .. "/" .. name) .. " " .. q(dir .. "/" .. name)))
  end
  assert(oil.load(dir, "Tst", "all"))
  local f = assert(io.open(dir .. "/DataTstLbls.txt", "ab"))
  f:write("\n")
  f:close()
  local none, err = oil.load(dir, "Tst", "all")
  assert(none == nil and err:find("DataTstLbls.txt is not the expected file", 1, true)
    and err:find("sha256", 1, true), err)
  none, err = oil.load(tmp .. "/nowhere", "Trn", "all")
  assert(none == nil and err:find("nowhere/DataTrn.txt", 1, true), err)
end)

test("100 iterations of the tutorial's model lower the loss and move the learned noise variance", function()
  local model = assert(vae.model { input = 12, latent = 2, hidden = { 50, 50 }, activation = "tanh",
    output = "linear", head = "shared", posterior_var = 1e-6, likelihood = "gaussian_learned",
    noise_var = 0.01, samples = 3, init = "xavier", init_magnitude = 3, seed = 1 })
  local h = assert(model:fit(train.x, { epochs = 100, batch = "full", lr = 1e-2 }))
  assert(h[100].loss < 0.5 * h[1].loss, h[1].loss .. " -> " .. h[100].loss)
  local info = model:info()
  assert(math.abs(info.noise_var - 0.01) > 1e-3, "noise variance " .. info.noise_var)
  assert(info.posterior_var > 1e-6, "posterior variance " .. info.posterior_var)
  model:close()
end)

test("the script end to end on --subset 100: tables, charts, exit 2 for a bad option", function()
  local script = q(root .. "/experiments/oilflow.lua")
  local out = tmp .. "/run it"
  local code, text = sh(lua .. " " .. script .. " --subset 100 --epochs 30 --seeds 2 --backend naive --out " .. q(out))
  assert(code == 0 and text:find("wrote " .. out .. "/", 1, true), text)
  local sm = read(out .. "/summary.tsv")
  local head, row = sm:match("\n(experiment\t[^\n]*)\n([^\n]*)\n$")
  local cols, vals = {}, {}
  for c in head:gmatch("[^\t]+") do cols[#cols + 1] = c end
  for v in (row .. "\t"):gmatch("([^\t]*)\t") do vals[#vals + 1] = v end
  local s = {}
  for i, c in ipairs(cols) do s[c] = vals[i] end
  assert(s.points == "100" and s.knn_errors_raw12 == "2" and s.knn_errors_pca2 == "20"
    and s.subset == "100" and s.epochs == "30" and s.seeds == "2" and tonumber(s.knn_errors_vae), row)
  local h = read(out .. "/history.tsv")
  assert(h:find("\tseconds\tnoise_var\tposterior_var\n", 1, true), h:sub(1, 400))
  assert(read(out .. "/seeds.tsv"):find("\nmean\t", 1, true))
  assert(select(2, read(out .. "/latent.tsv"):gsub("\n[-%d]", "")) == 100)
  for _, chart in ipairs { "loss", "latent", "latent_pca" } do
    local gp = read(out .. "/" .. chart .. ".gp")
    assert(gp and gp:find("^# experiment: oilflow"), chart)
  end
  assert(read(out .. "/latent.gp"):find("stratified", 1, true))
  code, text = sh(lua .. " " .. script .. " --subset 50")
  assert(code == 2 and text:find("--subset", 1, true) and text:find("all, 100", 1, true), text)
  code, text = sh(lua .. " " .. script .. " --config nope")
  assert(code == 2 and text:find("seed, best", 1, true), text)
  code, text = sh(lua .. " " .. script .. " --help")
  assert(code == 0 and text:find("MXFusion VAE tutorial", 1, true) and text:find("GTM 11", 1, true), text)
  code, text = sh(lua .. " " .. script .. " --epochs 1 --no-charts --quiet --data " .. q(tmp .. "/nowhere"))
  assert(code == 1 and text:find("nowhere/DataTrn.txt", 1, true), text)
end)

tap.finish()
